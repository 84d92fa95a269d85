"""The report's explanations: global importance as the mean absolute TreeSHAP contribution, and
the top reasons behind a few sample predictions.

Rows come from ``--data`` when given, else from the bundle's reference rows (a sample of the
training inputs); a bundle with neither gets a note.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from edgeml.pipeline import Model
from edgeml.runtime import explanation
from edgeml.util.html import fmt, note, table

__all__ = ["contributions"]

SAMPLE_ROWS = 5
TOP_REASONS = 3


def contributions(model: Model, frame: pl.DataFrame | None, where: str, show: Any) -> str:
    """Bar chart of mean |contribution| per feature and a table of reasons for sample rows."""
    from edgeml.evaluate import _plots as plots

    if frame is None or frame.height == 0:
        return note("No rows to explain: the bundle keeps no reference rows; pass --data.")
    matrix = model._matrix(frame, where)
    features = model.plan.features
    explained = explanation(model.booster, matrix, features, model.target.classes)
    contrib = np.column_stack([explained[f"contrib_{f}"] for f in features])
    strength = np.abs(contrib).mean(axis=0)
    if not strength.size or strength.sum() <= 0:
        return note("Every contribution is zero: the model has no splits.")
    chart = show(
        plots.importance(
            features,
            strength,
            title="Feature importance (mean |contribution|)",
            xlabel="mean |contribution| to the raw score (TreeSHAP)",
        ),
        alt="mean absolute contribution per feature",
        ident="contributions",
        caption=f"Mean |contribution| of each feature to the raw score over {len(matrix):,} rows "
        f"({where}): exact TreeSHAP values, as edgeml predict --explain writes them.",
    )
    rows = []
    for i in range(min(SAMPLE_ROWS, len(matrix))):
        top = np.argsort(-np.abs(contrib[i]), kind="stable")[:TOP_REASONS]
        reasons = "; ".join(
            f"{features[j]} = {fmt(float(matrix[i, j]))}: {contrib[i, j]:+.3f}" for j in top
        )
        score = float(contrib[i].sum() + explained["contrib_bias"][i])
        rows.append([i + 1, fmt(score), fmt(float(explained["contrib_bias"][i])), reasons])
    head = [
        "row",
        "raw score",
        "bias",
        f"top {TOP_REASONS} reasons (feature = value: contribution)",
    ]
    reasons_table = table(head, rows, numeric=(0, 1, 2))
    return chart + f'<div id="reasons">{reasons_table}</div>'
