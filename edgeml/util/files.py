"""Small file helpers shared across stages: a whole file replaced at once, never half-written.

:func:`atomic_path` is the one atomic writer: reports, exports, result tables and the
registry's records all write through it. (Bundles are directories: ``edgeml.bundle`` stages a
whole directory and renames it, with crash recovery of its own.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "fsync_dir", "write_bytes_atomically", "write_text_atomically"]


@contextmanager
def atomic_path(
    out: str | Path, *, mode: int = 0o644, prefix: str | None = None, durable: bool = False
) -> Iterator[Path]:
    """A temporary path beside ``out`` to write; renamed over ``out`` when the block ends, deleted
    if it raises.

    A reader sees the old file or the new one, never a mix; a crash leaves at most a hidden
    ``.NAME.*.tmp`` file (``prefix`` names it otherwise, for callers that sweep leftovers).
    ``mode`` 0o644 because mkstemp makes files private and outputs are meant to be shared.
    ``durable`` also fsyncs the file and the directory, so the rename survives a power cut.
    A link at ``out`` is replaced, not followed.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "rows.csv"
    >>> with atomic_path(out) as temp:
    ...     _ = temp.write_text("a\\n1\\n")
    >>> out.read_text()
    'a\\n1\\n'
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=prefix or f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        os.chmod(temp, mode)
        if durable:
            _fsync(temp)
        os.replace(temp, out)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(out.parent)


def write_text_atomically(out: str | Path, text: str, **options: Any) -> Path:
    """Write ``text`` to ``out`` through :func:`atomic_path` (``options`` are its own).

    >>> import tempfile
    >>> path = write_text_atomically(Path(tempfile.mkdtemp()) / "report.html", "<p>hi</p>")
    >>> path.read_text()
    '<p>hi</p>'
    """
    return write_bytes_atomically(out, text.encode("utf-8"), **options)


def write_bytes_atomically(out: str | Path, content: bytes, **options: Any) -> Path:
    """:func:`write_text_atomically` for bytes."""
    with atomic_path(out, **options) as temp:
        temp.write_bytes(content)
    return Path(out)


def fsync_dir(directory: str | Path) -> None:
    """Make renames in ``directory`` durable (a crash right after could otherwise undo them)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
