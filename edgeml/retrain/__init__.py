"""Stage 6d, retrain: a challenger trained on fresh rows replaces the champion only when it wins.

>>> from edgeml.retrain import retrain
>>> retrain("models/churn/current", "fresh.csv").promoted                  # doctest: +SKIP
False
"""

from edgeml.retrain._compare import Comparison, paired_bootstrap
from edgeml.retrain._data import MIN_HOLDOUT_ROWS, gather_rows
from edgeml.retrain._retrain import RetrainResult, retrain

__all__ = [
    "MIN_HOLDOUT_ROWS",
    "Comparison",
    "RetrainResult",
    "gather_rows",
    "paired_bootstrap",
    "retrain",
]
