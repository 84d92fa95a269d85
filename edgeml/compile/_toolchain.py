"""C toolchain: find the compiler for a target, compile in parallel, cache what was built.

The API is small and stable; other export backends (the TL2cgen library, the C package) use it:

- :func:`find_compiler` ``(target) -> Compiler``: ``host`` is ``cc`` (or ``gcc``); a GNU triple
  such as ``aarch64-linux-gnu`` or ``arm-linux-gnueabihf`` is ``<triple>-gcc``. A missing
  compiler raises :class:`~edgeml.errors.ToolchainError` naming the Debian package to install.
- :func:`compile_objects` ``(sources, out_dir, *, target, flags, jobs) -> [objects]`` and
  :func:`compile_shared` ``(sources, out, *, target, flags, jobs) -> out``: at most ``jobs``
  (default 2) compilers at a time, one per translation unit, so memory and time are bounded by
  how the sources are split; a failing unit raises :class:`~edgeml.errors.ExportError` with the
  compiler's message. A progress line with an estimate is shown when the compile is long.
- :func:`cache_key` ``(*parts) -> hex`` and :func:`cache_dir` ``() -> Path``: a content-addressed
  cache (``$EDGEML_CACHE`` or ``~/.cache/edgeml``), keyed by the sha256 of everything that
  determines the output (model text, target, flags, compiler, edgeml version), so exporting the
  same model again is instant. :func:`cached_build` wraps "look up, or build and store".

>>> find_compiler("host").command                      # doctest: +SKIP
'/usr/bin/cc'
>>> compile_shared(["model.c"], "model.so", target="host")   # doctest: +SKIP
PosixPath('model.so')
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from edgeml.compile._cache_staging import remove_stale, staging_prefix
from edgeml.errors import ConfigError, ExportError, ToolchainError
from edgeml.util.cache import cache_dir
from edgeml.util.progress import SILENT, Reporter

__all__ = [
    "DEFAULT_FLAGS",
    "HOST_COMPILER_HINT",
    "MAKE_HINT",
    "Compiler",
    "cache_dir",
    "cache_key",
    "cached_build",
    "compile_objects",
    "compile_shared",
    "estimate_seconds",
    "find_compiler",
]

# No -ffast-math: NaN must stay NaN and comparisons must be IEEE, or missing values and split
# thresholds stop matching LightGBM. -fvisibility=hidden keeps the library's symbol table to the
# entry points marked visible.
DEFAULT_FLAGS: tuple[str, ...] = ("-O2", "-fPIC", "-std=c99", "-fvisibility=hidden")
# Measured here: gcc -O2 compiles TL2cgen's generated code at about 110 KB of C per second and
# core (a 190 KB unit in 1.6 s, 77 MB of memory; a 770 KB unit in 10 s, 300 MB).
_BYTES_PER_SECOND = 110_000.0
_SHOW_PROGRESS_AFTER = 5.0  # seconds of estimated compile time
_TRIPLE = re.compile(r"^[a-z0-9_]+(-[a-z0-9_.]+){1,3}$")
# What provides a host C compiler on each kind of system edgeml is installed on (a wheel install
# has none by default; musl-dev brings Alpine's C library headers).
HOST_COMPILER_HINT = (
    "apt-get install gcc (Debian/Ubuntu), apk add gcc musl-dev (Alpine), "
    "brew install gcc or xcode-select --install (macOS)"
)
MAKE_HINT = "apt-get install make (Debian/Ubuntu), apk add make (Alpine), brew install make (macOS)"
_KNOWN_PACKAGES = {
    "aarch64-linux-gnu": "gcc-aarch64-linux-gnu",
    "arm-linux-gnueabihf": "gcc-arm-linux-gnueabihf",
}


@dataclass(frozen=True)
class Compiler:
    """A C compiler for one target: its command and the Debian package that provides it."""

    target: str
    command: str
    package: str

    @property
    def version(self) -> str:
        """The compiler's first ``--version`` line (part of every cache key)."""
        return _version(self.command)


def find_compiler(target: str = "host") -> Compiler:
    """The C compiler for ``target`` (``host`` or a GNU triple), or a ToolchainError saying what
    to install.

    >>> find_compiler("host").target
    'host'
    """
    if target == "host":
        for name in ("cc", "gcc"):
            found = shutil.which(name)
            if found:
                return Compiler(target=target, command=found, package="gcc")
        raise ToolchainError(f"no C compiler found (cc or gcc); install one: {HOST_COMPILER_HINT}")
    if not _TRIPLE.match(target):
        raise ConfigError(
            f"--target {target!r} is not a target; expected host or a GNU triple such as "
            "aarch64-linux-gnu or arm-linux-gnueabihf"
        )
    package = _KNOWN_PACKAGES.get(target, f"gcc-{target.replace('_', '-')}")
    found = shutil.which(f"{target}-gcc")
    if not found:
        raise ToolchainError(
            f"no C compiler for {target} ({target}-gcc not found); install it: "
            f"apt-get install {package} (Debian/Ubuntu)"
        )
    return Compiler(target=target, command=found, package=package)


