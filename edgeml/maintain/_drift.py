"""Drift of live model features and predictions against the training baselines in the manifest.

NumPy and the standard library only: the server imports this inside a slim image.

A feature's baseline (``manifest["monitoring"]["features"][name]``) holds quantile bin edges over
the finite training values, counts per bin ([edge, next edge), the last closed) and the share
missing. Live values are binned on the same edges, a value outside the training range going to
the first or last bin (±inf too), and missing values (NaN) form one more bucket of their own, so
a rise in missing values moves the PSI as well as the ``missing`` share. An empty bucket counts as
a share of ``PSI_EPSILON``, as :func:`edgeml.kernels.psi_from_counts` has it.

Status, from the ``[monitor]`` thresholds: ``"alert"`` when PSI ≥ ``psi_alert``, the missing share
rose by more than ``missing_alert`` or more than ``out_of_range_alert`` of the values lie outside
the training range; ``"warn"`` when PSI ≥ ``psi_warn``; ``"no data"`` for an empty window.

>>> base = {"edges": [0.0, 1.0, 2.0], "counts": [50, 50], "missing": 0.0}
>>> drift = feature_drift({"x": base}, np.array([[0.5], [1.5], [9.0], [np.nan]]), ["x"])
>>> drift["x"].status, drift["x"].out_of_range, drift["x"].missing
('alert', 0.25, 0.25)
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

__all__ = [
    "PSI_EPSILON",
    "FeatureDrift",
    "PredictionDrift",
    "Status",
    "feature_drift",
    "feature_shares",
    "prediction_drift",
    "psi_from_counts",
]

#: Share given to an empty bucket so the logarithm stays finite (the kernel's value).
PSI_EPSILON = 1e-4

Status = Literal["ok", "warn", "alert", "no data"]


@dataclass(frozen=True, kw_only=True)
class FeatureDrift:
    """How one feature's recent values compare with training.

    ``shares`` and ``baseline_shares`` are per bucket: the value bins, then missing. ``missing``
    and ``out_of_range`` are shares of the window's rows; every number is NaN without rows.
    """

    name: str
    rows: int
    psi: float
    missing: float
    missing_baseline: float
    out_of_range: float
    status: Status
    reasons: tuple[str, ...] = ()
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
            "rows": self.rows,
            "psi": _num(self.psi),
            "missing": _num(self.missing),
            "missing_baseline": _num(self.missing_baseline),
            "out_of_range": _num(self.out_of_range),
            "status": self.status,
            "reasons": list(self.reasons),
            "edges": [_num(e) for e in self.edges],
            "shares": [_num(s) for s in self.shares],
            "baseline_shares": [_num(s) for s in self.baseline_shares],
        }


@dataclass(frozen=True, kw_only=True)
class PredictionDrift(FeatureDrift):
    """Drift of the logged score: ``kind`` ``"numeric"`` (binary probability, regression value;
    buckets as for a feature) or ``"classes"`` (predicted class index; one bucket per class,
    no missing bucket, ``edges`` empty)."""

    kind: Literal["numeric", "classes"] = "numeric"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **super().to_dict()}


def psi_from_counts(
    expected: npt.ArrayLike, actual: npt.ArrayLike, epsilon: float = PSI_EPSILON
) -> float:
    """``Σ (a - e)·ln(a / e)`` over bucket shares, an empty bucket counted as ``epsilon``.

    NaN when either side is empty. Counts may be fractional (shares work as well).

    >>> round(psi_from_counts([50, 50], [90, 10]), 6)
    0.87889
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape or e.ndim != 1:
        raise DataError(f"PSI needs two 1-D count vectors of one length, got {e.shape}, {a.shape}")
    if e.sum() <= 0 or a.sum() <= 0:
        return math.nan
    p = np.where(e > 0, e / e.sum(), epsilon)
    q = np.where(a > 0, a / a.sum(), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def feature_shares(
    baseline: Mapping[str, Any], values: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Bucket shares of training and of ``values`` on the baseline's bins (missing last), plus
    the live missing and out-of-range shares (NaN without values).

    A feature with no finite training value has one value bucket ("any value") beside missing,
    and every live value is out of its (empty) range.

    >>> train, live, missing, out = feature_shares(
    ...     {"edges": [0.0, 1.0, 2.0], "counts": [1, 3], "missing": 0.0}, [0.5, np.nan])
    >>> train.tolist(), live.tolist(), missing, out
    ([0.25, 0.75, 0.0], [0.5, 0.0, 0.5], 0.5, 0.0)
    """
    edges = np.asarray(baseline.get("edges", []), dtype=np.float64)
    counts = np.asarray(baseline.get("counts", []), dtype=np.float64)
    base_missing = float(baseline.get("missing", 0.0))
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    missing = np.isnan(x)
    present = x[~missing]
    if edges.size == 0:
        train_values = np.array([0.0 if counts.sum() == 0 else 1.0])
        live_counts = np.array([float(present.size)])
        out_of_range = float(present.size)
    else:
        if counts.size != max(edges.size - 1, 1):
            raise BundleError(
                f"manifest monitoring baseline: {counts.size} counts do not fit {edges.size} edges"
            )
        train_values = counts
        bins = np.searchsorted(edges[1:-1], present, side="right")
        live_counts = np.bincount(bins, minlength=counts.size).astype(np.float64)
        out_of_range = float(np.count_nonzero((present < edges[0]) | (present > edges[-1])))
    # The training histogram counts finite values only; scaled by the non-missing share it
    # becomes the same "share of all rows" as the missing bucket beside it.
    total = train_values.sum()
    train = train_values / total * (1.0 - base_missing) if total > 0 else train_values * 0.0
    train = np.append(train, base_missing)
    n = x.size
    if n == 0:
        return train, np.append(live_counts, 0.0), math.nan, math.nan
    live = np.append(live_counts, float(np.count_nonzero(missing))) / n
    return train, live, float(missing.mean()), out_of_range / n


def feature_drift(
    baselines: Mapping[str, Mapping[str, Any]],
    matrix: npt.ArrayLike,
    names: Sequence[str],
    config: MonitorConfig | None = None,
) -> dict[str, FeatureDrift]:
    """Drift of each column of ``matrix`` (model features named by ``names``) that has a baseline.

    Columns without a baseline are left out (an older bundle may lack some).

    >>> base = {"edges": [0.0, 1.0, 2.0], "counts": [50, 50], "missing": 0.0}
    >>> feature_drift({"x": base}, np.array([[0.2], [1.7]]), ["x"])["x"].status
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
            out[name] = _numeric_drift(FeatureDrift, name, baseline, data[:, j], config)
    return out


def prediction_drift(
    baseline: Mapping[str, Any], scores: npt.ArrayLike, config: MonitorConfig | None = None
) -> PredictionDrift:
    """Drift of the logged scores against ``manifest["monitoring"]["prediction"]``.

    >>> drift = prediction_drift({"kind": "classes", "counts": [50, 50]}, [0, 0, 0, 1])
    >>> drift.kind, round(drift.psi, 4), drift.status
    ('classes', 0.2747, 'alert')
    """
    config = config or MonitorConfig()
    kind = baseline.get("kind")
    if kind == "numeric":
        return _numeric_drift(PredictionDrift, "prediction", baseline, scores, config)
    if kind != "classes":
        raise BundleError(
            f"manifest monitoring prediction baseline: kind {kind!r}; expected numeric or classes"
        )
    counts = np.asarray(baseline.get("counts", []), dtype=np.float64)
    x = np.asarray(scores, dtype=np.float64).reshape(-1)
    valid = np.isfinite(x) & (x >= 0) & (x < counts.size) & (x == np.floor(x))
    live = np.bincount(x[valid].astype(np.int64), minlength=counts.size).astype(np.float64)
    n = x.size
    train = counts / counts.sum() if counts.sum() > 0 else counts
    if n == 0:
        return PredictionDrift(
            kind="classes", name="prediction", rows=0, psi=math.nan, missing=math.nan,
            missing_baseline=0.0, out_of_range=math.nan, status="no data",
            baseline_shares=tuple(train.tolist()), shares=tuple(0.0 for _ in train),
        )  # fmt: skip
    missing = float(np.isnan(x).mean())
    out_of_range = float((~valid & ~np.isnan(x)).mean())
    value = psi_from_counts(counts, live)
    status, reasons = _status(value, missing, 0.0, out_of_range, config)
    return PredictionDrift(
        kind="classes", name="prediction", rows=n, psi=value, missing=missing,
        missing_baseline=0.0, out_of_range=out_of_range, status=status, reasons=reasons,
        shares=tuple((live / n).tolist()), baseline_shares=tuple(train.tolist()),
    )  # fmt: skip


def _numeric_drift(
    cls: type[FeatureDrift],
    name: str,
    baseline: Mapping[str, Any],
    values: npt.ArrayLike,
    config: MonitorConfig,
) -> Any:
    train, live, missing, out_of_range = feature_shares(baseline, values)
    rows = int(np.asarray(values).size)
    base_missing = float(baseline.get("missing", 0.0))
    value = psi_from_counts(train, live) if rows else math.nan
    status, reasons = _status(value, missing, base_missing, out_of_range, config)
    return cls(
        name=name, rows=rows, psi=value, missing=missing, missing_baseline=base_missing,
        out_of_range=out_of_range, status=status, reasons=reasons,
        edges=tuple(float(e) for e in baseline.get("edges", [])),
        shares=tuple(live.tolist()), baseline_shares=tuple(train.tolist()),
    )  # fmt: skip


def _status(
    psi: float, missing: float, base_missing: float, out_of_range: float, config: MonitorConfig
) -> tuple[Status, tuple[str, ...]]:
    """The status and, when not ok, why (short phrases the summary turns into alerts)."""
    if math.isnan(psi) and math.isnan(missing):
        return "no data", ()
    alerts = []
    if psi >= config.psi_alert:
        alerts.append(f"PSI {psi:.3f} ≥ {config.psi_alert:g}")
    if missing - base_missing > config.missing_alert:
        alerts.append(
            f"missing {missing:.1%} vs {base_missing:.1%} in training "
            f"(rise > {config.missing_alert:.0%})"
        )
    if out_of_range > config.out_of_range_alert:
        alerts.append(
            f"{out_of_range:.1%} outside the training range (> {config.out_of_range_alert:.0%})"
        )
    if alerts:
        return "alert", tuple(alerts)
    if psi >= config.psi_warn:
        return "warn", (f"PSI {psi:.3f} ≥ {config.psi_warn:g}",)
    return "ok", ()


def _num(value: float) -> float | None:
    """A float for JSON: ``None`` for NaN and infinities."""
    return float(value) if math.isfinite(value) else None
