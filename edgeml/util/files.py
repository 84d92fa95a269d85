"""Small file helpers shared across stages: a whole file replaced at once, never half-written.

:func:`atomic_path` is the one atomic writer of a whole file: reports, exports and the
registry's records write through it. Whatever is written in steps (a batch prediction's output,
an export's directory) is staged beside its target and moved over it by :func:`replace_path`.
(Bundles are directories too, with crash recovery of their own: ``edgeml.bundle``.)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "discard_tree",
    "fsync_dir",
    "replace_path",
    "write_bytes_atomically",
    "write_text_atomically",
]


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
        replace_path(temp, out)
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


def replace_path(temp: Path, out: Path) -> None:
    """Move ``temp`` (a finished file or directory beside ``out``) over ``out``: one rename, or,
    where something that one rename cannot replace is in the way (a directory that is not empty,
    a file where a directory goes), that moved aside first and put back if the move fails.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "new").mkdir(); (root / "out").mkdir(); (root / "out" / "old.txt").touch()
    >>> replace_path(root / "new", root / "out")
    >>> sorted(p.name for p in root.iterdir()), list((root / "out").iterdir())
    (['out'], [])
    """
    in_the_way = out.exists() or out.is_symlink()
    directory = out.is_dir() and not out.is_symlink()
    if not in_the_way or not (temp.is_dir() or directory) or (directory and _empty(out)):
        os.replace(temp, out)  # rename(2) replaces a file, a link or an empty directory
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.replace(out, retired / "previous")
    try:
        os.replace(temp, out)
    except BaseException:
        os.replace(retired / "previous", out)
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)


def discard_tree(path: Path) -> None:
    """Remove the directory ``path`` for good, even while other processes (a cancelled Dask
    job's straggling tasks) are still creating files in it: it is renamed away first, so a
    file created through its old name afterwards fails instead of bringing it back, and a file
    created just before is inside what is removed.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "job").mkdir(); (root / "job" / "part").touch()
    >>> discard_tree(root / "job"); list(root.iterdir())
    []
    """
    gone = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.discarded")
    try:
        os.replace(path, gone)
    except FileNotFoundError:
        return
    shutil.rmtree(gone, ignore_errors=True)


def _empty(directory: Path) -> bool:
    return not any(directory.iterdir())


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
