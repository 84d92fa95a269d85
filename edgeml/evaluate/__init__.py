"""Stage 5: metrics, the trivial baseline, cross-validation summaries and the HTML report.

Example:
    >>> import numpy as np
    >>> from edgeml.evaluate import compute_metrics
    >>> compute_metrics("binary", np.array([0, 1]), prediction=np.array([0, 1]))["accuracy"]
    1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeml.evaluate._baseline import baseline_predictions
from edgeml.evaluate._metrics import METRIC_NAMES, Task, compute_metrics
from edgeml.evaluate._summary import higher_is_better, primary_metric, summarize_folds

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


def __getattr__(name: str) -> Any:
    # The report loads bundles (edgeml._model imports this package) and matplotlib: imported on
    # first use, so `import edgeml.evaluate` stays light and free of an import cycle.
    if name == "report":
        from edgeml.evaluate._report import report

        return report
    raise AttributeError(f"module 'edgeml.evaluate' has no attribute {name!r}")
