"""The prediction log's WAL index (``LOG-shm``), watched so a file shrunk under the server cannot
kill it.

SQLite maps the ``-shm`` file into memory. If something truncates it while mapped (emptied, or
rewritten read-only by a tool or a careless ``cp``), the next touch of those pages is a SIGBUS:
the process dies at once, with nothing logged and no exception to catch. So the log keeps its
own read-write descriptor of the file SQLite mapped and, before every use of the database,
checks its size: a file smaller than seen before is extended back (its pages are then zeros,
which SQLite reads as an index to rebuild from the WAL, as after a crash), and the fault counted.

The descriptor stays open as long as the connection: closing any descriptor of a file drops
every POSIX lock the process holds on it, SQLite's included.

>>> guard = SharedMemoryGuard("/tmp/doctest.log.db")          # doctest: +SKIP
>>> guard.attach(); guard.check()                           # doctest: +SKIP
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

__all__ = ["SharedMemoryGuard"]


class SharedMemoryGuard:
    """Keeps the ``-shm`` file of ``database`` at least as large as SQLite has mapped it."""

    def __init__(self, database: str | Path) -> None:
        self.path = Path(f"{database}-shm")
        self.faults = 0
        self.last_fault: str | None = None
        self._fd: int | None = None
        self._size = 0
        self._lock = threading.Lock()

    def attach(self) -> None:
        """Open the ``-shm`` file SQLite has just mapped (call after each new connection)."""
        with self._lock:
            self._close()
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                return  # no -shm (not WAL) or not ours to write: nothing to guard
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                return
            self._fd = fd
            self._size = os.fstat(fd).st_size

    def check(self) -> str | None:
        """Restore a shrunk file before SQLite touches it; what was wrong, or None."""
        with self._lock:
            if self._fd is None:
                return None
            size = os.fstat(self._fd).st_size
            if size >= self._size:
                self._size = size
                return None
            try:
                os.ftruncate(self._fd, self._size)
            except OSError as exc:
                fault = f"{self.path} shrank to {size} bytes and cannot be restored ({exc})"
            else:
                fault = (
                    f"{self.path} shrank from {self._size} to {size} bytes under the server; "
                    "restored (SQLite rebuilds the index from the WAL)"
                )
            self.faults += 1
            self.last_fault = fault
            return fault

    def close(self) -> None:
        """Forget the file (after the connection using it is closed)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._size = 0
