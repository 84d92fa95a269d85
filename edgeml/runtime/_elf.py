"""A shared library's ELF header checked before ``dlopen``, so a bad file is an error, not a crash.

``dlopen`` maps a library's segments as its headers describe them: a truncated file then dies
with SIGBUS when a page past its end is touched — the whole Python process, not an OSError.
Reading the ELF and program headers (a few struct reads; pyelftools would be a new dependency
for the device runtime) lets us refuse such a file, and a library for another architecture,
with a message that says which.

>>> check_library(Path("/bin/sh"))                             # doctest: +SKIP
Traceback (most recent call last):
edgeml.errors.ExportError: /bin/sh: an executable, not a shared library
"""

from __future__ import annotations

import platform
import struct
import sys
from pathlib import Path

from edgeml.errors import ExportError

__all__ = ["MACHINES", "check_image", "check_library"]

# e_machine values (ELF specification) of the architectures edgeml builds for.
MACHINES = {3: "i386", 40: "arm", 62: "x86_64", 183: "aarch64", 243: "riscv", 21: "ppc64"}
_HOST = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183, "i386": 3, "i686": 3,
         "riscv64": 243, "ppc64le": 21}  # fmt: skip
_ET_DYN, _PT_LOAD = 3, 1


def check_library(path: Path) -> None:
    """Raise ExportError unless ``path`` is a complete shared library for this machine."""
    check_image(path.read_bytes(), str(path))


def check_image(data: bytes, path: str) -> None:
    """Raise ExportError unless ``data`` is a complete shared library for this machine
    (``path`` names it in messages): the bytes that will be loaded, not a file re-read later."""
    if data[:4] != b"\x7fELF" or len(data) < 52:
        raise ExportError(f"{path}: not a shared library (no ELF header)")
    bits, order = {1: 32, 2: 64}.get(data[4], 0), {1: "<", 2: ">"}.get(data[5], "")
    if not bits or not order:
        raise ExportError(f"{path}: corrupted ELF header")
    e_type, e_machine = struct.unpack_from(order + "HH", data, 16)
    host = _HOST.get(platform.machine().lower())
    if platform.machine().lower().startswith("arm"):
        host = 40
    built = MACHINES.get(e_machine, f"machine {e_machine}")
    if host is not None and (e_machine != host or bits != struct.calcsize("P") * 8):
        raise ExportError(
            f"{path}: built for {built} ({bits}-bit), this machine is {platform.machine()}"
        )
    if (order == "<") != (sys.byteorder == "little"):
        raise ExportError(f"{path}: built for the other byte order")
    if e_type != _ET_DYN:
        raise ExportError(f"{path}: an executable or object file, not a shared library")
    word = "I" if bits == 32 else "Q"
    phoff, shoff = struct.unpack_from(order + word * 2, data, 28 if bits == 32 else 32)
    at = 42 if bits == 32 else 54
    phentsize, phnum, shentsize, shnum = struct.unpack_from(order + "HHHH", data, at)
    ends = [phoff + phentsize * phnum, shoff + shentsize * shnum]
    if ends[0] <= len(data):
        for k in range(phnum):
            header = phoff + k * phentsize
            if bits == 32:
                p_type, p_offset, _, _, p_filesz = struct.unpack_from(order + "5I", data, header)
            else:
                p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
                    order + "IIQQQQ", data, header
                )
            if p_type == _PT_LOAD:
                ends.append(p_offset + p_filesz)
    if max(ends) > len(data):
        raise ExportError(
            f"{path}: truncated ({len(data):,} bytes, its headers describe {max(ends):,})"
        )