def estimate_seconds(sources: Sequence[str | Path], *, jobs: int = 2) -> float:
    """Rough compile time of ``sources`` at -O2 on this kind of machine, from their sizes.

    Units run ``jobs`` at a time, so the estimate is the larger of the biggest unit and the
    total divided by ``jobs``.
    """
    sizes = [Path(s).stat().st_size for s in sources]
    if not sizes:
        return 0.0
    return max(max(sizes), sum(sizes) / max(1, jobs)) / _BYTES_PER_SECOND


def compile_objects(
    sources: Sequence[str | Path],
    out_dir: str | Path,
    *,
    target: str = "host",
    flags: Sequence[str] = DEFAULT_FLAGS,
    jobs: int = 2,
    reporter: Reporter = SILENT,
) -> list[Path]:
    """Compile each source to an object file in ``out_dir``, at most ``jobs`` at a time."""
    compiler = find_compiler(target)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(s) for s in sources]
    objects = [out / f"{i:04d}_{p.stem}.o" for i, p in enumerate(paths)]
    estimate = estimate_seconds(paths, jobs=jobs)
    loud = estimate >= _SHOW_PROGRESS_AFTER
    if loud:
        total = sum(p.stat().st_size for p in paths)
        reporter.status(
            f"compiling {len(paths)} translation units ({total / 1e6:.1f} MB of C) with "
            f"{jobs} jobs for {target}: about {estimate:.0f} s"
        )
    started = time.perf_counter()
    pending = list(zip(paths, objects, strict=True))
    running: list[tuple[Path, subprocess.Popen[bytes]]] = []
    done = 0
    try:
        while pending or running:
            while pending and len(running) < max(1, jobs):
                source, obj = pending.pop(0)
                command = [compiler.command, *flags, "-c", str(source), "-o", str(obj)]
                running.append((source, _start(command)))
            source, process = running.pop(0)
            _, stderr = process.communicate()
            if process.returncode != 0:
                raise ExportError(f"{compiler.command} failed on {source.name}: {_tail(stderr)}")
            done += 1
            if loud and done < len(paths) and done % max(1, len(paths) // 5) == 0:
                elapsed = time.perf_counter() - started
                left = elapsed / done * (len(paths) - done)
                reporter.status(f"compiled {done}/{len(paths)} units, about {left:.0f} s left")
    finally:
        for _, process in running:
            process.kill()
            process.wait()
    return objects


def compile_shared(
    sources: Sequence[str | Path],
    out: str | Path,
    *,
    target: str = "host",
    flags: Sequence[str] = DEFAULT_FLAGS,
    link_flags: Sequence[str] = ("-lm", "-pthread"),
    jobs: int = 2,
    reporter: Reporter = SILENT,
) -> Path:
    """Compile ``sources`` (in parallel) and link them into the shared library ``out``."""
    compiler = find_compiler(target)
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="edgeml-objects-") as scratch:
        objects = compile_objects(
            sources, scratch, target=target, flags=flags, jobs=jobs, reporter=reporter
        )
        command = [compiler.command, "-shared", *flags, "-o", str(out),
                   *map(str, objects), *link_flags]  # fmt: skip
        result = subprocess.run(command, capture_output=True, check=False)
        if result.returncode != 0:
            raise ExportError(
                f"{compiler.command} could not link {out.name}: {_tail(result.stderr)}"
            )
    return out


def cache_key(*parts: str | bytes) -> str:
    """sha256 over ``parts`` (length-prefixed, so no two part lists collide) and edgeml's version.

    >>> cache_key("model", "host") == cache_key("model", "host")
    True
    >>> cache_key("ab", "c") == cache_key("a", "bc")
    False
    """
    from edgeml import __version__

    digest = hashlib.sha256()
    for part in (__version__, *parts):
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def cached_build(key: str, build: Callable[[Path], None]) -> tuple[Path, bool]:
    """The cache entry ``key`` (a directory), built by ``build(directory)`` if it is not there.

    Returns the directory and whether it was a cache hit. The entry is built in a temporary
    sibling and renamed into place, so a crash never leaves half an entry.
    """
    root = cache_dir()
    entry = root / key[:2] / key
    if entry.is_dir():
        return entry, True
    remove_stale(root)  # what killed builds left (see _cache_staging)
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(key), dir=entry.parent))
    try:
        build(staging)
        try:
            os.replace(staging, entry)
        except OSError:  # another process stored the same entry first: theirs is as good
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return entry, False


@lru_cache(maxsize=8)
def _version(command: str) -> str:
    result = subprocess.run([command, "--version"], capture_output=True, text=True, check=False)
    return (result.stdout.splitlines() or ["unknown"])[0]


def _start(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _tail(stderr: bytes, lines: int = 8) -> str:
    text = stderr.decode(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) or "no message"
