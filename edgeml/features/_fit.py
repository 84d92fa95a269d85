"""Fit a FeaturePlan: candidates from the config and roles, computed once, then selected."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgeml.data import logical_schema
from edgeml.features._apply import apply_features, float_column
from edgeml.features._candidates import candidate_plan
from edgeml.features._select import select_features
from edgeml.kernels import mutual_information
from edgeml.spec.feature_plan import FeaturePlan
from edgeml.util.progress import SILENT, Reporter

if TYPE_CHECKING:
    from edgeml.learn import Prepared


def fit_features(prepared: Prepared, *, reporter: Reporter = SILENT) -> FeaturePlan:
    """Build, compute and select the features of ``prepared``'s config on its training rows."""
    config, settings = prepared.config.features, prepared.config.train
    schema = logical_schema(prepared.frame)
    numeric = [c for c, t in schema.items() if c not in prepared.roles and t in ("float", "int")]
    if config.interactions == "auto" and numeric:
        numeric = _by_information(prepared, numeric)
    plan = candidate_plan(
        config,
        numeric=numeric,
        known=schema,
        time_col=settings.time_col,
        entity_col=settings.entity_col,
        target=prepared.target.name,
        task=prepared.target.task,
    )
    if not plan.steps:
        return plan
    reporter.status(f"computing {len(plan.outputs)} candidate features")
    candidates = apply_features(
        plan, prepared.frame, target=history_target(prepared), source=prepared.source
    )
    return select_features(prepared, plan, candidates, reporter=reporter).pruned()


def history_target(prepared: Prepared) -> np.ndarray:
    """The encoded target as floats, for target-history features."""
    return prepared.y.astype(np.float64)


def _by_information(prepared: Prepared, numeric: list[str]) -> list[str]:
    """Numeric columns, most informative about the target first (on training rows)."""
    rows = prepared.train_rows
    frame = prepared.frame[rows]
    matrix = np.column_stack([float_column(frame, c) for c in numeric])
    task = "regression" if prepared.target.task == "regression" else "classification"
    scores = mutual_information(matrix, prepared.y[rows].astype(np.float64), task=task)  # type: ignore[arg-type]
    return [numeric[i] for i in np.argsort(-scores, kind="stable")]


__all__ = ["fit_features", "history_target"]
