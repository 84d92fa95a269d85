"""Live model quality: metrics on the logged rows that got a label back, against the holdout.

NumPy and the standard library only (the server imports this inside a slim image), so the
metrics are written out here rather than taken from scikit-learn; the tests check them against
``sklearn.metrics``. They follow its conventions: ``roc_auc`` from average ranks (ties count
half), ``log_loss`` on probabilities clipped to ``[eps, 1 - eps]``, ``f1`` of class 1 and
``macro_f1`` over the classes present in the labels or the predictions (0 when undefined), and
``r2`` of a constant truth 1.0 for a perfect prediction, else 0.0.

The primary metric (``roc_auc``, ``macro_f1``, ``r2``; higher is better for each) is compared
with the manifest's holdout value: a fall of more than ``[monitor] accuracy_drop`` is an alert,
once at least :data:`MIN_LABELLED` rows are labelled.

>>> live = live_accuracy("regression", [1.0, 2.0, 3.0], prediction=[1.0, 2.0, 4.0])
>>> live.metrics["mae"], live.primary, live.alert
(0.3333333333333333, 'r2', False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from edgeml.config import MonitorConfig
from edgeml.errors import DataError

__all__ = [
    "MIN_LABELLED",
    "PRIMARY",
    "LiveAccuracy",
    "live_accuracy",
    "live_metrics",
    "roc_auc",
]

#: The metric that ranks models of each task. It repeats ``edgeml.evaluate.primary_metric``,
#: which cannot be imported here (it loads scikit-learn); a test keeps the two equal.
PRIMARY: Mapping[str, str] = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "r2"}

#: Fewer labelled rows than this give a metric too noisy to alert on (it is still reported).
MIN_LABELLED = 30


@dataclass(frozen=True, kw_only=True)
class LiveAccuracy:
    """Metrics on the labelled rows, and the primary one against the holdout."""

    task: str
    rows: int
    metrics: dict[str, float] = field(default_factory=dict)
    primary: str = ""
    live: float = math.nan
    holdout: float = math.nan
    drop: float = math.nan
    alert: bool = False
    reason: str = ""
    holdout_metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: NaN becomes ``None``.

        >>> LiveAccuracy(task="binary", rows=0).to_dict()["live"] is None
        True
        """
        return {
            "task": self.task,
            "rows": self.rows,
            "metrics": {k: _num(v) for k, v in self.metrics.items()},
            "primary": self.primary,
            "live": _num(self.live),
            "holdout": _num(self.holdout),
            "drop": _num(self.drop),
            "alert": self.alert,
            "reason": self.reason,
            "holdout_metrics": {k: _num(v) for k, v in self.holdout_metrics.items()},
        }


