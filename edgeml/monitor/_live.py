"""Live model quality: metrics on the logged rows that got a label back, against the holdout.

NumPy only (the server imports this inside a slim image): the metrics are
:mod:`edgeml.metrics`' kernels, the same that score training, search and retraining.

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
from edgeml.metrics import primary_metric, score_rows

__all__ = [
    "MIN_LABELLED",
    "PRIMARY",
    "LiveAccuracy",
    "live_accuracy",
    "live_metrics",
    "roc_auc",
]

#: The metric that ranks models of each task (:func:`edgeml.metrics.primary_metric`).
PRIMARY: Mapping[str, str] = {
    task: primary_metric(task) for task in ("binary", "multiclass", "regression")
}

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
    truth = (np.asarray(y).reshape(-1) == 1).astype(np.int64)
    return score_rows("roc_auc", truth, np.asarray(score, dtype=np.float64).reshape(-1))


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
            "accuracy": score_rows("accuracy", codes, predicted),
            "f1": score_rows("f1", codes, predicted),
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
    out = {
        "accuracy": score_rows("accuracy", codes, predicted),
        "macro_f1": score_rows("macro_f1", codes, predicted),
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
    (``Manifest.metrics.holdout``) for a fall beyond ``config.accuracy_drop``.

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


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    inside = (y >= 0) & (y < proba.shape[1])
    if not inside.all():
        raise DataError(f"live metrics: a label code is outside 0..{proba.shape[1] - 1}")
    return score_rows("log_loss", y, proba)


def _regression(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {name: score_rows(name, y, predicted) for name in ("rmse", "mae", "r2")}


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
