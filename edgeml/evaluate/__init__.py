"""Stage 5, evaluate: a bundle's HTML report (metrics, baseline, curves, explanations).

The metrics themselves live in :mod:`edgeml.metrics` (a leaf every stage scores with); they are
named here too, so ``from edgeml.evaluate import compute_metrics`` keeps working.

Example:
    >>> import numpy as np
    >>> from edgeml.evaluate import compute_metrics
    >>> compute_metrics("binary", np.array([0, 1]), prediction=np.array([0, 1]))["accuracy"]
    1.0
"""

from typing import TYPE_CHECKING

from edgeml.metrics import (
    METRIC_NAMES,
    Task,
    baseline_predictions,
    compute_metrics,
    higher_is_better,
    primary_metric,
    summarize_folds,
)
from edgeml.util.lazy import lazy_exports

if TYPE_CHECKING:
    from edgeml.evaluate._report import report

__all__ = [
    "METRIC_NAMES",
    "Task",
    "baseline_predictions",
    "compute_metrics",
    "higher_is_better",
    "primary_metric",
    "report",
    "summarize_folds",
]

# The report loads bundles through the training stack (Polars, LightGBM) and draws with
# matplotlib: imported on first use, so the monitor report can share this package's HTML and
# plot helpers without them.
__getattr__, __dir__ = lazy_exports(__name__, {"report": "edgeml.evaluate._report"})
