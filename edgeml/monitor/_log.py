"""Reading the prediction log for the monitor: the last N rows, read-only, as arrays.

The connection is opened read-only (``mode=ro``), so a monitor run can neither create a log nor
block the server writing it (WAL mode lets readers and the writer run side by side).

>>> window = read_window("churn.edgeml.log.db", 10_000)                   # doctest: +SKIP
>>> window.rows, window.requests                                         # doctest: +SKIP
(10000, 2417)
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeml.errors import DataError

__all__ = ["LogWindow", "read_window"]

_SELECT = (
    "SELECT request_id, ts, model_version, backend, latency_us, inputs, outputs, score, label "
    "FROM predictions ORDER BY id DESC LIMIT ?"
)


@dataclass(frozen=True, kw_only=True)
class LogWindow:
    """The last rows of a log, oldest first. ``label`` is ``None`` where no feedback came."""

    path: Path
    request_id: list[str]
    ts: np.ndarray
    model_version: list[str]
    backend: list[str]
    latency_us: np.ndarray
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    score: np.ndarray
    label: list[Any]
    labelled: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.request_id)

    @property
    def requests(self) -> int:
        return len(set(self.request_id))

    def request_latency(self, rows: np.ndarray | None = None) -> np.ndarray:
        """One latency per request (every row of a request logs the request's latency).

        ``rows`` (indexes) restricts it to some rows, say one time bucket.
        """
        picked = range(self.rows) if rows is None else rows.tolist()
        seen: dict[str, float] = {}
        for i in picked:
            seen.setdefault(self.request_id[i], float(self.latency_us[i]))
        return np.fromiter(seen.values(), dtype=np.float64, count=len(seen))


def read_window(path: str | Path, window: int) -> LogWindow:
    """The last ``window`` rows of the log at ``path`` (by insertion order), oldest first.

    A missing file, or one that is not a prediction log, raises :class:`DataError`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: no prediction log here; start `edgeml serve` on the bundle first (it logs "
            "every prediction beside the bundle) or pass the log's path with --log"
        )
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise DataError(f"{path}: cannot open the prediction log ({exc})") from None
    try:
        fetched = connection.execute(_SELECT, (int(window),)).fetchall()
    except sqlite3.DatabaseError as exc:
        raise DataError(
            f"{path}: not an edgeml prediction log (expected an SQLite database with a "
            f"'predictions' table; {exc})"
        ) from None
    finally:
        connection.close()
    fetched.reverse()
    inputs = [_json_object(row[5], path, "inputs") for row in fetched]
    outputs = [_json_object(row[6], path, "outputs") for row in fetched]
    labels = [None if row[8] is None else _json_value(row[8], path) for row in fetched]
    return LogWindow(
        path=path,
        request_id=[str(row[0]) for row in fetched],
        ts=np.array([float(row[1]) for row in fetched], dtype=np.float64),
        model_version=[str(row[2]) for row in fetched],
        backend=[str(row[3]) for row in fetched],
        latency_us=np.array([float(row[4]) for row in fetched], dtype=np.float64),
        inputs=inputs,
        outputs=outputs,
        score=np.array([math.nan if row[7] is None else row[7] for row in fetched], dtype=float),
        label=labels,
        labelled=np.array([row[8] is not None for row in fetched], dtype=bool),
    )


def _json_object(text: Any, path: Path, column: str) -> dict[str, Any]:
    value = _json_value(text, path)
    if not isinstance(value, dict):
        raise DataError(f"{path}: column {column!r} holds {text!r}; expected a JSON object")
    return value


def _json_value(text: Any, path: Path) -> Any:
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError):
        raise DataError(f"{path}: {text!r} in the prediction log is not valid JSON") from None
