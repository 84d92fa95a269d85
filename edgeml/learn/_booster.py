"""Fit one LightGBM booster, with early stopping on a validation split and a live metric."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np

from edgeml.config import TrainConfig
from edgeml.errors import BundleError
from edgeml.learn._target import Task
from edgeml.util.progress import SILENT, Reporter

# Objective and per-round metrics; early stopping watches the first. Classification stops on
# the log loss, the proper score of the probabilities that thresholds, calibration and the
# reported metrics all read: the AUC only ranks, and on easy data it peaks after a round or two
# while the probabilities still sit at the prior (folds of 1-10 rounds predicting one class,
# tests/test_train.py), and macro-F1 has no per-round LightGBM metric. The AUC is still
# recorded each round. Regression stops on l2, which orders models as r2 does on a fixed set.
_OBJECTIVES: dict[str, tuple[str, list[str]]] = {
    "binary": ("binary", ["binary_logloss", "auc"]),
    "multiclass": ("multiclass", ["multi_logloss", "multi_error"]),
    "regression": ("regression", ["l2"]),
}


def lightgbm_params(task: Task, n_classes: int, config: TrainConfig) -> dict[str, Any]:
    """LightGBM parameters for this task; ``config.params`` overrides any of them.

    ``deterministic`` with a fixed seed and forced column-wise histograms makes the same data give
    the same model file.

    >>> lightgbm_params("binary", 2, TrainConfig())["objective"]
    'binary'
    """
    objective, metric = _OBJECTIVES[task]
    params: dict[str, Any] = {
        "objective": objective,
        "metric": metric,
        "learning_rate": config.learning_rate_for(None),  # prepare() sets it by rows
        "num_leaves": config.num_leaves,
        "seed": config.seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbosity": -1,
    }
    if task == "multiclass":
        params["num_class"] = n_classes
    params.update(config.params)
    return params


def fit_booster(
    x_train: np.ndarray | lgb.Sequence,
    y_train: np.ndarray,
    *,
    task: Task,
    n_classes: int,
    config: TrainConfig,
    feature_names: list[str],
    categorical: list[str],
    valid: tuple[np.ndarray | lgb.Sequence, np.ndarray] | None = None,
    reporter: Reporter = SILENT,
    label: str = "training",
    curves: dict[str, Any] | None = None,
) -> lgb.Booster:
    """Train a booster; with ``valid`` rows it stops once the metric stops improving.

    The matrices may be :class:`lightgbm.Sequence` objects (rows read in batches, never whole:
    training on more rows than fit in memory, :mod:`edgeml.scale`).

    ``curves``, when given, receives the per-round metric on the training and validation rows
    (``{"training": {metric: [...]}, "valid": {...}}``): the learning curves of the model.

    >>> x = np.arange(40, dtype=float).reshape(-1, 1); y = (x[:, 0] > 20).astype(int)
    >>> booster = fit_booster(x, y, task="binary", n_classes=2, config=TrainConfig(),
    ...                       feature_names=["x"], categorical=[])
    >>> booster.num_feature()
    1
    """
    params = lightgbm_params(task, n_classes, config)
    common: dict[str, Any] = {"feature_name": feature_names, "categorical_feature": categorical}
    train_set = lgb.Dataset(x_train, label=y_train, params={"verbosity": -1}, **common)
    valid_sets: list[lgb.Dataset] = []
    names: list[str] = []
    callbacks: list[Callable[..., Any]] = []
    if curves is not None:
        # Named like LightGBM's own training set, so early stopping ignores it.
        valid_sets, names = [train_set], ["training"]
        callbacks.append(lgb.record_evaluation(curves))
    has_valid = valid is not None and len(valid[1]) > 0 and config.early_stopping_rounds > 0
    if has_valid and valid is not None:
        valid_sets.append(lgb.Dataset(valid[0], label=valid[1], reference=train_set, **common))
        names.append("valid")
        callbacks.append(
            lgb.early_stopping(config.early_stopping_rounds, first_metric_only=True, verbose=False)
        )
    with reporter.boosting(label, config.num_boost_round) as update:
        if has_valid:

            def report(env: lgb.callback.CallbackEnv) -> None:
                for entry in env.evaluation_result_list or []:
                    if entry[0] == "valid":
                        update(env.iteration + 1, entry[1], entry[2])
                        return

            callbacks.append(report)
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=config.num_boost_round,
            valid_sets=valid_sets,
            valid_names=names,
            callbacks=callbacks,
            # The default re-loads the model from a string to free the data; we drop it anyway.
            keep_training_booster=True,
        )
    booster.free_dataset()
    if has_valid and 0 < booster.best_iteration < booster.current_iteration():
        # Keep only the rounds that helped, so the saved model is the early-stopped one.
        booster = lgb.Booster(
            model_str=booster.model_to_string(num_iteration=booster.best_iteration)
        )
    return booster


def predict_proba(booster: lgb.Booster, x: np.ndarray, task: Task) -> np.ndarray:
    """Raw LightGBM output shaped (n, K) for classification (binary too), (n,) for regression."""
    if x.ndim == 2 and x.shape[1] != booster.num_feature():
        raise BundleError(
            f"the prep plan yields {x.shape[1]} features, the model takes "
            f"{booster.num_feature()}: the bundle's manifest and model file do not belong together"
        )
    raw = np.asarray(booster.predict(x), dtype=np.float64)
    if task == "binary":
        return np.column_stack([1.0 - raw, raw])
    return raw
