"""The synthetic binary problem the training-at-scale tests and benchmarks/bench_train_scale.py
share: eight numbers and a category, optionally with a wide free-text column; and the feature
plan with every kind of per-entity step that the time-series tests at scale compare."""

from __future__ import annotations

import numpy as np
import polars as pl

from edgeml.spec.feature_plan import (
    EwmStep,
    FeaturePlan,
    GapStep,
    LagStep,
    TargetHistoryStep,
    WindowStep,
)

__all__ = ["every_series_step", "table"]


def table(n: int, seed: int, *, note_bytes: int = 0) -> pl.DataFrame:
    """A binary problem: eight numbers and a category; ``note_bytes`` of free text per row (an
    identifier-like column the prep plan drops: it makes the raw table large)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    kind = rng.choice(["alpha", "beta", "gamma", "delta"], n)
    logit = x[:, 0] - 0.5 * x[:, 1] + 0.3 * x[:, 2] * x[:, 3] + np.where(kind == "alpha", 0.8, 0)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    frame = pl.DataFrame({**{f"x{i}": x[:, i].round(4) for i in range(8)}, "kind": kind,
                          "label": label})  # fmt: skip
    if note_bytes:
        filler = "lorem ipsum dolor sit amet " * (note_bytes // 27 + 1)
        notes = pl.int_range(seed, seed + n, eager=True).cast(pl.String) + filler[:note_bytes]
        frame = frame.with_columns(notes.alias("note"))
    return frame


def every_series_step(target: str, time: str, entity: str) -> FeaturePlan:
    """A plan with every kind of per-entity step, on the demo fleet's columns."""
    steps = [
        LagStep(columns=["temperature", "vibration"], lags=[1, 3], diff=True),
        WindowStep(columns=["vibration"], windows=["5", "6h"], stats=["mean", "std", "max"]),
        EwmStep(columns=["pressure"], halflives=[4.0]),
        GapStep(),
        TargetHistoryStep(target=target, lags=[1], windows=["12"], delay=48),
    ]
    return FeaturePlan(time_col=time, entity_col=entity, steps=steps)
