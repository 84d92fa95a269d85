"""Deployed latency: a candidate model's single-row time on edgeml's own engine, on this machine.

An edge budget (``[search] max_latency_us``) is what the device will see, so a search trial is
timed on the engine that will run it: the booster's text becomes the engine's table blob
(``_native_tables``), the core is the one ``export --format native`` builds (compiled once per
machine, cached), and a row of model features is predicted through ``predict_one`` - the call
``edgeml.runtime`` makes for a prepared row - ``calls`` times; the median counts. Where no C
compiler is installed, :func:`latency_meter` says so and the search falls back to LightGBM's
``Booster.predict`` (slower than any compiled engine, so a budget met there is met on the device).

>>> meter = latency_meter()                                             # doctest: +SKIP
>>> meter.name, meter(booster, features[:1])                            # doctest: +SKIP
('edgeml native engine', 6.9)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml.compile._native import core_library
from edgeml.compile._native_tables import forest_blob
from edgeml.errors import EdgeMLError
from edgeml.runtime import NativeBackend, open_core

__all__ = ["EngineMeter", "latency_meter"]

CALLS = 200


@dataclass(frozen=True)
class EngineMeter:
    """Median single-row microseconds of a booster on the native engine (call it like
    :func:`edgeml.search.latency_us`)."""

    library: Any
    name: str = "edgeml native engine"

    def __call__(self, booster: Any, row: np.ndarray, *, calls: int = CALLS) -> float:
        blob = forest_blob(booster.model_to_string())
        backend = NativeBackend(self.library, blob, threads=1, source="search trial")
        features = np.ascontiguousarray(row, dtype=np.float64).reshape(-1)
        best = float("inf")
        # export runs single rows on the faster of the engine's algorithms: time each it has
        for algorithm in ("walk", "quickscorer"):
            if not backend.set_algorithm(row=algorithm, batch=algorithm):
                continue
            backend.predict_one(features)  # warm-up: the tables come into cache
            times = np.empty(calls)
            for i in range(calls):
                start = time.perf_counter_ns()
                backend.predict_one(features)
                times[i] = time.perf_counter_ns() - start
            best = min(best, float(np.median(times)) / 1000.0)
        return best


def latency_meter() -> EngineMeter | None:
    """The engine meter of this machine, or None where the core cannot be built (no compiler)."""
    try:
        library, _ = core_library()
        return EngineMeter(open_core(library))
    except EdgeMLError:
        return None
