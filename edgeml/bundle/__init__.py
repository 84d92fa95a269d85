"""Bundle read/write: a ``NAME.edgeml/`` directory with ``manifest.json`` and its files.

A bundle is a closed world (DESIGN.md, principle 6). The manifest records the sha256 of every
other file and a digest of its own content; every path it names is relative, inside the bundle
and listed in ``files`` (:mod:`._paths`); nothing below the bundle directory is read through a
symbolic link; a signature by an Ed25519 key can be added and required (:mod:`._sign`). Writing
is atomic and a replacement killed half-way is finished by the next open or write
(:mod:`._recover`).

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "m.edgeml"
>>> _ = write_bundle(out, {"note": "any JSON object"}, {"model.txt": b"tree"})
>>> read_manifest(out)["note"]
'any JSON object'
>>> open_bundle(out).read("model.txt")
b'tree'
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from edgeml.bundle._digest import manifest_digest
from edgeml.bundle._paths import MANIFEST, safe_name
from edgeml.bundle._read import (
    SCHEMA_VERSION,
    Bundle,
    open_bundle,
    read_bundle_files,
    read_manifest,
)
from edgeml.bundle._write import write_bundle

__all__ = [
    "MANIFEST",
    "SCHEMA_VERSION",
    "Bundle",
    "generate_keypair",
    "manifest_digest",
    "open_bundle",
    "read_bundle_files",
    "read_manifest",
    "safe_name",
    "sha256_file",
    "sign_bundle",
    "write_bundle",
]


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sign_bundle(path: str | Path, private_key: str | Path) -> Path:
    """Verify the bundle at ``path`` and rewrite it (atomically) signed with ``private_key``.

    >>> sign_bundle("churn.edgeml", "team.key")                        # doctest: +SKIP
    PosixPath('churn.edgeml')
    """
    manifest, files = read_bundle_files(path)
    return write_bundle(path, manifest, files, sign=private_key)


def generate_keypair(private_path: str | Path) -> tuple[Path, Path]:
    """Write a new Ed25519 signing key ``private_path`` (mode 0600) and its public key
    ``private_path.pub``; for ``edgeml export --sign`` and ``load(..., public_key=...)``.

    >>> generate_keypair("team.key")                                   # doctest: +SKIP
    (PosixPath('team.key'), PosixPath('team.key.pub'))
    """
    from edgeml.bundle._sign import generate_keypair as generate

    return generate(private_path)
