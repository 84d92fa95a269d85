"""Opening a bundle: one verified manifest, and each file read and checked against it.

:func:`open_bundle` resolves the bundle path once (``registry/NAME/current`` becomes the version
it points to at that moment) and reads everything else below that directory without following a
link. The manifest must parse as one JSON object, carry the supported schema version and the
digest of its own content (:mod:`._digest`), and name only paths inside the bundle listed in
``files`` (:mod:`._paths`); ``verify`` also checks every file's sha256, and ``public_key`` its
signature (:mod:`._sign`).

:meth:`Bundle.read` checks the sha256 of the bytes it returns against *this* manifest, so a
reader never mixes files of two versions: a bundle replaced while it is read is a ChecksumError,
never one version's manifest with the other's model.

>>> bundle = open_bundle("churn.edgeml")                           # doctest: +SKIP
>>> bundle.read(bundle.spec.model_file)[:10]                       # doctest: +SKIP
b'tree\\nversi'
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from edgeml.bundle._digest import DIGEST, manifest_digest, parse_manifest
from edgeml.bundle._paths import MANIFEST, check_paths, read_member, safe_name
from edgeml.bundle._recover import recover
from edgeml.errors import BundleError, ChecksumError
from edgeml.spec.manifest import SCHEMA_VERSION, Manifest, check_version

__all__ = ["SCHEMA_VERSION", "Bundle", "open_bundle", "read_bundle_files", "read_manifest"]


@dataclass(frozen=True, kw_only=True)
class Bundle:
    """An opened bundle: ``path`` as given (for messages), ``root`` the directory read,
    ``manifest`` the parsed JSON object and ``files`` its checksums."""

    path: Path
    root: Path
    manifest: dict[str, Any]
    files: dict[str, str]
    manifest_bytes: bytes = field(repr=False)

    @cached_property
    def spec(self) -> Manifest:
        """The manifest, typed (:class:`edgeml.spec.manifest.Manifest`); a model's manifest is
        checked when the bundle is opened, so this raises only for a bundle without a task."""
        return Manifest.from_dict(self.manifest, where=str(self.path))

    def read(self, name: str) -> bytes:
        """The bytes of ``name``, a file listed in the manifest, checked against its sha256."""
        safe_name(name, where=str(self.path))
        expected = self.files.get(name)
        if expected is None:
            raise BundleError(f"{self.path}: {name!r} is not listed in the manifest's files")
        data = _member(self.root, name, self.path)
        if hashlib.sha256(data).hexdigest() != expected:
            raise ChecksumError(
                f"{self.path}: {name} changed after the bundle was written (sha256 mismatch)"
            )
        return data

    def copy_to(self, destination: Path) -> None:
        """Write this bundle's verified files and its manifest, byte for byte (a signature stays
        valid), into the new directory ``destination``; each file fsynced."""
        destination.mkdir(parents=True)
        for name in [*self.files, MANIFEST]:
            content = self.manifest_bytes if name == MANIFEST else self.read(name)
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())


def open_bundle(path: str | Path, *, verify: bool = True, public_key: Any = None) -> Bundle:
    """Open and check a bundle (see the module docstring); BundleError and its subclasses name
    the bundle and what is wrong.

    >>> open_bundle("churn.edgeml", public_key="team.key.pub").spec.task  # doctest: +SKIP
    'binary'
    """
    path = Path(path)
    root = Path(os.path.realpath(path))
    if not root.is_dir():
        recover(path)  # a replacement killed half-way leaves the bundle under a hidden name
        root = Path(os.path.realpath(path))
    if not (root / MANIFEST).is_file() and not (root / MANIFEST).is_symlink():
        raise BundleError(f"{path}: not an edgeml bundle (no {MANIFEST})")
    text = _member(root, MANIFEST, path)
    manifest = parse_manifest(text, where=str(path / MANIFEST))
    check_version(manifest, where=str(path))
    _check_digest(manifest, path)
    files = check_paths(manifest, where=str(path))
    bundle = Bundle(path=path, root=root, manifest=manifest, files=files, manifest_bytes=text)
    if "task" in manifest:  # a model's manifest: every section has the type its readers expect
        _ = bundle.spec
    if verify:
        for name in files:
            bundle.read(name)
    if public_key is not None:
        from edgeml.bundle._sign import verify_signature

        verify_signature(manifest, public_key, where=str(path))
    return bundle


def read_manifest(
    path: str | Path, *, verify: bool = True, public_key: Any = None
) -> dict[str, Any]:
    """A bundle's checked manifest (:func:`open_bundle`)."""
    return open_bundle(path, verify=verify, public_key=public_key).manifest


def read_bundle_files(path: str | Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A verified manifest and the bytes of every file it lists, to rewrite a bundle with more."""
    bundle = open_bundle(path, verify=False)
    return bundle.manifest, {name: bundle.read(name) for name in bundle.files}


def _check_digest(manifest: dict[str, Any], path: Path) -> None:
    stored = manifest.get(DIGEST)
    try:
        actual = manifest_digest(manifest)
    except (ValueError, TypeError, RecursionError) as exc:
        raise BundleError(f"{path}: {MANIFEST} cannot be digested ({exc})") from None
    if stored is None:
        raise ChecksumError(f"{path}: {MANIFEST} has no digest; the bundle cannot be checked")
    if stored != actual:
        raise ChecksumError(
            f"{path}: {MANIFEST} changed after the bundle was written (digest mismatch)"
        )


def _member(root: Path, name: str, path: Path) -> bytes:
    try:
        return read_member(root, name)
    except FileNotFoundError:
        if name == MANIFEST:
            raise BundleError(f"{path}: not an edgeml bundle (no {MANIFEST})") from None
        raise ChecksumError(f"{path}: {name} is listed in the manifest but missing") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot read {name} ({exc.strerror or exc})") from None
