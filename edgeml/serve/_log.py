"""The prediction log: every served row goes to SQLite from one writer thread, never in the way.

Requests only put rows on a bounded queue (``put_nowait``); a full queue drops the rows and counts
them. The writer inserts in batches; a locked database is retried for a while; a full one (the
``max_bytes`` cap or the disk) gives up its oldest fifth of rows once and retries; a failing one
(file deleted or unreadable) drops the batch, counts it and reopens the file, so the log heals
when the fault goes. A WAL index (``-shm``) shrunk under the server, which would kill it with a
SIGBUS, is restored before each use (:mod:`edgeml.serve._shm`) and counted as an error.
Retention keeps the newest ``max_rows`` rows (and at most ``max_bytes``).

>>> log = PredictionLog("/tmp/doctest.log.db", max_rows=1000)            # doctest: +SKIP
>>> log.append([("req-1", 0, 1.7e9, "v1", "treelite", 25.0, 1, "{}", "{}", 0.3)])  # doctest: +SKIP
>>> log.flush(); log.close()                                             # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from edgeml.monitor import connect_log
from edgeml.serve._shm import SharedMemoryGuard

__all__ = ["LogRow", "PredictionLog"]

#: request_id, row, ts, model_version, backend, latency_us, batch_size, inputs, outputs, score
LogRow = tuple[str, int, float, str, str, float, int, str, str, float | None]

_INSERT = (
    "INSERT OR IGNORE INTO predictions (request_id, row, ts, model_version, backend, latency_us,"
    " batch_size, inputs, outputs, score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_RETRIES = 5  # a locked database is retried this many times (busy timeout each) before dropping
_BATCH = 2000
_LINGER = 0.05  # seconds the writer waits for more rows before it commits


class PredictionLog:
    """An append-only, size-bounded SQLite log of predictions, written by a background thread."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_rows: int = 1_000_000,
        max_bytes: int | None = None,
        max_pending: int = 10_000,
    ) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.written = 0
        self.dropped = 0
        self.duplicates = 0
        self.errors = 0
        self.last_error: str | None = None
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=max_pending)
        self._connection: sqlite3.Connection | None = None
        self._inode: int | None = None
        self._shm = SharedMemoryGuard(self.path)
        self._since_trim = 0
        self._since_size = 0
        self._open()
        self._thread = threading.Thread(target=self._run, name="edgeml-log", daemon=True)
        self._thread.start()

    # -- request side: never blocks ------------------------------------------------------------

    def append(self, rows: list[LogRow]) -> None:
        """Queue ``rows`` for writing; if the queue is full they are dropped and counted."""
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            self.dropped += len(rows)

    def append_lazy(self, rows: Callable[[], list[LogRow]]) -> None:
        """Queue a function making the rows, so building them (JSON) happens off the request."""
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            self.dropped += 1  # the row count is unknown without building them; at least one

    def submit(self, job: Callable[[sqlite3.Connection], Any]) -> Future[Any]:
        """Run ``job(connection)`` on the writer thread after the rows queued before it."""
        future: Future[Any] = Future()
        try:
            self._queue.put_nowait(_Job(job, future))
        except queue.Full:
            future.set_exception(sqlite3.OperationalError("the prediction log queue is full"))
        return future

    def guard(self) -> None:
        """Make the WAL index safe to map before reading the log from another connection
        (a shrunk one is restored, counted in ``errors``); cheap: one ``fstat``."""
        fault = self._shm.check()
        if fault is not None:
            self.errors += 1
            self.last_error = fault

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written (or dropped)."""
        self.submit(lambda _: None).result(timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer and close the database."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
        self.guard()
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
            self._connection = None
        self._shm.close()

    # -- writer thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, _Job):
                self._run_job(item)
                continue
            batch = self._rows(item)
            # Linger a little so a busy server commits few, large transactions (a commit per
            # request cost more CPU than the request itself). Sleeping, not waiting on the
            # queue, so requests do not wake this thread (and take the GIL) one by one.
            time.sleep(_LINGER)
            while len(batch) < _BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None or isinstance(more, _Job):
                    self._write(batch)
                    batch = []
                    if more is None:
                        return
                    self._run_job(more)
                    continue
                batch.extend(self._rows(more))
                if len(batch) % 16 == 0:
                    # Let the event loop have the GIL now and then: building a whole batch's
                    # JSON in one go made requests wait for it (the p99, not the p50).
                    time.sleep(0)
            if batch:
                self._write(batch)

    def _rows(self, item: list[LogRow] | Callable[[], list[LogRow]]) -> list[LogRow]:
        if not callable(item):
            return list(item)
        try:
            return item()
        except (TypeError, ValueError) as exc:  # a row that cannot be logged: count it, go on
            self.errors += 1
            self.dropped += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return []

    def _write(self, batch: Sequence[LogRow]) -> None:
        trimmed = False
        for attempt in range(_RETRIES):
            try:
                connection = self._ready()
                with connection:
                    inserted = connection.executemany(_INSERT, batch).rowcount
                self.written += inserted
                # A request id the client reused: the first rows stay, the repeats are counted.
                self.duplicates += len(batch) - inserted
                self._since_trim += len(batch)
                if self._since_trim >= max(1000, self.max_rows // 10):
                    self._trim(connection, keep=self.max_rows)
                self._since_size += sum(len(row[7]) + len(row[8]) + 100 for row in batch)
                if self._nearly_full(connection):
                    self._make_room(connection)
                return
            except sqlite3.Error as exc:
                self._failed(exc)
                if _is_full(exc) and not trimmed and self._connection is not None:
                    # Out of room (the size cap, or the disk): make room from the oldest rows
                    # once, then give up on this batch rather than on the server.
                    trimmed = self._make_room(self._connection)
                    if trimmed:
                        continue
                if _is_full(exc) and len(batch) > 1:
                    # One row too big to fit must not take its neighbours with it.
                    for row in batch:
                        self._write([row])
                    return
                if not _is_busy(exc) or attempt == _RETRIES - 1:
                    break
        self.dropped += len(batch)

    def _run_job(self, job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            job.future.set_result(job.call(self._ready()))
        except BaseException as exc:  # the caller gets it through the future
            if isinstance(exc, sqlite3.Error):
                self._failed(exc)
            job.future.set_exception(exc)

    def _trim(self, connection: sqlite3.Connection, *, keep: int) -> None:
        self._since_trim = 0
        with connection:
            connection.execute(
                "DELETE FROM predictions WHERE id <= (SELECT MAX(id) FROM predictions) - ?",
                (keep,),
            )

    def _nearly_full(self, connection: sqlite3.Connection) -> bool:
        # Room is made before the cap is hit: deleting rows needs a few free pages itself.
        # Page counts are read after about 2% of the cap was written, not on every commit.
        if self.max_bytes is None or self._since_size < self.max_bytes // 50:
            return False
        self._since_size = 0
        (limit,) = connection.execute("PRAGMA max_page_count").fetchone()
        (pages,) = connection.execute("PRAGMA page_count").fetchone()
        (free,) = connection.execute("PRAGMA freelist_count").fetchone()
        return bool(pages - free > 0.9 * limit)

    def _make_room(self, connection: sqlite3.Connection) -> bool:
        """Delete the oldest fifth of the rows; whether there was anything to delete."""
        try:
            (count,) = connection.execute("SELECT COUNT(*) FROM predictions").fetchone()
            if count < 5:
                return False
            self._trim(connection, keep=count - count // 5)
            return True
        except sqlite3.Error:
            return False

    # -- the connection, reopened when the file changes under us -------------------------------

    def _ready(self) -> sqlite3.Connection:
        self.guard()
        # A stat per commit (commits are batched) catches a deleted or replaced file at once.
        if self._connection is None or self._inode != _inode(self.path):
            self._open()
        if self._connection is None:
            raise sqlite3.OperationalError(self.last_error or f"cannot open {self.path}")
        return self._connection

    def _open(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
            self._connection = None
        self._shm.close()  # only now: closing its descriptor drops the locks SQLite held
        try:
            self._connection = connect_log(self.path)
            self._inode = _inode(self.path)
            self._shm.attach()
            if self.max_bytes is not None:
                # The cap is the database's page count: SQLite answers SQLITE_FULL past it, as
                # it does on a full disk, and freed pages of deleted rows are reused.
                (page,) = self._connection.execute("PRAGMA page_size").fetchone()
                self._connection.execute(
                    f"PRAGMA max_page_count = {max(8, self.max_bytes // page)}"
                )
        except sqlite3.Error as exc:
            self._failed(exc)

    def _failed(self, exc: sqlite3.Error) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if not _is_busy(exc) and not _is_full(exc):
            # File deleted, replaced or unreadable: start from a fresh connection next time.
            self._inode = None
            time.sleep(0.01)


class _Job:
    """A function to run on the writer thread, its result delivered through ``future``."""

    __slots__ = ("call", "future")

    def __init__(self, call: Callable[[sqlite3.Connection], Any], future: Future[Any]) -> None:
        self.call = call
        self.future = future


_Item = list[LogRow] | Callable[[], list[LogRow]] | _Job | None


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _is_full(exc: sqlite3.Error) -> bool:
    return "full" in str(exc).lower()


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None
