"""Monitoring baselines: what each model feature looked like in training, for drift checks later."""

from __future__ import annotations

from typing import Any

import numpy as np

# Ten quantile bins resolve a PSI of 0.1 (the usual "some drift" mark) without sparse bins.
BINS = 10
# Bin edges are estimated on at most this many rows; counts use every row.
_EDGE_SAMPLE = 10_000


def feature_histograms(matrix: np.ndarray, names: list[str]) -> dict[str, dict[str, Any]]:
    """Per feature: quantile bin edges over finite training values, counts, and missing share.

    >>> h = feature_histograms(np.array([[1.0], [2.0], [np.nan], [4.0]]), ["x"])
    >>> h["x"]["missing"], sum(h["x"]["counts"])
    (0.25, 3)
    """
    rows = np.arange(len(matrix))
    if len(rows) > _EDGE_SAMPLE:
        rows = np.sort(np.random.default_rng(0).choice(len(rows), _EDGE_SAMPLE, replace=False))
    quantiles = np.linspace(0.0, 1.0, BINS + 1)
    out: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(names):
        column = matrix[:, j]
        missing = float(np.isnan(column).mean()) if len(column) else 0.0
        finite = column[np.isfinite(column)]
        if finite.size == 0:
            out[name] = {"edges": [], "counts": [], "missing": missing}
            continue
        sample = column[rows]
        sample = sample[np.isfinite(sample)]
        edges = np.unique(np.quantile(sample if sample.size else finite, quantiles))
        # The sample may miss the extremes; widen the outer edges so every value is counted.
        edges[0], edges[-1] = min(edges[0], finite.min()), max(edges[-1], finite.max())
        # Bins are [edge, next edge), the last one closed, as numpy.histogram has them;
        # searchsorted + bincount is ~3x faster than histogram's non-uniform path.
        counts = np.bincount(
            np.searchsorted(edges[1:-1], finite, side="right"), minlength=max(edges.size - 1, 1)
        )
        out[name] = {"edges": edges.tolist(), "counts": counts.tolist(), "missing": missing}
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
    score = np.asarray(output, dtype=np.float64).reshape(-1, 1)
    return {"kind": "numeric", **feature_histograms(score, ["score"])["score"]}
