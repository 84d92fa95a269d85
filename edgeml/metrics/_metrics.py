"""The metrics of a task in one call, inputs checked, edge cases defined (see :mod:`._scores`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

import numpy as np

from edgeml.errors import DataError
from edgeml.metrics._scores import METRICS, score_rows

Task = Literal["binary", "multiclass", "regression"]

METRIC_NAMES: Mapping[Task, tuple[str, ...]] = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "brier"),
    "multiclass": ("accuracy", "macro_f1", "weighted_f1", "log_loss", "brier"),
    "regression": ("rmse", "mae", "r2", "mape"),
}

# Rows of ``proba`` may drift from summing to one by float32 rounding in compiled models; larger
# drift means the caller passed scores, not probabilities, and log_loss would be meaningless.
_PROBA_SUM_TOL = 1e-4


def compute_metrics(
    task: Task,
    y_true: np.ndarray,
    *,
    prediction: np.ndarray,
    proba: np.ndarray | None = None,
) -> dict[str, float]:
    """Score predictions against the truth with the metrics of ``task``.

    Classification inputs are integer class codes ``0..K-1``; ``proba`` is ``(n, K)`` (binary
    too: two columns, column 1 the positive class ``1``). Without ``proba`` the probability
    metrics (``roc_auc``, ``pr_auc``, ``log_loss``, ``brier``) are left out of the result.

    Defined edge cases, so callers never see warnings or exceptions from them:

    * one class only in ``y_true``: ``roc_auc`` and ``pr_auc`` are NaN (a ranking needs both).
    * precision/recall/f1 with nothing predicted or present: 0 (``zero_division=0``).
    * ``log_loss`` scores every class ``0..K-1`` even when some are absent from ``y_true``.
    * ``macro_f1``/``weighted_f1`` average over the classes present in ``y_true`` or
      ``prediction`` (sklearn's default): a class that never occurs cannot be scored.
    * ``r2`` of a constant ``y_true`` is 1.0 for a perfect prediction, else 0.0 (sklearn's
      ``force_finite``); with a single row it is NaN.
    * ``mape`` is a fraction over the rows whose true value is non-zero, NaN when there are none:
      sklearn divides by ``max(|y|, eps)``, so one zero target makes its MAPE ~1e15.

    Empty inputs, mismatched lengths and NaN/inf values raise :class:`~edgeml.errors.DataError`
    naming the offending input.

    Example:
        >>> import numpy as np
        >>> compute_metrics("regression", np.array([1.0, 2.0]), prediction=np.array([1.0, 3.0]))
        {'rmse': 0.7071067811865476, 'mae': 0.5, 'r2': -1.0, 'mape': 0.25}
    """
    if task not in METRIC_NAMES:
        raise ValueError(f"unknown task {task!r}; expected one of {list(get_args(Task))}")
    y = _as_1d(y_true, "y_true")
    pred = _as_1d(prediction, "prediction")
    if pred.shape[0] != y.shape[0]:
        raise DataError(
            f"metric input 'prediction' has {pred.shape[0]} rows but 'y_true' has {y.shape[0]}"
        )
    if task == "regression":
        if proba is not None:
            raise DataError("metric input 'proba' must be None for a regression task")
        return _scores(task, y.astype(np.float64), pred.astype(np.float64), None)
    n_classes = 2 if task == "binary" else None
    y_codes = _as_codes(y, "y_true")
    pred_codes = _as_codes(pred, "prediction")
    p = None if proba is None else _as_proba(proba, y.shape[0], n_classes)
    k = p.shape[1] if p is not None else int(max(y_codes.max(), pred_codes.max())) + 1
    for name, codes in (("y_true", y_codes), ("prediction", pred_codes)):
        if n_classes is not None and codes.max() >= n_classes:
            raise DataError(
                f"metric input {name!r} of a binary task holds codes other than 0 and 1"
            )
        if codes.max() >= k:
            raise DataError(
                f"metric input {name!r} holds class code {int(codes.max())} but 'proba' has "
                f"only {k} columns"
            )
    return _scores(task, y_codes, pred_codes, p)


def _scores(
    task: Task, y: np.ndarray, prediction: np.ndarray, proba: np.ndarray | None
) -> dict[str, float]:
    """The task's metrics in :data:`METRIC_NAMES` order; without ``proba`` those that need it
    are left out."""
    out = {}
    for name in METRIC_NAMES[task]:
        if METRICS[name].needs != "proba":
            out[name] = score_rows(name, y, prediction)
        elif proba is not None:
            out[name] = score_rows(name, y, proba)
    return out


def _as_1d(values: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"metric input {name!r} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise DataError(f"metric input {name!r} is empty; metrics need at least one row")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"metric input {name!r} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64) if np.issubdtype(arr.dtype, np.floating) else arr
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise DataError(
            f"metric input {name!r} holds NaN or inf (first at row {bad}); "
            "metrics need finite values"
        )
    return arr


def _as_codes(arr: np.ndarray, name: str) -> np.ndarray:
    if np.issubdtype(arr.dtype, np.floating) and not np.all(arr == np.round(arr)):
        raise DataError(f"metric input {name!r} must hold integer class codes, got fractions")
    codes = arr.astype(np.int64)
    if codes.min() < 0:
        raise DataError(f"metric input {name!r} holds a negative class code {int(codes.min())}")
    return codes


def _as_proba(proba: np.ndarray, n_rows: int, n_classes: int | None) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != n_rows or p.shape[1] < 2:
        raise DataError(
            f"metric input 'proba' must have shape ({n_rows}, K) with K >= 2, got {p.shape}"
        )
    if n_classes is not None and p.shape[1] != n_classes:
        raise DataError(f"metric input 'proba' of a binary task must have 2 columns, got {p.shape}")
    if not np.isfinite(p).all():
        raise DataError("metric input 'proba' holds NaN or inf; metrics need finite values")
    if p.min() < 0 or p.max() > 1:
        raise DataError("metric input 'proba' holds values outside [0, 1]")
    sums = p.sum(axis=1)
    if np.abs(sums - 1).max() > _PROBA_SUM_TOL:
        row = int(np.argmax(np.abs(sums - 1)))
        raise DataError(
            f"metric input 'proba' row {row} sums to {sums[row]:.6g}, not 1; pass probabilities"
        )
    # Rescale away float rounding (rows summing to 0.99999994 in float32).
    return p / sums[:, None]
