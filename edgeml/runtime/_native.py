"""Load a compiled library from bytes already verified, so the code that runs is the code hashed.

``dlopen`` takes a path. Hashing ``bundle/treelite/model.so`` and then opening that path leaves a
gap: the file can be swapped or rewritten in place between the two. Opening the file by fd and
loading ``/proc/self/fd/N`` does not close it either (the same inode can be rewritten). So the
caller reads the file once, checks those bytes (sha256 against the manifest, ELF headers), and
this module loads exactly those bytes:

- on Linux, from a ``memfd`` — an anonymous file only this process holds — sealed against any
  further write, shrink or grow before ``dlopen("/proc/self/fd/N")``;
- elsewhere (or without ``/proc``), from a fresh file in a private ``mkdtemp`` directory
  (mode 0700, random name), unlinked once loaded; the mapping keeps the bytes alive.

Libraries are kept by content hash: ctypes never unloads a library, so loading the same bytes
again (a server reloading the same bundle) returns the same handle instead of another copy. The
memfd stays open for the life of the process on purpose: glibc recognises an already loaded
library by its path string, so if fd N were closed and reused by another library,
``dlopen("/proc/self/fd/N")`` would silently return the first one.

The native export's CPython extension (a dict of row values to the engine in one call) is loaded
the same way, by :func:`load_extension`, as a module.

>>> lib = load_library(Path("model.so").read_bytes(), source="model.so")   # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

from edgeml.errors import ExportError
from edgeml.runtime._elf import check_image

__all__ = ["load_extension", "load_library"]

T = TypeVar("T")
_LOADED: dict[str, ctypes.CDLL] = {}
_MODULES: dict[str, ModuleType | None] = {}
_OPEN_FDS: list[int] = []
_LOCK = threading.Lock()


def load_library(data: bytes, *, source: str) -> ctypes.CDLL:
    """``data`` (a shared library's bytes, already verified by the caller) loaded with ctypes;
    ExportError if it is not a complete library for this machine or cannot be loaded."""
    check_image(data, source)
    key = hashlib.sha256(data).hexdigest()
    with _LOCK:
        if key not in _LOADED:
            try:
                _LOADED[key] = _from_memfd(data, key, ctypes.CDLL) or _from_private_file(
                    data, ctypes.CDLL
                )
            except OSError as exc:
                raise ExportError(f"{source}: cannot be loaded ({exc})") from None
        return _LOADED[key]


def load_extension(data: bytes, *, source: str, name: str) -> ModuleType | None:
    """``data`` (a CPython extension module's bytes, already verified by the caller) imported as
    the module ``name``; None if this Python cannot import it (the caller has another path).
    ExportError if it is not a complete library for this machine."""
    check_image(data, source)
    key = hashlib.sha256(data).hexdigest()

    def load(path: str) -> ModuleType:
        loader = importlib.machinery.ExtensionFileLoader(name, path)
        spec = importlib.util.spec_from_loader(name, loader)
        if spec is None:
            raise ImportError(f"no module spec for {path}")
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        return module

    with _LOCK:
        if key not in _MODULES:
            try:
                _MODULES[key] = _from_memfd(data, key, load) or _from_private_file(data, load)
            except (OSError, ImportError):
                _MODULES[key] = None
        return _MODULES[key]


def _from_memfd(data: bytes, key: str, load: Callable[[str], T]) -> T | None:
    create = getattr(os, "memfd_create", None)
    if create is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = create(f"edgeml-{key[:16]}", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    except OSError:
        return None
    try:
        _write_all(fd, data)
        import fcntl

        seals = ("F_SEAL_SEAL", "F_SEAL_SHRINK", "F_SEAL_GROW", "F_SEAL_WRITE")
        if hasattr(fcntl, "F_ADD_SEALS"):
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, sum(getattr(fcntl, s) for s in seals))
    except BaseException:
        os.close(fd)
        raise
    # Never closed from here on (see the module docstring), a failed load too: an extension
    # without its PyInit_ function is dlopen'ed before the import fails, and glibc would hand
    # that library to the next dlopen of the same /proc/self/fd/N path.
    _OPEN_FDS.append(fd)
    return load(f"/proc/self/fd/{fd}")


def _from_private_file(data: bytes, load: Callable[[str], T]) -> T:
    directory = tempfile.mkdtemp(prefix="edgeml-lib-")  # 0700: no one else can swap the file
    try:
        path = os.path.join(directory, "model.so")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o500)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        return load(path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
