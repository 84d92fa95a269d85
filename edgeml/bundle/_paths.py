"""A bundle is a closed world: every path its manifest names stays inside it.

:func:`check_paths` is the one validator every reader goes through (it runs inside
:func:`edgeml.bundle.read_manifest`): ``files`` maps safe names to sha256 digests, and every
other path the manifest holds — ``model.file``, each backend's ``files``, ``library``,
``description``, ``file`` and ``tables`` — is a safe name listed in ``files``. A safe name is
relative,
normalised (no ``.``, ``..`` or empty part, no backslash or control character) and is not the
manifest itself.

:func:`read_member` reads one such file without following a symbolic link anywhere below the
bundle directory: each directory is opened relative to the previous one with ``O_NOFOLLOW``, so a
link planted as ``treelite/`` or ``model.txt`` is refused, not followed out of the bundle.

>>> safe_name("treelite/model.so", where="x")
'treelite/model.so'
>>> safe_name("../evil.so", where="x")
Traceback (most recent call last):
edgeml.errors.BundleError: x: '../evil.so' is not a path inside the bundle (relative, ...)
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from edgeml.errors import BundleError

__all__ = ["PATH_KEYS", "check_paths", "path_references", "read_member", "safe_name"]

MANIFEST = "manifest.json"
#: Keys of a ``backends`` entry whose value is one path in the bundle (``files``: a list of them).
PATH_KEYS = ("library", "description", "file", "tables")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_BAD_CHARACTER = re.compile(r"[\x00-\x1f\x7f\\]")
_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def safe_name(name: object, *, where: str) -> str:
    """``name`` if it is a normalised relative path inside a bundle, else BundleError."""
    parts = name.split("/") if isinstance(name, str) else []
    if (
        not parts
        or any(part in ("", ".", "..") for part in parts)
        or _BAD_CHARACTER.search(str(name))
        or name == MANIFEST
    ):
        raise BundleError(
            f"{where}: {name!r} is not a path inside the bundle (relative, normalised, "
            "no '..', listed in files)"
        )
    return str(name)


def path_references(manifest: Mapping[str, Any], *, where: str) -> Iterator[tuple[str, object]]:
    """Every ``(key, path)`` the manifest names besides ``files`` itself."""
    model = manifest.get("model")
    if isinstance(model, Mapping) and "file" in model:
        yield "model.file", model["file"]
    backends = manifest.get("backends", {})
    if not isinstance(backends, Mapping):
        raise BundleError(f"{where}: manifest 'backends' is not a table of exports")
    for backend, entry in backends.items():
        if not isinstance(entry, Mapping):
            raise BundleError(f"{where}: manifest backends.{backend} is not a table")
        for key in PATH_KEYS:
            if key in entry:
                yield f"backends.{backend}.{key}", entry[key]
        listed = entry.get("files", [])
        if not isinstance(listed, list):
            raise BundleError(f"{where}: manifest backends.{backend}.files is not a list of paths")
        for k, name in enumerate(listed):
            yield f"backends.{backend}.files[{k}]", name


def check_paths(manifest: Mapping[str, Any], *, where: str) -> dict[str, str]:
    """Validate ``files`` and every path the manifest names; the ``{name: sha256}`` table.

    ``where`` names the bundle in messages.
    """
    files = manifest.get("files", {})
    if not isinstance(files, Mapping):
        raise BundleError(f"{where}: manifest 'files' is not a table of name -> sha256")
    checked: dict[str, str] = {}
    for name, digest in files.items():
        safe_name(name, where=f"{where}: files")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise BundleError(f"{where}: files[{name!r}] is not a sha256 hex digest")
        checked[name] = digest
    for key, name in path_references(manifest, where=where):
        safe_name(name, where=f"{where}: manifest {key}")
        if name not in checked:
            raise BundleError(
                f"{where}: manifest {key} names {name!r}, which is not listed (and checksummed) "
                "in 'files'"
            )
    return checked


def read_member(root: Path, name: str) -> bytes:
    """The bytes of ``root/name``, a regular file reached without following any symlink.

    ``root`` itself may be a link (resolved once by the caller); nothing below it may be.
    """
    parts = name.split("/")
    directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for part in parts[:-1]:
            inner = _open(part, os.O_DIRECTORY, directory, root, name)
            os.close(directory)
            directory = inner
        # O_NONBLOCK: a FIFO planted under the file's name must not hang the reader.
        fd = _open(parts[-1], os.O_NONBLOCK, directory, root, name)
    finally:
        os.close(directory)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BundleError(f"{root}: {name} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)


def _open(part: str, flags: int, directory: int, root: Path, name: str) -> int:
    try:
        return os.open(part, _READ | flags, dir_fd=directory)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise BundleError(
                f"{root}: {name} is (or lies under) a symbolic link or not a directory; a "
                "bundle's files must be regular files inside it"
            ) from None
        raise BundleError(f"{root}: cannot read {name} ({exc.strerror})") from None
