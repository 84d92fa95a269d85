"""Monitoring baselines: what each model feature looked like in training, for drift checks later."""

from __future__ import annotations

from typing import Any

import numpy as np

# Ten quantile bins resolve a PSI of 0.1 (the usual "some drift" mark) without sparse bins.
BINS = 10


def feature_histograms(matrix: np.ndarray, names: list[str]) -> dict[str, dict[str, Any]]:
    """Per feature: quantile bin edges over finite training values, counts, and missing share.

    >>> h = feature_histograms(np.array([[1.0], [2.0], [np.nan], [4.0]]), ["x"])
    >>> h["x"]["missing"], sum(h["x"]["counts"])
    (0.25, 3)
    """
    out: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(names):
        column = matrix[:, j]
        finite = column[np.isfinite(column)]
        missing = float(np.isnan(column).mean()) if len(column) else 0.0
        if finite.size == 0:
            out[name] = {"edges": [], "counts": [], "missing": missing}
            continue
        edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, BINS + 1)))
        if edges.size == 1:
            counts = np.array([finite.size])
        else:
            counts, _ = np.histogram(finite, bins=edges)
        out[name] = {"edges": edges.tolist(), "counts": counts.tolist(), "missing": missing}
    return out
