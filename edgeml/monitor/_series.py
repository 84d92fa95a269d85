"""The monitor's window cut into equal spans of time: drift, latency and accuracy per span.

Equal time (not equal row counts), so a quiet hour shows as a bucket with few rows instead of
vanishing; an empty bucket has NaN for everything it cannot measure. A bucket's PSI is noisier
than the window's (fewer rows): the report plots it to show *when* drift started.

>>> import numpy as np
>>> bucket_index(np.array([0.0, 1.0, 5.0, 10.0]), 2).tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeml.config import MonitorConfig
from edgeml.monitor._drift import feature_psi, prediction_drift
from edgeml.monitor._labels import Labelled
from edgeml.monitor._log import LogWindow

__all__ = ["BUCKETS", "Bucket", "bucket_index", "time_buckets"]

#: Buckets in the report's time series: enough to see a trend, each still holding many rows.
BUCKETS = 10


@dataclass(frozen=True, kw_only=True)
class Bucket:
    """One span of time: ``[start, end)`` in unix seconds (the last one closed)."""

    start: float
    end: float
    rows: int
    requests: int
    latency_p50_us: float = math.nan
    latency_p95_us: float = math.nan
    prediction_psi: float = math.nan
    labelled: int = 0
    primary: float = math.nan
    psi: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: NaN becomes ``None``."""
        return {
            "start": self.start,
            "end": self.end,
            "rows": self.rows,
            "requests": self.requests,
            "latency_p50_us": _num(self.latency_p50_us),
            "latency_p95_us": _num(self.latency_p95_us),
            "prediction_psi": _num(self.prediction_psi),
            "labelled": self.labelled,
            "primary": _num(self.primary),
            "psi": {k: _num(v) for k, v in self.psi.items()},
        }


def bucket_index(ts: np.ndarray, n: int) -> np.ndarray:
    """Which of ``n`` equal spans between the first and last time each timestamp falls in."""
    if ts.size == 0:
        return np.zeros(0, dtype=np.int64)
    start, span = float(ts.min()), float(ts.max() - ts.min())
    if span <= 0:
        return np.zeros(ts.size, dtype=np.int64)
    return np.minimum(((ts - start) / span * n).astype(np.int64), n - 1)


def time_buckets(
    window: LogWindow,
    matrix: np.ndarray,
    names: Sequence[str],
    baselines: Mapping[str, Mapping[str, Any]],
    prediction_baseline: Mapping[str, Any] | None,
    labelled: Labelled,
    *,
    holdout: dict[str, float],
    config: MonitorConfig,
    primary: str | None = None,
    n: int = BUCKETS,
    raw: Mapping[str, Sequence[Any]] | None = None,
) -> list[Bucket]:
    """``n`` buckets over the window's time span (one when every row has the same time).

    ``raw`` holds the logged inputs by column, for the features whose baseline is per category.
    """
    if window.rows == 0:
        return []
    ts = window.ts
    start, end = float(ts.min()), float(ts.max())
    count = n if end > start else 1
    index = bucket_index(ts, count)
    width = (end - start) / count
    out = []
    for b in range(count):
        rows = np.flatnonzero(index == b)
        psi = {}
        for j, name in enumerate(names):
            if name in baselines:
                psi[name] = (
                    feature_psi(baselines[name], matrix[rows, j], _rows_of(raw, rows), name)
                    if rows.size
                    else math.nan
                )
        latency = window.request_latency(rows)
        in_bucket = np.isin(labelled.rows, rows)
        scores = window.score[rows]
        out.append(
            Bucket(
                start=start + b * width,
                end=end if b == count - 1 else start + (b + 1) * width,
                rows=int(rows.size),
                requests=int(latency.size),
                latency_p50_us=float(np.percentile(latency, 50)) if latency.size else math.nan,
                latency_p95_us=float(np.percentile(latency, 95)) if latency.size else math.nan,
                prediction_psi=(
                    prediction_drift(prediction_baseline, scores, config).psi
                    if prediction_baseline and rows.size
                    else math.nan
                ),
                labelled=int(in_bucket.sum()),
                primary=(
                    labelled.accuracy(holdout, config, primary, within=rows).live
                    if in_bucket.any()
                    else math.nan
                ),
                psi=psi,
            )
        )
    return out


def _rows_of(
    raw: Mapping[str, Sequence[Any]] | None, rows: np.ndarray
) -> dict[str, list[Any]] | None:
    if raw is None:
        return None
    return {name: [values[i] for i in rows] for name, values in raw.items()}


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
