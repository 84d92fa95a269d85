"""Which of the engine's algorithms a model runs: the walk or QuickScorer, measured at export.

Neither wins everywhere (benchmarks/README.md, "Native engine"): QuickScorer's cost is the
count of false nodes a row meets (about half of all nodes), the walk's is its dependent loads
along one path per tree; batches of QuickScorer run in SIMD lanes where the CPU has them
(AVX2, NEON; a CPU without them walks such batches), which changes the balance per model and per
machine. So export times both on the bundle's reference rows on this machine, by this thread's
CPU time (other jobs on the machine blur less): single rows (``predict_one`` over distinct
rows) and batches (the rows tiled to a few thousand, one thread).

What a single row costs depends on what ran just before it: right after a batch, or after the
other algorithm, its tables are out of the caches, and the same few rows run again and again
keep the walk's hot paths cached (the real 10-class model, walk / QuickScorer, warm runs over
the same rows: 100 rows 12.2 / 14.0 µs, 500 and more about equal). So single rows are timed in a
phase of their own, each timed run of an algorithm after an untimed run of it over *other*
reference rows (caches warm, no row timed right after itself), and each algorithm goes first in
half of the passes (:data:`PASSES` is even; it used to be 9 passes, 5 of them walk first, each
pass's 200 rows timed straight after the other algorithm's 4,096-row batch). Each pass times
both back to back (a busy spell hits both alike) and the decision is the median of the passes'
paired ratios: QuickScorer must beat the walk by :data:`MARGIN` there and in :data:`WINS` of the
passes, a near tie keeps the walk (the real 10-class model's single rows, a tie: at load 5 the
medians of six runs went from 0.84 to 1.16, QuickScorer won 2 to 6 of 8 passes). The choice goes
into the blob's flags (every later load of the bundle runs it; a C package always walks, its
device is not this machine) and the manifest records the times and the lanes QuickScorer's
batches ran on.

"The walk" of single rows is the one a loaded bundle runs: on the host, the chains wherever the
forest is narrow and they fit (kernels/edgeml_forest_chain.c), whatever its depth. Before,
forests below a mean depth of 14 (now 4) walked in groups and export timed QuickScorer against
those: the real 10-class model (mean depth 10.75) kept groups at 11.4-12.4 µs a row where the chains
take 7.6-9.7 and QuickScorer 12.2-13.8 (the "QuickScorer 10.75 against the walk's 14.53" of an
earlier benchmark was unpaired figures); ``choose`` records the walk it timed (``"walk"``).

>>> pick({"walk": 10.0, "quickscorer": 9.8}), pick({"walk": 10.0, "quickscorer": 8.0})
('walk', 'quickscorer')
"""

from __future__ import annotations

import ctypes
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from edgeml.compile._native_tables import QS_BATCH, QS_ROW, Tables, pack
from edgeml.runtime import NativeBackend

__all__ = ["MARGIN", "Engine", "choose", "decide", "measure", "pick"]

MARGIN = 0.05  # QuickScorer must be this much faster than the walk to be chosen
SINGLE_ROWS = 400  # distinct reference rows timed one by one (a pass times half, warms on half)
BATCH_ROWS = 4096  # the rows tiled to this many for the batch timing
WARM_BATCH = 256  # rows of an untimed batch before each timed one
PASSES = 8  # even: each algorithm goes first in half of them
WINS = 0.85  # the share of passes QuickScorer must win (7 of 8): a sign test's 3.5%
NAMES = ("walk", "quickscorer")
Times = dict[str, dict[str, list[float]]]  # {"row"|"batch": {algorithm: µs per row, per pass}}


class Engine(Protocol):
    """What :func:`measure` runs: :class:`~edgeml.runtime.NativeBackend` (or a stand-in)."""

    def set_algorithm(self, *, row: str, batch: str) -> bool: ...

    def predict_one(self, features: np.ndarray) -> list[float]: ...

    def predict(self, inputs: np.ndarray) -> np.ndarray: ...


def pick(times: dict[str, float]) -> str:
    """The algorithm to run given each one's time, or each one's time relative to the walk's
    (lower is better)."""
    walk, quick = times["walk"], times.get("quickscorer", float("inf"))
    return "quickscorer" if quick < walk * (1 - MARGIN) else "walk"


