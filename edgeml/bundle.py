"""Bundle read/write: a ``NAME.edgeml/`` directory with ``manifest.json`` and its files.

The manifest records the sha256 of every other file; reading verifies each one and the schema
version. Writing is atomic: the bundle is built in a temporary sibling directory and renamed into
place, so an interrupted run leaves the previous bundle (or none), never half of one.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "m.edgeml"
>>> _ = write_bundle(out, {"task": "binary"}, {"model.txt": b"tree"})
>>> read_manifest(out)["task"]
'binary'
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from edgeml.errors import BundleError, ChecksumError, VersionError

__all__ = [
    "MANIFEST",
    "SCHEMA_VERSION",
    "read_bundle_files",
    "read_manifest",
    "sha256_file",
    "write_bundle",
]

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_bundle(path: str | Path, manifest: dict[str, Any], files: dict[str, bytes]) -> Path:
    """Atomically write a bundle directory; ``manifest`` gains ``schema_version`` and ``files``.

    An existing bundle at ``path`` is replaced only once the new one is complete.
    """
    path = Path(path)
    if path.exists() and not (path / MANIFEST).is_file():
        raise BundleError(f"{path}: exists and is not an edgeml bundle; refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        checksums = {}
        for name, content in sorted(files.items()):
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(content)
            checksums[name] = hashlib.sha256(content).hexdigest()
        full = _finite({"schema_version": SCHEMA_VERSION, **manifest, "files": checksums})
        text = json.dumps(full, indent=2, sort_keys=False, allow_nan=False, default=_jsonable)
        (staging / MANIFEST).write_text(text + "\n", encoding="utf-8")
        _fsync_dir(staging)
        _swap_into_place(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def read_manifest(path: str | Path, *, verify: bool = True) -> dict[str, Any]:
    """Read a bundle's manifest, checking its schema version and every file's sha256."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{path}: not an edgeml bundle (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{manifest_path}: not valid JSON ({exc})") from None
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version != SCHEMA_VERSION:
        raise VersionError(
            f"{path}: bundle schema version {version!r} is not supported; this edgeml reads "
            f"version {SCHEMA_VERSION} (re-train, or upgrade edgeml if the bundle is newer)"
        )
    if verify:
        for name, expected in manifest.get("files", {}).items():
            file = path / name
            if not file.is_file():
                raise ChecksumError(f"{path}: {name} is listed in the manifest but missing")
            if sha256_file(file) != expected:
                raise ChecksumError(
                    f"{path}: {name} changed after the bundle was written (sha256 mismatch)"
                )
    return manifest


def read_bundle_files(path: str | Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A verified manifest and the bytes of every file it lists, to rewrite a bundle with more."""
    path = Path(path)
    manifest = read_manifest(path)
    files = {name: (path / name).read_bytes() for name in manifest.get("files", {})}
    return manifest, files


def _swap_into_place(staging: Path, path: Path) -> None:
    if not path.exists():
        os.replace(staging, path)
        return
    # Directories cannot be replaced by one rename: move the old one aside first, then drop it.
    retired = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    os.replace(path, retired / "bundle")
    try:
        os.replace(staging, path)
    except BaseException:
        os.replace(retired / "bundle", path)
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)


def _fsync_dir(directory: Path) -> None:
    for file in directory.rglob("*"):
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: an undefined metric is stored as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays in a manifest become plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a manifest")
