"""Which of the engine's algorithms a model runs: the walk or QuickScorer, measured at export.

Neither wins everywhere (benchmarks/README.md, "Native engine"): QuickScorer's cost is the
count of false nodes a row meets (about half of all nodes), the walk's is its dependent loads
along one path per tree. So export times both on the bundle's reference rows on this machine,
single rows (``predict_one``, the median of passes over the rows) and batches (the rows tiled
to a few thousand, one thread), by this thread's CPU time so that other jobs on the machine
blur less, the two algorithms taking turns pass by pass. QuickScorer must beat the walk by
:data:`MARGIN` to be chosen: the walk is the default, and a near tie is noise. The choice goes
into the blob's flags (every later load of the bundle runs it; a C package always walks, its
device is not this machine) and the manifest records the times.

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
    names = ("walk", "quickscorer")
    rows_us: dict[str, list[float]] = {name: [] for name in names}
    batches_us: dict[str, list[float]] = {name: [] for name in names}
    backend.predict(batch[:64])  # warm-up: the tables come into cache
    for _ in range(PASSES):  # alternating, so that a busy spell on the machine hits both
        for name in names:
            backend.set_algorithm(row=name, batch=name)
            rows_us[name].append(_us(lambda: [backend.predict_one(r) for r in single], len(single)))
            batches_us[name].append(_us(lambda: backend.predict(batch), len(batch)))
    row_us = {name: statistics.median(times) for name, times in rows_us.items()}
    batch_us = {name: statistics.median(times) for name, times in batches_us.items()}
    row, batch_choice = pick(row_us), pick(batch_us)
    use = (QS_ROW if row == "quickscorer" else 0) | (QS_BATCH if batch_choice == "quickscorer"
                                                     else 0)  # fmt: skip
    return replace(tables, qs_use=use), {
        "row": row,
        "batch": batch_choice,
        "row_us": {k: round(v, 3) for k, v in row_us.items()},
        "batch_us_per_row": {k: round(v, 4) for k, v in batch_us.items()},
    }


def _us(call: Any, count: int) -> float:
    """Microseconds of this thread's CPU time per item of one ``call()``."""
    start = time.thread_time()
    call()
    return (time.thread_time() - start) / count * 1e6
