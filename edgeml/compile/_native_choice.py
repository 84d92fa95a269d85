"""Which of the engine's algorithms a model runs: the walk or QuickScorer, measured at export.

Neither wins everywhere (benchmarks/README.md, "Native engine"): QuickScorer's cost is the
count of false nodes a row meets (about half of all nodes), the walk's is its dependent loads
along one path per tree; batches of QuickScorer run 8 rows in SIMD lanes where the CPU has them
(AVX2, NEON; a CPU without them walks such batches), which changes the balance per model and per
machine. So export times both on the
bundle's reference rows on this machine, single rows (``predict_one`` over the rows) and batches
(the rows tiled to a few thousand, one thread), by this thread's CPU time so that other jobs on
the machine blur less. Near ties used to flip from run to run (a 5% margin on the ratio of two
medians), so each pass times both back to back, in the order walk-QuickScorer then
QuickScorer-walk on the next pass (a busy spell or a warming cache hits both alike), and the
decision is the median of the passes' paired ratios: QuickScorer must beat the walk by
:data:`MARGIN` there. The choice goes into the blob's flags (every later load of the bundle runs
it; a C package always walks, its device is not this machine) and the manifest records the
times and the lanes QuickScorer's batches ran on.

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
PASSES = 9  # odd: the median ratio is one pass's


def pick(times: dict[str, float]) -> str:
    """The algorithm to run given each one's time, or each one's time relative to the walk's
    (lower is better)."""
    walk, quick = times["walk"], times.get("quickscorer", float("inf"))
    return "quickscorer" if quick < walk * (1 - MARGIN) else "walk"


def choose(lib: ctypes.CDLL, tables: Tables, rows: np.ndarray) -> tuple[Tables, dict[str, Any]]:
    """``tables`` with the algorithms chosen for single rows and batches, and what was measured
    (``{"row": name, "batch": name, "row_us": {...}, "batch_us_per_row": {...}, "ratio": {...},
    "lanes": "avx2" | "scalar"}``; ``ratio``: QuickScorer's median time relative to the walk's)."""
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
    for turn in range(PASSES):
        for name in names if turn % 2 == 0 else names[::-1]:
            backend.set_algorithm(row=name, batch=name)
            rows_us[name].append(_us(lambda: [backend.predict_one(r) for r in single], len(single)))
            batches_us[name].append(_us(lambda: backend.predict(batch), len(batch)))
    ratio = {"row": _paired(rows_us), "batch": _paired(batches_us)}
    row = pick({"walk": 1.0, "quickscorer": ratio["row"]})
    batch_choice = pick({"walk": 1.0, "quickscorer": ratio["batch"]})
    use = (QS_ROW if row == "quickscorer" else 0) | (QS_BATCH if batch_choice == "quickscorer"
                                                     else 0)  # fmt: skip
    return replace(tables, qs_use=use), {
        "row": row,
        "batch": batch_choice,
        "row_us": {k: round(statistics.median(v), 3) for k, v in rows_us.items()},
        "batch_us_per_row": {k: round(statistics.median(v), 4) for k, v in batches_us.items()},
        "ratio": {k: round(v, 3) for k, v in ratio.items()},
        "lanes": backend.simd,
    }


def _paired(times: dict[str, list[float]]) -> float:
    """The median over passes of QuickScorer's time over the walk's in the same pass."""
    return statistics.median(q / max(w, 1e-12) for w, q in
                             zip(times["walk"], times["quickscorer"], strict=True))  # fmt: skip


def _us(call: Any, count: int) -> float:
    """Microseconds of this thread's CPU time per item of one ``call()``."""
    start = time.thread_time()
    call()
    return (time.thread_time() - start) / count * 1e6