def measure(
    engine: Engine,
    rows: np.ndarray,
    *,
    passes: int = PASSES,
    clock: Callable[[], float] = time.thread_time,
) -> Times:
    """µs per row of single rows and of batches, per pass and algorithm (see the module's
    docstring for the schedule). ``rows``: the reference rows, at least 2."""
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    single = list(rows[:SINGLE_ROWS])
    half = len(single) // 2
    warm, timed = single[:half], single[half:]
    batch = np.ascontiguousarray(np.resize(rows, (max(BATCH_ROWS, len(rows)), rows.shape[1])))
    times: Times = {"row": {n: [] for n in NAMES}, "batch": {n: [] for n in NAMES}}
    for turn in range(passes):
        order = NAMES if turn % 2 == 0 else NAMES[::-1]
        for name in order:
            engine.set_algorithm(row=name, batch=name)
            for r in warm:
                engine.predict_one(r)
            times["row"][name].append(_us(lambda: [engine.predict_one(r) for r in timed],
                                          len(timed), clock))  # fmt: skip
        for name in order:
            engine.set_algorithm(row=name, batch=name)
            engine.predict(batch[:WARM_BATCH])
            times["batch"][name].append(_us(lambda: engine.predict(batch), len(batch), clock))
    return times


def decide(times: Times) -> dict[str, Any]:
    """The choice for single rows and batches from :func:`measure`'s times: ``{"row": name,
    "batch": name, "row_us": {...}, "batch_us_per_row": {...}, "ratio": {...}, "wins":
    {...}}`` (``ratio``: the median of the passes' paired ratios, QuickScorer's time over the
    walk's; ``wins``: in how many passes QuickScorer was the faster). QuickScorer needs both
    the median :data:`MARGIN` below the walk's and :data:`WINS` of the passes: a tie's median
    wanders with the machine's load, a real win holds pass after pass."""
    chosen: dict[str, Any] = {"ratio": {}, "wins": {}}
    for kind in ("row", "batch"):
        ratio, wins = _paired(times[kind]), _wins(times[kind])
        needed = math.ceil(WINS * len(times[kind]["walk"]))
        clear = pick({"walk": 1.0, "quickscorer": ratio}) == "quickscorer" and wins >= needed
        chosen[kind] = "quickscorer" if clear else "walk"
        chosen["ratio"][kind], chosen["wins"][kind] = round(ratio, 3), wins
    return {
        "row": chosen["row"],
        "batch": chosen["batch"],
        "row_us": {k: round(statistics.median(v), 3) for k, v in times["row"].items()},
        "batch_us_per_row": {k: round(statistics.median(v), 4) for k, v in times["batch"].items()},
        "ratio": chosen["ratio"],
        "wins": chosen["wins"],
    }


def choose(
    lib: ctypes.CDLL,
    tables: Tables,
    rows: np.ndarray,
    *,
    clock: Callable[[], float] = time.thread_time,
) -> tuple[Tables, dict[str, Any]]:
    """``tables`` with the algorithms chosen for single rows and batches (:func:`decide`), and
    what was measured, with ``"lanes"``: ``avx2``, ``neon`` or ``scalar``, and ``"walk"``: the
    walk single rows of a loaded bundle run, which QuickScorer's were timed against
    (:attr:`~edgeml.runtime.NativeBackend.row_walk`)."""
    if tables.qs is None or len(rows) < 2:
        reason = "no QuickScorer section" if tables.qs is None else "under 2 reference rows"
        return replace(tables, qs_use=0), {"row": "walk", "batch": "walk", "reason": reason}
    backend = NativeBackend(lib, pack(replace(tables, qs_use=0)), threads=1, source="choice")
    walk = backend.row_walk  # what "walk" is for single rows: the chains, where laid out
    chosen = decide(measure(backend, rows, clock=clock))
    use = (QS_ROW if chosen["row"] == "quickscorer" else 0) | (
        QS_BATCH if chosen["batch"] == "quickscorer" else 0
    )
    return replace(tables, qs_use=use), {**chosen, "lanes": backend.simd, "walk": walk}


def _paired(times: dict[str, list[float]]) -> float:
    """The median over passes of QuickScorer's time over the walk's in the same pass."""
    return statistics.median(q / max(w, 1e-12) for w, q in
                             zip(times["walk"], times["quickscorer"], strict=True))  # fmt: skip


def _wins(times: dict[str, list[float]]) -> int:
    """The passes in which QuickScorer took less time than the walk."""
    return sum(q < w for w, q in zip(times["walk"], times["quickscorer"], strict=True))


def _us(call: Callable[[], Any], count: int, clock: Callable[[], float]) -> float:
    """Microseconds of ``clock`` per item of one ``call()``."""
    start = clock()
    call()
    return (clock() - start) / count * 1e6