def roc_auc(y: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic on average ranks; NaN unless
    both classes occur.

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    truth = np.asarray(y).reshape(-1) == 1
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    positives = int(truth.sum())
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # Average rank of each distinct score: tied scores share the mean of their positions.
    ends = np.cumsum(counts)
    average = ends - (counts - 1) / 2.0
    ranks = average[inverse]
    return float((ranks[truth].sum() - positives * (positives + 1) / 2.0) / positives / negatives)


def live_metrics(
    task: str,
    y: npt.ArrayLike,
    *,
    proba: npt.ArrayLike | None = None,
    prediction: npt.ArrayLike | None = None,
) -> dict[str, float]:
    """Metrics of ``task`` on labelled rows.

    Classification takes class codes ``y`` and ``proba``: binary the positive-class
    probability ``(n,)``, multiclass ``(n, K)``; the prediction is the most probable class
    (binary: probability above 0.5, as the server decides). Multiclass without ``proba`` takes
    ``prediction`` codes and leaves out ``log_loss``. Regression takes values ``y`` and
    ``prediction``. Empty inputs give ``{}``.

    >>> live_metrics("binary", [0, 1, 1], proba=[0.2, 0.7, 0.4])["accuracy"]
    0.6666666666666666
    """
    truth = np.asarray(y, dtype=np.float64).reshape(-1)
    if truth.size == 0:
        return {}
    if task == "regression":
        if prediction is None:
            raise DataError("live metrics: a regression task needs the predicted values")
        return _regression(truth, _vector(prediction, truth.size, "prediction"))
    codes = truth.astype(np.int64)
    if task == "binary":
        if proba is None:
            raise DataError("live metrics: a binary task needs the positive-class probability")
        p = _vector(proba, truth.size, "proba")
        predicted = (p > 0.5).astype(np.int64)
        return {
            "accuracy": float(np.mean(predicted == codes)),
            "f1": _f1(codes, predicted, 1),
            "roc_auc": roc_auc(codes, p),
            "log_loss": _log_loss(codes, np.column_stack([1.0 - p, p])),
        }
    if task != "multiclass":
        raise DataError(f"live metrics: unknown task {task!r}; expected binary, multiclass or "
                        "regression")  # fmt: skip
    matrix = None if proba is None else np.asarray(proba, dtype=np.float64)
    if matrix is not None:
        if matrix.ndim != 2 or matrix.shape[0] != truth.size:
            raise DataError(f"live metrics: proba must be ({truth.size}, K), got {matrix.shape}")
        predicted = matrix.argmax(axis=1)
    elif prediction is not None:
        predicted = _vector(prediction, truth.size, "prediction").astype(np.int64)
    else:
        raise DataError("live metrics: a multiclass task needs proba or prediction")
    present = np.union1d(codes, predicted)
    out = {
        "accuracy": float(np.mean(predicted == codes)),
        "macro_f1": float(np.mean([_f1(codes, predicted, int(k)) for k in present])),
    }
    if matrix is not None:
        out["log_loss"] = _log_loss(codes, matrix)
    return out


def live_accuracy(
    task: str,
    y: npt.ArrayLike,
    *,
    proba: npt.ArrayLike | None = None,
    prediction: npt.ArrayLike | None = None,
    holdout: Mapping[str, float] | None = None,
    config: MonitorConfig | None = None,
    primary: str | None = None,
) -> LiveAccuracy:
    """:func:`live_metrics`, with the primary metric checked against ``holdout``
    (``manifest["metrics"]["holdout"]``) for a fall beyond ``config.accuracy_drop``.

    >>> y = [0, 1] * 20
    >>> live = live_accuracy("binary", y, proba=[0.6, 0.4] * 20, holdout={"roc_auc": 0.9})
    >>> live.live, live.alert
    (0.0, True)
    """
    config = config or MonitorConfig()
    primary = primary or PRIMARY.get(task, "")
    metrics = live_metrics(task, y, proba=proba, prediction=prediction)
    rows = int(np.asarray(y).size)
    live = float(metrics.get(primary, math.nan))
    base = float((holdout or {}).get(primary, math.nan))
    drop = base - live
    alert = rows >= MIN_LABELLED and math.isfinite(drop) and drop > config.accuracy_drop
    reason = (
        f"live {primary} {live:.4f} is {drop:.4f} below the holdout {base:.4f} "
        f"(allowed drop {config.accuracy_drop:g}, {rows} labelled rows)"
        if alert
        else ""
    )
    return LiveAccuracy(
        task=task, rows=rows, metrics=metrics, primary=primary, live=live, holdout=base,
        drop=drop, alert=alert, reason=reason,
        holdout_metrics={k: float(v) for k, v in (holdout or {}).items() if k in metrics},
    )  # fmt: skip


def _vector(values: npt.ArrayLike, n: int, name: str) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64).reshape(-1)
    if out.size != n:
        raise DataError(f"live metrics: {name} has {out.size} values but there are {n} labels")
    return out


def _f1(y: np.ndarray, predicted: np.ndarray, k: int) -> float:
    """F1 of class ``k``; 0 when it is neither present nor predicted (sklearn's zero_division)."""
    hit = np.count_nonzero((predicted == k) & (y == k))
    denominator = np.count_nonzero(predicted == k) + np.count_nonzero(y == k)
    return 2.0 * float(hit) / float(denominator) if denominator else 0.0


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    eps = np.finfo(np.float64).eps
    inside = (y >= 0) & (y < proba.shape[1])
    if not inside.all():
        raise DataError(f"live metrics: a label code is outside 0..{proba.shape[1] - 1}")
    chosen = np.clip(proba[np.arange(y.size), y], eps, 1.0 - eps)
    return float(-np.mean(np.log(chosen)))


def _regression(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    error = predicted - y
    residual = float(np.sum(error**2))
    total = float(np.sum((y - y.mean()) ** 2))
    if y.size < 2:
        r2 = math.nan
    elif total == 0.0:
        r2 = 1.0 if residual == 0.0 else 0.0
    else:
        r2 = 1.0 - residual / total
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": r2,
    }


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
