"""One fit of the pipeline on a set of rows: prep plan + booster, and scoring it on other rows.

Cross-validation folds and the final model go through the same two functions, so the prep plan is
always learned on the rows the booster is trained on and never sees the rows it is scored on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from edgeml.config import Config
from edgeml.errors import DataError
from edgeml.learn._booster import fit_booster, predict_proba
from edgeml.learn._split import Splitter
from edgeml.learn._target import TargetEncoding
from edgeml.metrics import baseline_predictions, compute_metrics
from edgeml.prep import PrepPlan, apply_prep, fit_prep, inside_fences, to_matrix
from edgeml.runtime import Post
from edgeml.spec.prep_plan import Role
from edgeml.util.progress import SILENT, Reporter

# Share of a training set held back to decide when boosting stops (only without CV folds).
EARLY_STOPPING_FRACTION = 0.1
ROUNDS_RULE = (
    "the round that minimises the CV folds' mean validation loss (folds boosted together, "
    "stopped once the mean has not improved for early_stopping_rounds), "
    "times training rows / mean fold training rows"
)


@dataclass(frozen=True, kw_only=True)
class Fitted:
    """A prep plan and the booster trained on its output."""

    plan: PrepPlan
    booster: lgb.Booster
    train_matrix: np.ndarray
    train_target: np.ndarray

    def predict(self, frame: pl.DataFrame, task: str) -> np.ndarray:
        """(n, K) class probabilities, or (n,) values for regression."""
        matrix = to_matrix(apply_prep(self.plan, frame))
        return predict_proba(self.booster, matrix, task)  # type: ignore[arg-type]


def fit_rows(
    frame: pl.DataFrame,
    y: np.ndarray,
    rows: np.ndarray,
    *,
    target: TargetEncoding,
    config: Config,
    roles: Mapping[str, Role],
    splitter: Splitter,
    reporter: Reporter = SILENT,
    label: str = "training",
    curves: dict[str, Any] | None = None,
    valid_rows: np.ndarray | None = None,
    rounds: int | None = None,
) -> Fitted:
    """Fit the prep plan and a booster on ``rows``; how many rounds depends on what is given.

    * ``valid_rows`` (a CV fold's own test part): boosting stops once the metric on them stops
      improving; the booster keeps its best iteration (:func:`rounds_from_folds` reads it).
    * ``rounds`` (chosen by CV): exactly that many rounds on all ``rows``, no early stopping.
    * neither (no CV to choose from): early stopping on a slice of ``rows``; with ``refit`` the
      slice only decides the number of rounds, scaled up for the extra rows, and the plan and
      booster are fitted again on all ``rows``, so no labelled row is kept out of the model.
    """
    settings = config.train
    if rounds is not None:
        fixed = dataclasses.replace(
            config,
            train=dataclasses.replace(settings, num_boost_round=rounds, early_stopping_rounds=0),
        )
        return _fit_plan_and_booster(
            frame, y, rows, None, target, fixed, roles, reporter, label, curves
        )
    if valid_rows is not None or settings.early_stopping_rounds == 0:
        return _fit_plan_and_booster(
            frame, y, rows, valid_rows, target, config, roles, reporter, label, curves
        )
    # Optional: a fold of tiny or one-group data trains without early stopping.
    train_rows, valid_rows = splitter.holdout(
        len(y), EARLY_STOPPING_FRACTION, rows=rows, optional=True
    )
    probe = _fit_plan_and_booster(
        frame, y, train_rows, valid_rows, target, config, roles, reporter, label, curves
    )
    if not settings.refit or not len(valid_rows):
        return probe
    rounds = math.ceil(probe.booster.current_iteration() * len(rows) / len(train_rows))
    return fit_rows(
        frame, y, rows, target=target, config=config, roles=roles, splitter=splitter,
        reporter=reporter, label=label, rounds=rounds,
    )  # fmt: skip


def rounds_from_folds(folds: list[tuple[int, int]], rows: int) -> int:
    """Boosting rounds for a model on ``rows`` from the CV folds' (best iteration, training rows).

    The rule: the median of the folds' best iterations, scaled by ``rows`` over the folds' mean
    training rows (more rows support more rounds at the same learning rate). Training boosts the
    folds together and cuts them all at the round that minimises their mean validation loss
    (:mod:`edgeml.learn._together`), so there the folds' best iterations are one number; folds
    early-stopped one by one (a bundle from an older edgeml) give a median that one fold that
    stopped early or ran long does not move.

    >>> rounds_from_folds([(100, 800), (120, 800), (90, 800)], 1000)
    125
    """
    best = float(np.median([b for b, _ in folds]))
    seen = float(np.mean([n for _, n in folds]))
    return max(1, math.ceil(best * rows / seen))


def _fit_plan_and_booster(
    frame: pl.DataFrame,
    y: np.ndarray,
    train_rows: np.ndarray,
    valid_rows: np.ndarray | None,
    target: TargetEncoding,
    config: Config,
    roles: Mapping[str, Role],
    reporter: Reporter,
    label: str,
    curves: dict[str, Any] | None = None,
) -> Fitted:
    rows = prep_rows(frame, y, train_rows, valid_rows, config=config, roles=roles)
    booster = fit_booster(
        rows.x_train,
        rows.y_train,
        task=target.task,
        n_classes=len(target.classes) if target.classes else 1,
        config=config.train,
        feature_names=rows.plan.features,
        categorical=rows.plan.categorical_features,
        valid=rows.valid,
        reporter=reporter,
        label=label,
        curves=curves,
    )
    return Fitted(plan=rows.plan, booster=booster, train_matrix=rows.x_train,
                  train_target=rows.y_train)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class PreppedRows:
    """A prep plan fitted on training rows, their feature matrix and target (outlier rows the
    plan drops left out), and the validation rows' matrix and target when there are any."""

    plan: PrepPlan
    x_train: np.ndarray
    y_train: np.ndarray
    valid: tuple[np.ndarray, np.ndarray] | None


def prep_rows(
    frame: pl.DataFrame,
    y: np.ndarray,
    train_rows: np.ndarray,
    valid_rows: np.ndarray | None,
    *,
    config: Config,
    roles: Mapping[str, Role],
) -> PreppedRows:
    """Fit the prep plan on ``train_rows`` and apply it to them and to ``valid_rows``."""
    train_frame = frame[train_rows]
    plan = fit_prep(train_frame, config=config.prep, roles=roles, group=config.train.entity_col,
                    formats=config.data.date_formats)  # fmt: skip
    require_features(plan)
    y_train = y[train_rows]
    for row_filter in plan.row_filters:
        if row_filter["kind"] == "outlier_rows":
            keep = inside_fences(train_frame, row_filter["bounds"])
            train_frame, y_train = train_frame.filter(keep), y_train[keep]
    x_train = to_matrix(apply_prep(plan, train_frame))
    valid = None
    if valid_rows is not None and len(valid_rows):
        valid = (to_matrix(apply_prep(plan, frame[valid_rows])), y[valid_rows])
    return PreppedRows(plan=plan, x_train=x_train, y_train=y_train, valid=valid)


def require_features(plan: PrepPlan) -> None:
    """Raise a DataError naming the columns left out when ``plan`` has no feature (LightGBM
    would stop on the empty matrix: "Check failed: (num_data) > (0)", a traceback)."""
    if plan.features:
        return
    left_out = [f"{c.name!r} ({c.reason})" for c in plan.columns if c.role == "dropped"]
    why = f"; left out: {', '.join(left_out)}" if left_out else ""
    raise DataError(
        "no column to learn from: expected at least one input column besides the target, "
        f"ids and roles{why}"
    )


def metrics_of(
    output: np.ndarray, y: np.ndarray, target: TargetEncoding, post: Post | None = None
) -> dict[str, float]:
    """Task metrics for model output as returned by :meth:`Fitted.predict`, after the bundle's
    calibration and decision threshold (``post``) when given."""
    if target.task == "regression":
        return compute_metrics("regression", y, prediction=output)
    proba, codes = (post or Post()).decide(output)
    return compute_metrics(target.task, y, prediction=codes, proba=proba)


def baseline_of(y_train: np.ndarray, y: np.ndarray, target: TargetEncoding) -> dict[str, float]:
    """Metrics of the trivial baseline (majority class, or the training mean) on ``y``."""
    n_classes = len(target.classes) if target.classes else None
    prediction, proba = baseline_predictions(target.task, y_train, len(y), n_classes=n_classes)
    return compute_metrics(target.task, y, prediction=prediction, proba=proba)
