"""Drift of live model features and predictions against the training baselines in the manifest.

NumPy and the standard library only: the server imports this inside a slim image. The buckets
and the PSI come from :mod:`edgeml.metrics.drift` (one implementation for every caller): per
category (with an "other/unseen" bucket) for a categorical input, per value for a feature with few
values (0/1 flags), on quantile bins otherwise; missing values are always a bucket of their own.

Status, from the ``[monitor]`` thresholds: ``"too few rows"`` below ``min_rows`` rows (never a
warning or an alert: a handful of rows says nothing about a distribution); ``"alert"`` when
PSI ≥ ``psi_alert``, the missing share rose by more than ``missing_alert`` or more than
``out_of_range_alert`` of the values lie outside what training had (outside the range, a value
or a category it never had); ``"warn"`` when PSI ≥ ``psi_warn``; ``"no data"`` for an empty
window. Each reason says how many rows it rests on.

>>> base = {"edges": [0.0, 1.0, 2.0], "counts": [50, 50], "missing": 0.0}
>>> live = np.array([[0.5], [1.5], [9.0], [np.nan]] * 50)
>>> drift = feature_drift({"x": base}, live, ["x"])
>>> drift["x"].status, drift["x"].out_of_range, drift["x"].missing
('alert', 0.25, 0.25)
>>> drift["x"].reasons[-1]
'25.0% outside the training range (> 5%) on 200 rows'
>>> feature_drift({"x": base}, live[:3], ["x"])["x"].reasons
('too few rows (3 < 200)',)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from edgeml.config import MonitorConfig
from edgeml.errors import BundleError, DataError
from edgeml.metrics.drift import PSI_EPSILON, Buckets, baseline_kind, buckets, psi_from_counts
from edgeml.runtime.contract import convert_value

__all__ = [
    "PSI_EPSILON",
    "FeatureDrift",
    "PredictionDrift",
    "Status",
    "feature_drift",
    "feature_psi",
    "prediction_drift",
    "psi_from_counts",
    "raw_columns",
]

Status = Literal["ok", "warn", "alert", "no data", "too few rows"]


@dataclass(frozen=True, kw_only=True)
class FeatureDrift:
    """How one feature's recent values compare with training.

    ``kind`` is the baseline's (``quantiles``, ``values``, ``categories``); ``buckets`` names
    the buckets ``shares`` and ``baseline_shares`` are of (missing last). ``missing`` and
    ``out_of_range`` are shares of the window's rows (NaN without rows); ``unseen`` counts the
    rows outside what training had (a category or value it never had, or outside its range).
    """

    name: str
    rows: int
    psi: float
    missing: float
    missing_baseline: float
    out_of_range: float
    status: Status
    reasons: tuple[str, ...] = ()
    kind: str = "quantiles"
    unseen: int = 0
    buckets: tuple[str, ...] = ()
    edges: tuple[float, ...] = ()
    shares: tuple[float, ...] = ()
    baseline_shares: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: NaN and infinities become ``None``.

        >>> FeatureDrift(name="x", rows=0, psi=math.nan, missing=math.nan, missing_baseline=0.0,
        ...              out_of_range=math.nan, status="no data").to_dict()["psi"] is None
        True
        """
        return {
            "name": self.name,
            "kind": self.kind,
            "rows": self.rows,
            "psi": _num(self.psi),
            "missing": _num(self.missing),
            "missing_baseline": _num(self.missing_baseline),
            "out_of_range": _num(self.out_of_range),
            "unseen": self.unseen,
            "status": self.status,
            "reasons": list(self.reasons),
            "buckets": list(self.buckets),
            "edges": [_num(e) for e in self.edges],
            "shares": [_num(s) for s in self.shares],
            "baseline_shares": [_num(s) for s in self.baseline_shares],
        }


