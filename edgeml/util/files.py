"""Small file helpers shared across stages: a whole file replaced at once, never half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["fsync_dir", "write_bytes_atomically", "write_text_atomically"]


def write_text_atomically(out: str | Path, text: str, *, mode: int = 0o644) -> Path:
    """Write ``text`` to a temporary file beside ``out``, then rename it over ``out``.

    A reader sees the old file or the new one, never a mix; a crash leaves at most a hidden
    ``.NAME.*.tmp`` file. ``mode`` 0o644 because mkstemp makes files private and reports are
    meant to be shared.

    >>> import tempfile
    >>> path = write_text_atomically(Path(tempfile.mkdtemp()) / "report.html", "<p>hi</p>")
    >>> path.read_text()
    '<p>hi</p>'
    """
    return write_bytes_atomically(out, text.encode("utf-8"), mode=mode)


def write_bytes_atomically(out: str | Path, content: bytes, *, mode: int = 0o644) -> Path:
    """:func:`write_text_atomically` for bytes. A link at ``out`` is replaced, not followed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.chmod(temp, mode)
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return out


def fsync_dir(directory: str | Path) -> None:
    """Make renames in ``directory`` durable (a crash right after could otherwise undo them)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
