"""The prediction log on its own: retention, the size cap, drops counted, faults healed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from edgeml.serve._log import LogRow, PredictionLog


def rows(n: int, start: int = 0, payload: str = "{}") -> list[LogRow]:
    return [
        (f"r{i}", 0, 1.7e9 + i, "v1", "treelite", 10.0, 1, payload, "{}", 0.5)
        for i in range(start, start + n)
    ]


def stored(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [r[0] for r in connection.execute("SELECT request_id FROM predictions ORDER BY id")]


def test_rows_are_written_in_order_and_in_wal_mode(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log.db")
    for k in range(10):
        log.append(rows(10, start=10 * k))
    log.append_lazy(lambda: rows(5, start=100))
    log.close()
    assert stored(tmp_path / "log.db") == [f"r{i}" for i in range(105)]
    assert (log.written, log.dropped) == (105, 0)
    with sqlite3.connect(tmp_path / "log.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_retention_keeps_the_newest_rows(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log.db", max_rows=100)
    for k in range(30):
        log.append(rows(100, start=100 * k))
        log.flush()
    log.close()
    kept = stored(tmp_path / "log.db")
    assert len(kept) <= 1100  # trimmed every max(1000, max_rows / 10) rows
    assert kept[-1] == "r2999"
    assert kept == [f"r{i}" for i in range(3000 - len(kept), 3000)]


def test_the_size_cap_keeps_the_file_bounded_and_the_newest_rows(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log = PredictionLog(path, max_bytes=256 * 1024)
    payload = json.dumps({"x": "y" * 400})
    for k in range(40):
        log.append(rows(100, start=100 * k, payload=payload))
        log.flush()
    log.close()
    kept = stored(path)
    assert path.stat().st_size <= 256 * 1024
    assert kept[-1] == "r3999" and 100 < len(kept) < 4000
    assert log.dropped == 0


def test_a_row_that_cannot_fit_is_dropped_and_counted(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log.db", max_bytes=64 * 1024)
    log.append(rows(1, payload=json.dumps({"x": "y" * 200_000})))
    log.append(rows(3, start=1))
    log.close()
    assert log.dropped == 1
    assert "full" in (log.last_error or "")
    assert stored(tmp_path / "log.db") == ["r1", "r2", "r3"]


def test_a_full_queue_drops_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log = PredictionLog(path, max_pending=2)
    blocker = sqlite3.connect(path, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")  # the writer stalls on its first batch
    for k in range(50):  # a blocking queue would hang here instead of dropping
        log.append(rows(1, start=k))
    blocker.rollback()
    blocker.close()
    log.close()
    assert log.dropped >= 40
    assert log.written + log.dropped == 50


def test_a_deleted_log_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log = PredictionLog(path)
    log.append(rows(3))
    log.flush()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    log.append(rows(2, start=3))
    log.close()
    assert stored(path) == ["r3", "r4"]


def test_jobs_run_after_the_rows_queued_before_them(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log.db")
    log.append(rows(5))
    count = log.submit(lambda c: c.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])
    assert count.result(timeout=10) == 5
    log.close()


def test_a_reused_request_id_is_counted_not_written_twice(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log.db")
    log.append(rows(2))
    log.append(rows(3))  # r0, r1 again, and r2
    log.close()
    assert stored(tmp_path / "log.db") == ["r0", "r1", "r2"]
    assert (log.written, log.duplicates, log.dropped) == (3, 2, 0)
