"""The rounds of a model trained on Dask: every round's metric on the early-stopping rows, and
the best of them kept.

``lightgbm.dask`` has no early stopping (every worker must run the same rounds), but it takes an
``eval_set`` and records the metric on it after every round (``evals_result_``). So the Dask
model is trained for a bounded number of rounds (:func:`round_cap`: twice what early stopping
chose on the sample, plus the patience, since more rows usually support more rounds), the
metric's best round is found afterwards (:func:`best_round`) and the model is cut there, as
``edgeml.train`` keeps an early-stopped booster's best iteration.

>>> best_round([0.50, 0.41, 0.40, 0.40, 0.43])
3
"""

from __future__ import annotations

from collections.abc import Sequence

from edgeml.config import TrainConfig

__all__ = ["best_round", "round_cap"]


def round_cap(probe_rounds: int, settings: TrainConfig) -> int:
    """The rounds the Dask model runs: twice the sample's early-stopped rounds plus the
    patience (``[train] early_stopping_rounds``), at most ``num_boost_round``.

    >>> round_cap(100, TrainConfig(early_stopping_rounds=50, num_boost_round=2000))
    250
    """
    wanted = 2 * probe_rounds + settings.early_stopping_rounds
    return max(1, min(settings.num_boost_round, wanted))


def best_round(curve: Sequence[float]) -> int:
    """The 1-based round with the lowest loss (the first of equal ones; every metric edgeml
    stops on is a loss: log loss or squared error)."""
    best, value = 0, float("inf")
    for i, loss in enumerate(curve):
        if loss < value:
            best, value = i, loss
    return best + 1
