"""Cross-validation summaries and the metadata that ranks models by a metric."""

from __future__ import annotations

import math

import numpy as np

from edgeml.metrics._metrics import Task
from edgeml.metrics._scores import METRICS

_PRIMARY: dict[str, str] = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "r2"}


def summarize_folds(fold_metrics: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of each metric over cross-validation folds.

    NaN fold values (say, ``roc_auc`` of a fold with one class) are skipped, as is a metric
    missing from a fold. ``std`` is the sample standard deviation (``ddof=1``) over two or more
    values, 0.0 over one; both are NaN when a metric has no finite value at all. Metrics keep
    their first-seen order.

    Example:
        >>> summarize_folds([{"r2": 0.5}, {"r2": 0.7}])
        {'r2': {'mean': 0.6, 'std': 0.14142135623730948}}
    """
    if not fold_metrics:
        raise ValueError("summarize_folds needs at least one fold")
    names = list(dict.fromkeys(name for fold in fold_metrics for name in fold))
    out: dict[str, dict[str, float]] = {}
    for name in names:
        values = np.array([fold.get(name, math.nan) for fold in fold_metrics], dtype=np.float64)
        values = values[~np.isnan(values)]
        if values.size == 0:
            # np.nanmean would warn on an all-NaN slice; the answer is simply undefined.
            out[name] = {"mean": math.nan, "std": math.nan}
        else:
            std = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
            out[name] = {"mean": float(np.mean(values)), "std": std}
    return out


def primary_metric(task: Task) -> str:
    """The metric that ranks models of ``task``: ``roc_auc``, ``macro_f1`` or ``r2``.

    Example:
        >>> primary_metric("binary")
        'roc_auc'
    """
    if task not in _PRIMARY:
        raise ValueError(f"unknown task {task!r}; expected binary, multiclass or regression")
    return _PRIMARY[task]


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` means a better model (False for losses and errors).

    Unknown names raise ``ValueError`` so a typo cannot silently flip a ranking.

    Example:
        >>> higher_is_better("rmse")
        False
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(METRICS)}")
    return METRICS[metric].higher_is_better
