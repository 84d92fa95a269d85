"""Stage 5: metrics, the trivial baseline and cross-validation summaries.

Example:
    >>> import numpy as np
    >>> from edgeml.evaluate import compute_metrics
    >>> compute_metrics("binary", np.array([0, 1]), prediction=np.array([0, 1]))["accuracy"]
    1.0
"""

from __future__ import annotations

from edgeml.evaluate._baseline import baseline_predictions
from edgeml.evaluate._metrics import METRIC_NAMES, Task, compute_metrics
from edgeml.evaluate._summary import higher_is_better, primary_metric, summarize_folds

__all__ = [
    "METRIC_NAMES",
    "Task",
    "baseline_predictions",
    "compute_metrics",
    "higher_is_better",
    "primary_metric",
    "summarize_folds",
]
