"""The trivial baseline every model must beat: no features, only the training target."""

from __future__ import annotations

import numpy as np

from edgeml.errors import DataError
from edgeml.metrics._metrics import Task


def baseline_predictions(
    task: Task,
    y_train: np.ndarray,
    n: int,
    *,
    n_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predict ``n`` rows without looking at them: ``(prediction, proba)``.

    Classification predicts the most frequent training class (the lowest code on a tie) with the
    training class frequencies as ``proba`` of shape ``(n, n_classes)``; ``n_classes`` defaults
    to ``max(y_train) + 1`` and should be given when a class may be absent from ``y_train``.
    Regression predicts the training mean and returns ``proba=None``.

    Example:
        >>> import numpy as np
        >>> pred, proba = baseline_predictions("binary", np.array([0, 1, 1]), 2)
        >>> pred.tolist(), proba.round(3).tolist()
        ([1, 1], [[0.333, 0.667], [0.333, 0.667]])
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    y = np.asarray(y_train)
    if y.ndim != 1 or y.shape[0] == 0:
        raise DataError(f"baseline needs a non-empty 1-D training target, got shape {y.shape}")
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number):
        raise DataError(f"baseline training target must be numeric, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
        raise DataError("baseline training target holds NaN or inf")
    if task == "regression":
        return np.full(n, float(np.mean(y)), dtype=np.float64), None
    if task not in ("binary", "multiclass"):
        raise ValueError(f"unknown task {task!r}; expected binary, multiclass or regression")
    if np.issubdtype(y.dtype, np.floating) and not np.all(y == np.round(y)):
        raise DataError("baseline training target must hold integer class codes, got fractions")
    codes = y.astype(np.int64)
    if codes.min() < 0:
        raise DataError(f"baseline training target holds a negative class code {codes.min()}")
    k = n_classes if n_classes is not None else int(codes.max()) + 1
    if task == "binary":
        k = max(k, 2)
    if codes.max() >= k:
        raise DataError(
            f"baseline training target holds class code {codes.max()} but n_classes is {k}"
        )
    freq = np.bincount(codes, minlength=k) / codes.shape[0]
    prediction = np.full(n, int(np.argmax(freq)), dtype=np.int64)
    return prediction, np.tile(freq, (n, 1))
