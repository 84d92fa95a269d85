"""Per-prediction explanations: LightGBM's exact TreeSHAP contributions (``pred_contrib``).

Columns are ``contrib_<feature>`` for every model feature (after the prep plan: the space the
trees split in) and ``contrib_bias`` (the expected raw score); a row's contributions sum to its
raw score — log-odds for binary, the value for regression. A multiclass model is explained for
the class it predicts (``explained_class``), so the columns do not multiply with the classes.

``booster`` is a ``lightgbm.Booster``; this module itself imports only NumPy.

>>> import lightgbm as lgb                                          # doctest: +SKIP
>>> explanation(booster, matrix, ["x", "y"], None)["contrib_bias"]  # doctest: +SKIP
array([-1.2, -1.2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["contribution_names", "explanation"]


def contribution_names(features: Sequence[str]) -> list[str]:
    """``contrib_<feature>`` per feature, then ``contrib_bias``."""
    return [*(f"contrib_{name}" for name in features), "contrib_bias"]


def explanation(
    booster: Any, matrix: np.ndarray, features: Sequence[str], classes: Sequence[Any] | None
) -> dict[str, np.ndarray]:
    """``{column: values}`` of the contributions of every row of the feature ``matrix``."""
    contrib = np.asarray(booster.predict(matrix, pred_contrib=True), dtype=np.float64)
    width = len(features) + 1
    out: dict[str, np.ndarray] = {}
    if classes is not None and len(classes) > 2:
        per_class = contrib.reshape(len(matrix), len(classes), width)
        chosen = per_class.sum(axis=2).argmax(axis=1)  # the largest raw score: the prediction
        contrib = per_class[np.arange(len(matrix)), chosen]
        out["explained_class"] = np.asarray([classes[k] for k in chosen])
    for j, name in enumerate(contribution_names(features)):
        out[name] = contrib[:, j]
    return out
