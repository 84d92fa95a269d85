"""Monitoring baselines: what each model feature looked like in training, for drift checks later.

The baselines and their kinds are :mod:`edgeml.metrics.drift`'s: per category for a categorical
input (native or frequency encoding), per value for a feature with few values, quantile bins
otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeml.metrics.drift import EDGE_SAMPLE, category_baseline, numeric_baseline, quantile_baseline

#: A categorical feature's source: (input column, training vocabulary, raw training values).
Categorical = tuple[str, Sequence[str], Sequence[str | None]]


def feature_histograms(
    matrix: np.ndarray,
    names: list[str],
    categorical: Mapping[str, Categorical] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per feature, its baseline: ``categories`` for the features named in ``categorical``
    (counted on the raw training values), else ``values`` or ``quantiles``.

    >>> h = feature_histograms(np.array([[1.0], [2.0], [np.nan], [4.0]]), ["x"])
    >>> h["x"]["kind"], h["x"]["missing"], sum(h["x"]["counts"])
    ('values', 0.25, 3)
    """
    rows = None
    if len(matrix) > EDGE_SAMPLE:
        rows = np.sort(np.random.default_rng(0).choice(len(matrix), EDGE_SAMPLE, replace=False))
    out: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(names):
        if categorical and name in categorical:
            out[name] = category_baseline(*categorical[name])
        else:
            out[name] = numeric_baseline(matrix[:, j], rows)
    return out


def prediction_baseline(task: str, output: np.ndarray) -> dict[str, Any]:
    """What the model predicted on training rows, for prediction drift later.

    The score is the one the prediction log keeps: the positive-class probability (binary), the
    value (regression) — both as a quantile histogram — or the predicted class (multiclass), as
    counts per class.

    >>> prediction_baseline("multiclass", np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]))
    {'kind': 'classes', 'counts': [2, 1]}
    """
    if task == "multiclass":
        classes = np.asarray(output).argmax(axis=1)
        counts = np.bincount(classes, minlength=np.asarray(output).shape[1])
        return {"kind": "classes", "counts": counts.tolist()}
    score = np.asarray(output, dtype=np.float64).reshape(-1)
    return {**quantile_baseline(score), "kind": "numeric"}