@dataclass(frozen=True, kw_only=True)
class PredictionDrift(FeatureDrift):
    """Drift of the logged score: ``kind`` ``"numeric"`` (binary probability, regression value;
    buckets as for a feature) or ``"classes"`` (predicted class index; one bucket per class,
    no missing bucket, ``edges`` empty)."""

    kind: str = "numeric"


def feature_drift(
    baselines: Mapping[str, Mapping[str, Any]],
    matrix: npt.ArrayLike,
    names: Sequence[str],
    config: MonitorConfig | None = None,
    *,
    raw: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, FeatureDrift]:
    """Drift of each column of ``matrix`` (model features named by ``names``) that has a baseline.

    A ``categories`` baseline reads the raw input column from ``raw`` (``{column: values}``, the
    logged records), so an unseen category is told from a missing value; without it, the
    feature's codes in ``matrix`` stand for the categories. Columns without a baseline are left
    out (an older bundle may lack some).

    >>> base = {"edges": [0.0, 1.0, 2.0], "counts": [50, 50], "missing": 0.0}
    >>> feature_drift({"x": base}, np.array([[0.2], [1.7]] * 100), ["x"])["x"].status
    'ok'
    """
    config = config or MonitorConfig()
    data = np.asarray(matrix, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != len(names):
        raise DataError(
            f"feature drift: expected a (rows, {len(names)}) matrix, got shape {data.shape}"
        )
    out: dict[str, FeatureDrift] = {}
    for j, name in enumerate(names):
        baseline = baselines.get(name)
        if baseline is not None:
            values = live_values(baseline, data[:, j], raw, name)
            out[name] = _drift(FeatureDrift, name, baseline, values, config)
    return out


def feature_psi(
    baseline: Mapping[str, Any],
    column: np.ndarray,
    raw: Mapping[str, Sequence[Any]] | None = None,
    name: str = "feature",
) -> float:
    """PSI of one feature's live values (``column`` of the model matrix, or the raw input of a
    ``categories`` baseline from ``raw``), as :func:`feature_drift` computes it."""
    return buckets(baseline, live_values(baseline, column, raw, name), name).psi


def live_values(
    baseline: Mapping[str, Any],
    column: np.ndarray,
    raw: Mapping[str, Sequence[Any]] | None,
    name: str,
) -> Any:
    """What :func:`edgeml.metrics.drift.buckets` takes for this baseline: the feature's numbers,
    or the raw input's categories as text (``None`` for missing) for a ``categories`` baseline."""
    if baseline_kind(baseline, name) != "categories":
        return column
    source = baseline.get("column")
    if raw is not None and isinstance(source, str) and source in raw:
        return [_category(value) for value in raw[source]]
    categories = baseline.get("categories")
    if not isinstance(categories, list):
        raise BundleError(f"manifest monitoring baseline of {name!r}: categories is not a list")
    whole = np.isfinite(column) & (column >= 0) & (column < len(categories))
    whole &= column == np.floor(np.where(whole, column, 0.0))
    return [str(categories[int(v)]) if ok else None for v, ok in zip(column, whole, strict=True)]


def raw_columns(baselines: Any, records: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The logged inputs of the columns the per-category baselines read, for ``raw`` (a key
    absent from a record is a missing value)."""
    if not isinstance(baselines, Mapping):
        raise BundleError("manifest monitoring.features is not a table")
    wanted = {b.get("column") for b in baselines.values() if isinstance(b, Mapping)}
    return {c: [r.get(c) for r in records] for c in wanted if isinstance(c, str)}


def prediction_drift(
    baseline: Mapping[str, Any], scores: npt.ArrayLike, config: MonitorConfig | None = None
) -> PredictionDrift:
    """Drift of the logged scores against the manifest's ``monitoring.prediction``.

    >>> drift = prediction_drift({"kind": "classes", "counts": [50, 50]}, [0, 0, 0, 1] * 50)
    >>> drift.kind, round(drift.psi, 4), drift.status
    ('classes', 0.2747, 'alert')
    """
    config = config or MonitorConfig()
    kind = baseline.get("kind")
    if kind == "numeric":
        return _drift(PredictionDrift, "prediction", baseline, scores, config)
    if kind != "classes":
        raise BundleError(
            f"manifest monitoring prediction baseline: kind {kind!r}; expected numeric or classes"
        )
    counts = baseline.get("counts", [])
    if not isinstance(counts, list):
        raise BundleError("manifest monitoring prediction baseline: counts is not a list")
    x = np.asarray(scores, dtype=np.float64).reshape(-1)
    valid = np.isfinite(x) & (x >= 0) & (x < len(counts)) & (x == np.floor(x))
    # Classes are categories whose codes are the class indices: one bucket each, then the
    # missing bucket (empty in training) and an "other" bucket for an impossible index.
    as_categories = {"kind": "categories", "categories": [str(i) for i in range(len(counts))],
                     "counts": counts, "other": 0, "missing": 0.0}  # fmt: skip
    texts = [
        str(int(v)) if ok else (None if np.isnan(v) else "?")
        for v, ok in zip(x, valid, strict=True)
    ]
    drift = _drift(PredictionDrift, "prediction", as_categories, texts, config)
    return PredictionDrift(**{**drift.__dict__, "kind": "classes"})


def _drift(
    cls: type[FeatureDrift],
    name: str,
    baseline: Mapping[str, Any],
    values: Any,
    config: MonitorConfig,
) -> Any:
    found: Buckets = buckets(baseline, values, name)
    kind = baseline_kind(baseline, name)
    base_missing = float(found.train[-1])
    status, reasons = _status(found, base_missing, config, kind)
    edges = baseline.get("edges", []) if kind == "quantiles" else []
    return cls(
        name=name, rows=found.rows, psi=found.psi, missing=found.missing,
        missing_baseline=base_missing, out_of_range=found.outside, status=status,
        reasons=reasons, kind=str(baseline.get("kind", "quantiles")), unseen=found.unseen,
        buckets=found.labels, edges=tuple(float(e) for e in edges),
        shares=tuple(found.live.tolist()), baseline_shares=tuple(found.train.tolist()),
    )  # fmt: skip


_OUTSIDE = {
    "quantiles": "outside the training range",
    "values": "values training never had",
    "categories": "categories training never had",
}


def _status(
    found: Buckets, base_missing: float, config: MonitorConfig, kind: str
) -> tuple[Status, tuple[str, ...]]:
    """The status and, when not ok, why (short phrases the summary turns into alerts), each
    saying how many rows it rests on."""
    rows = found.rows
    if rows == 0:
        return "no data", ()
    if rows < config.min_rows:
        return "too few rows", (f"too few rows ({rows:,} < {config.min_rows:,})",)
    psi, missing, outside = found.psi, found.missing, found.outside
    on = f" on {rows:,} rows"
    alerts = []
    if psi >= config.psi_alert:
        alerts.append(f"PSI {psi:.3f} ≥ {config.psi_alert:g}{on}")
    if missing - base_missing > config.missing_alert:
        alerts.append(
            f"missing {missing:.1%} vs {base_missing:.1%} in training "
            f"(rise > {config.missing_alert:.0%}){on}"
        )
    if outside > config.out_of_range_alert:
        alerts.append(f"{outside:.1%} {_OUTSIDE[kind]} (> {config.out_of_range_alert:.0%}){on}")
    if alerts:
        return "alert", tuple(alerts)
    if psi >= config.psi_warn:
        return "warn", (f"PSI {psi:.3f} ≥ {config.psi_warn:g}{on}",)
    return "ok", ()


def _category(value: Any) -> str | None:
    """A raw categorical value as the runtime reads it; one it cannot read counts as missing."""
    try:
        text = convert_value(value, "str")
    except ValueError:
        return None
    return text if isinstance(text, str) and text != "" else None


def _num(value: float) -> float | None:
    """A float for JSON: ``None`` for NaN and infinities."""
    return float(value) if math.isfinite(value) else None
