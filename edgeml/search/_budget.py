"""Budgets: the search's time budget and the edge budgets (single-row latency, model size).

Latency is a single row's median time over many calls on this machine (one slow call - a page
fault, another process - does not count), measured by a :data:`LatencyMeter`: the search and the
leaderboard take one (``edgeml train`` passes edgeml's native engine,
:func:`edgeml.compile.latency_meter`, so a budget is what the deployed model will take), and fall
back to :func:`latency_us`, LightGBM's own ``Booster.predict`` - slower than any compiled engine,
so a model within budget there is within budget on the device.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LATENCY_CALLS = 200
#: ``meter(booster, row) -> µs``: a model's single-row latency; ``row`` has shape (1, features).
LatencyMeter = Callable[[Any, np.ndarray], float]


def model_size_bytes(booster: Any) -> int:
    """Bytes of the LightGBM model text: what ``model.txt`` in the bundle weighs.

    >>> import lightgbm as lgb
    >>> x = np.arange(100.0).reshape(-1, 1)
    >>> b = lgb.train({"verbosity": -1}, lgb.Dataset(x, label=x[:, 0]), num_boost_round=2)
    >>> model_size_bytes(b) > 0
    True
    """
    return len(booster.model_to_string().encode())


def latency_us(booster: Any, row: np.ndarray, *, calls: int = LATENCY_CALLS) -> float:
    """Median microseconds of ``booster.predict`` on one row (``row`` of shape (1, n_features)).

    Measured, not assumed; tests must not assert on it.
    """
    row = np.ascontiguousarray(row, dtype=np.float64).reshape(1, -1)
    booster.predict(row, num_threads=1)  # warm-up: first call allocates
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter_ns()
        booster.predict(row, num_threads=1)
        times[i] = time.perf_counter_ns() - start
    return float(np.median(times)) / 1000.0


@dataclass(frozen=True, kw_only=True)
class EdgeBudget:
    """Limits a model must meet on a device; ``None`` means no limit.

    >>> EdgeBudget(max_latency_us=50.0).excess(latency=100.0, size_kb=1.0)
    1.0
    """

    max_latency_us: float | None = None
    max_model_kb: float | None = None

    @property
    def active(self) -> bool:
        return self.max_latency_us is not None or self.max_model_kb is not None

    def violations(self, *, latency: float, size_kb: float) -> dict[str, float]:
        """Amount over each limit (<= 0 is within it), keyed like Optuna constraints."""
        out: dict[str, float] = {}
        if self.max_latency_us is not None:
            out["latency_us"] = latency - self.max_latency_us
        if self.max_model_kb is not None:
            out["size_kb"] = size_kb - self.max_model_kb
        return out

    def within(self, *, latency: float, size_kb: float) -> bool:
        return all(v <= 0 for v in self.violations(latency=latency, size_kb=size_kb).values())

    def excess(self, *, latency: float, size_kb: float) -> float:
        """Largest relative overshoot (0 when within budget): ranks what came closest."""
        ratios = [0.0]
        if self.max_latency_us is not None:
            ratios.append(latency / self.max_latency_us - 1.0)
        if self.max_model_kb is not None:
            ratios.append(size_kb / self.max_model_kb - 1.0)
        return max(ratios)

    def to_dict(self) -> dict[str, float | None]:
        return {"max_latency_us": self.max_latency_us, "max_model_kb": self.max_model_kb}

    def describe(self) -> str:
        parts = []
        if self.max_latency_us is not None:
            parts.append(f"latency <= {self.max_latency_us:g} µs")
        if self.max_model_kb is not None:
            parts.append(f"size <= {self.max_model_kb:g} KB")
        return " and ".join(parts)


def pareto_front(points: Sequence[tuple[float, ...]]) -> list[int]:
    """Indices of the points no other point dominates (every objective minimised).

    Written out because Optuna's ``best_trials`` keeps only feasible trials once constraints are
    set, and the report wants the whole front with the budget drawn across it.

    >>> pareto_front([(1, 2), (2, 1), (2, 2), (1, 2)])
    [0, 1, 3]
    """
    front = []
    for i, p in enumerate(points):
        dominated = any(
            all(a <= b for a, b in zip(q, p, strict=True))
            and any(a < b for a, b in zip(q, p, strict=True))
            for j, q in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return front
