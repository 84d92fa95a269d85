"""The prediction log's SQLite schema, shared by the server (writer) and the monitor (reader).

One row per predicted record. ``inputs`` is the raw record as JSON (missing as null),
``outputs`` the prediction dict as the API returned it (``prediction`` and ``proba_<class>``);
``score`` is the number drift is measured on: the positive-class probability (binary), the
predicted value (regression) or the predicted class index (multiclass). ``label`` is the true
label (JSON) attached later by ``POST /feedback``.

The database runs in WAL mode so the monitor can read while the server writes.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

__all__ = [
    "LOG_FILE", "SCHEMA", "connect_log", "default_log_path", "recent_inputs", "recent_readings",
]  # fmt: skip

#: File name of the log beside a bundle (``churn.edgeml`` → ``churn.edgeml.log.db``).
LOG_FILE = ".log.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id    TEXT    NOT NULL,
    row           INTEGER NOT NULL,
    ts            REAL    NOT NULL,  -- unix seconds when the prediction was made
    model_version TEXT    NOT NULL,
    backend       TEXT    NOT NULL,
    latency_us    REAL    NOT NULL,  -- of the whole request the row came in
    batch_size    INTEGER NOT NULL,
    inputs        TEXT    NOT NULL,  -- JSON object
    outputs       TEXT    NOT NULL,  -- JSON object
    score         REAL,
    label         TEXT,              -- JSON value, set by POST /feedback
    labelled_at   REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS predictions_request ON predictions (request_id, row);
CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
"""


def default_log_path(bundle: str | Path) -> Path:
    """Where the server logs a bundle's predictions: ``NAME.edgeml`` → ``NAME.edgeml.log.db``.

    Beside the bundle rather than inside it, so the bundle's checksums stay valid.

    >>> default_log_path("/srv/churn.edgeml").name
    'churn.edgeml.log.db'
    """
    path = Path(bundle)
    return path.with_name(path.name + LOG_FILE)


def connect_log(path: str | Path, *, timeout: float = 0.5) -> sqlite3.Connection:
    """Open (creating if needed) a prediction log in WAL mode with the schema in place."""
    connection = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(SCHEMA)
    return connection


def recent_inputs(path: str | Path, limit: int) -> list[dict[str, Any]]:
    """The inputs of the last ``limit`` logged rows, oldest first (none if there is no log).

    Read-only; a log that cannot be read gives nothing rather than an error: it only warms up
    a server's state.
    """
    return [inputs for inputs, _ in recent_readings(path, limit)]


def recent_readings(path: str | Path, limit: int) -> list[tuple[dict[str, Any], Any]]:
    """The inputs of the last ``limit`` logged rows and the true label each got through
    ``/feedback`` (None: none yet), oldest first; read-only, and empty where the log cannot be
    read, as :func:`recent_inputs`."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            fetched = connection.execute(
                "SELECT inputs, label FROM predictions ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        return []
    out = []
    for text, label in reversed(fetched):
        try:
            value = json.loads(text)
            known = None if label is None else json.loads(label)
        except (TypeError, ValueError):
            continue
        if isinstance(value, dict):
            out.append((value, known))
    return out
