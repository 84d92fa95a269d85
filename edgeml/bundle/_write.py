"""Writing a bundle atomically: built beside its destination, then swapped in (see
:mod:`._recover` for the steps and how a killed write is finished by the next one).

The manifest gains ``schema_version``, ``files`` (the sha256 of every file), its ``digest`` and,
when a signing key is given, a ``signature``. A manifest that names a path outside the bundle or
not among its files is refused before anything is written, so edgeml never writes a bundle it
would refuse to read.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from edgeml.bundle._digest import DIGEST, SIGNATURE, manifest_digest
from edgeml.bundle._paths import MANIFEST, check_paths, safe_name
from edgeml.bundle._read import SCHEMA_VERSION
from edgeml.bundle._recover import ACTIVE, leftover_name, recover
from edgeml.errors import BundleError
from edgeml.util.files import fsync_dir

__all__ = ["write_bundle"]


def write_bundle(
    path: str | Path,
    manifest: dict[str, Any],
    files: dict[str, bytes],
    *,
    sign: str | Path | None = None,
) -> Path:
    """Atomically write a bundle directory; an existing bundle at ``path`` is replaced only once
    the new one is complete. ``sign``: an Ed25519 private key file (PEM) to sign it with.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "m.edgeml"
    >>> write_bundle(out, {"task": "binary"}, {"model.txt": b"tree"}).name
    'm.edgeml'
    """
    path = Path(path)
    recover(path)
    if path.is_symlink():
        raise BundleError(f"{path}: is a symbolic link; write the bundle directory itself")
    if path.exists() and not (path / MANIFEST).is_file():
        raise BundleError(f"{path}: exists and is not an edgeml bundle; refusing to overwrite it")
    text = _manifest_text(path, manifest, files, sign)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    staging = leftover_name(path, token, "tmp")
    ACTIVE.add(token)
    try:
        os.mkdir(staging, 0o700)
        for name, content in sorted(files.items()):
            _write_new(staging / name, content)
        _write_new(staging / MANIFEST, text.encode("utf-8"))
        for directory in sorted({(staging / n).parent for n in files}, reverse=True):
            fsync_dir(directory)
        _swap_into_place(staging, path, token)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        ACTIVE.discard(token)
    return path


def _manifest_text(
    path: Path, manifest: dict[str, Any], files: dict[str, bytes], sign: str | Path | None
) -> str:
    for name in files:
        safe_name(name, where=str(path))
    checksums = {name: hashlib.sha256(files[name]).hexdigest() for name in sorted(files)}
    body = {k: v for k, v in manifest.items() if k not in (DIGEST, SIGNATURE, "schema_version")}
    full = _finite({"schema_version": SCHEMA_VERSION, **body, "files": checksums})
    # Digested as it will be read back, so numpy values and floats are what a reader sees.
    stored = json.loads(json.dumps(full, allow_nan=False, default=_jsonable))
    check_paths(stored, where=str(path))
    stored[DIGEST] = manifest_digest(stored)
    if sign is not None:
        from edgeml.bundle._sign import sign_digest

        stored[SIGNATURE] = sign_digest(stored[DIGEST], sign)
    return json.dumps(stored, indent=2, allow_nan=False) + "\n"


def _write_new(file: Path, content: bytes) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    with open(file, "xb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _swap_into_place(staging: Path, path: Path, token: str) -> None:
    if not os.path.lexists(path):
        os.rename(staging, path)
        fsync_dir(path.parent)
        return
    retired = leftover_name(path, token, "old")
    os.rename(path, retired)
    try:
        os.rename(staging, path)
    except BaseException:
        os.rename(retired, path)
        raise
    fsync_dir(path.parent)
    shutil.rmtree(retired, ignore_errors=True)


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
        return _finite(value.tolist())
    raise TypeError(f"cannot store {type(value).__name__} in a manifest")
