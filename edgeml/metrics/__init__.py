"""Metrics in NumPy: every metric once (weighted, with its task and direction), scores by task,
the trivial baseline and cross-validation summaries. The PSI behind every drift number is
:mod:`edgeml.metrics.drift`.

A leaf of the package: evaluation, search, live monitoring and retraining all score through it.

Example:
    >>> import numpy as np
    >>> from edgeml.metrics import compute_metrics
    >>> compute_metrics("binary", np.array([0, 1]), prediction=np.array([0, 1]))["accuracy"]
    1.0
"""

from edgeml.metrics._baseline import baseline_predictions
from edgeml.metrics._metrics import METRIC_NAMES, Task, compute_metrics
from edgeml.metrics._scores import METRICS, Metric, score_rows
from edgeml.metrics._summary import higher_is_better, primary_metric, summarize_folds

__all__ = [
    "METRICS",
    "METRIC_NAMES",
    "Metric",
    "Task",
    "baseline_predictions",
    "compute_metrics",
    "higher_is_better",
    "primary_metric",
    "score_rows",
    "summarize_folds",
]
