"""Which of the engine's algorithms a model runs: the walk or QuickScorer, measured at export.

Neither wins everywhere (benchmarks/README.md, "Native engine"): QuickScorer's cost is the
count of false nodes a row meets (about half of all nodes), the walk's is its dependent loads
along one path per tree. So export times both on the bundle's reference rows on this machine,
single rows (``predict_one``, the median of passes over the rows) and batches (the rows tiled
to a few thousand, one thread), by this thread's CPU time so that other jobs on the machine
blur less. QuickScorer must beat the walk by :data:`MARGIN` to be chosen: the walk is the
default, and a near tie is noise. The choice goes into the blob's flags (the C package and
every later load run it) and the manifest records the times.

>>> pick({"walk": 10.0, "quickscorer": 9.8}), pick({"walk": 10.0, "quickscorer": 8.0})
('walk', 'quickscorer')
"""

from __future__ import annotations

import ctypes
import statistics
import time
from dataclasses import replace
from typing import Any

import numpy as np

from edgeml.compile._native_tables import QS_BATCH, QS_ROW, Tables, pack
from edgeml.runtime import NativeBackend

__all__ = ["MARGIN", "choose", "pick"]

MARGIN = 0.05  # QuickScorer must be this much faster than the walk to be chosen
SINGLE_ROWS = 200  # reference rows timed one by one, per pass
BATCH_ROWS = 4096  # the rows tiled to this many for the batch timing
PASSES = 5


def pick(times: dict[str, float]) -> str:
    """The algorithm to run given each one's time (lower is better)."""
    walk, quick = times["walk"], times.get("quickscorer", float("inf"))
    return "quickscorer" if quick < walk * (1 - MARGIN) else "walk"


def choose(lib: ctypes.CDLL, tables: Tables, rows: np.ndarray) -> tuple[Tables, dict[str, Any]]:
    """``tables`` with the algorithms chosen for single rows and batches, and what was measured
    (``{"row": name, "batch": name, "row_us": {...}, "batch_us_per_row": {...}}``)."""
    if tables.qs is None or len(rows) == 0:
        reason = "no QuickScorer section" if tables.qs is None else "no reference rows"
        return replace(tables, qs_use=0), {"row": "walk", "batch": "walk", "reason": reason}
    backend = NativeBackend(lib, pack(replace(tables, qs_use=0)), threads=1, source="choice")
    single = [row for row in np.ascontiguousarray(rows[:SINGLE_ROWS], dtype=np.float64)]
    batch = np.ascontiguousarray(np.resize(rows, (max(BATCH_ROWS, len(rows)), rows.shape[1])))
    row_us: dict[str, float] = {}
    batch_us: dict[str, float] = {}
    for name in ("walk", "quickscorer"):
        backend.set_algorithm(row=name, batch=name)
        backend.predict(batch[:64])  # warm-up: the tables come into cache
        row_us[name] = _median_us(lambda: [backend.predict_one(r) for r in single], len(single))
        batch_us[name] = _median_us(lambda: backend.predict(batch), len(batch))
    row, batch_choice = pick(row_us), pick(batch_us)
    use = (QS_ROW if row == "quickscorer" else 0) | (QS_BATCH if batch_choice == "quickscorer"
                                                     else 0)  # fmt: skip
    return replace(tables, qs_use=use), {
        "row": row,
        "batch": batch_choice,
        "row_us": {k: round(v, 3) for k, v in row_us.items()},
        "batch_us_per_row": {k: round(v, 4) for k, v in batch_us.items()},
    }


def _median_us(call: Any, count: int) -> float:
    times = []
    for _ in range(PASSES):
        start = time.thread_time()
        call()
        times.append((time.thread_time() - start) / count * 1e6)
    return statistics.median(times)
