"""Cross-validation folds boosted together, stopped on the mean of their validation curves.

The final model's number of rounds is cross-validation's estimate of the best one: the round
that minimises the folds' mean validation loss (the pooled out-of-fold loss, what
``lightgbm.cv`` stops on). Folds early-stopped one by one, summarised by the median of their
best rounds, stop far too soon on a heavy-tailed target: a fold whose test part holds a few
extreme rows sees its loss rise after 10-30 rounds while the others still improve for hundreds,
and the median can land on such a fold (cells features with a lognormal target: folds best at
388, 11, 76, 182 and 64 rounds, median 76, holdout r2 0.597 where 238 rounds, the mean curve's
minimum, give 0.635 and plain LightGBM 0.612; benchmarks/README.md "Rounds on heavy tails").

Boosting the folds in lockstep gives every fold's curve up to the same round, so the mean is
known at every round and stops once it has not improved for ``early_stopping_rounds``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from edgeml.config import Config
from edgeml.errors import DataError
from edgeml.learn._booster import lightgbm_params
from edgeml.learn._fitting import Fitted, prep_rows
from edgeml.learn._target import TargetEncoding
from edgeml.spec.prep_plan import Role
from edgeml.util.progress import SILENT, Reporter


def fit_folds_together(
    frame: pl.DataFrame,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    *,
    target: TargetEncoding,
    config: Config,
    roles: Mapping[str, Role],
    reporter: Reporter = SILENT,
    curves: dict[str, Any] | None = None,
) -> list[Fitted]:
    """One model per ``(train rows, test rows)`` split, each with its own prep plan, all cut at
    the round where the folds' mean validation loss (the first metric, weighted by test rows)
    was lowest.

    ``curves``, when given, receives the last fold's per-round metrics on its training and test
    rows (as :func:`edgeml.learn.fit_booster` records them). The models' ``train_matrix`` is
    empty: the folds' matrices are dropped once LightGBM has binned them.

    >>> from edgeml.learn import Splitter, fit_target
    >>> rng = np.random.default_rng(0); x = rng.normal(size=300)
    >>> frame = pl.DataFrame({"x": x, "y": x + rng.normal(size=300)})
    >>> y = frame["y"].to_numpy(); splitter = Splitter(seed=0)
    >>> models = fit_folds_together(frame, y, splitter.folds(np.arange(300), 3),
    ...     target=fit_target(frame["y"]), config=Config(), roles={"y": "target"})
    >>> len({m.booster.current_iteration() for m in models})
    1
    """
    settings = config.train
    n_classes = len(target.classes) if target.classes else 1
    params = lightgbm_params(target.task, n_classes, settings)
    plans, boosters, weights = [], [], []
    for fold, (fold_train, fold_test) in enumerate(splits, start=1):
        rows = prep_rows(frame, y, fold_train, fold_test, config=config, roles=roles)
        common: dict[str, Any] = {
            "feature_name": rows.plan.features,
            "categorical_feature": rows.plan.categorical_features,
        }
        train_set = lgb.Dataset(rows.x_train, label=rows.y_train, params={"verbosity": -1},
                                **common)  # fmt: skip
        booster = lgb.Booster(params, train_set)
        if rows.valid is None:
            raise DataError(
                f"cross-validation fold {fold} of {len(splits)} has no test rows; "
                "expected at least one: use fewer folds ([train] cv_folds) or more rows"
            )
        booster.add_valid(
            lgb.Dataset(rows.valid[0], label=rows.valid[1], reference=train_set, **common),
            "valid",
        )
        plans.append(rows.plan)
        boosters.append(booster)
        weights.append(len(fold_test))
    best_round = _boost(boosters, weights, settings.num_boost_round,
                        settings.early_stopping_rounds, reporter, curves)  # fmt: skip
    models = []
    for plan, booster in zip(plans, boosters, strict=True):
        kept = booster.model_to_string(num_iteration=best_round)
        booster.free_dataset()
        models.append(
            Fitted(
                plan=plan,
                booster=lgb.Booster(model_str=kept),
                train_matrix=np.empty((0, len(plan.features))),
                train_target=np.empty(0),
            )
        )
    return models


def _boost(
    boosters: list[lgb.Booster],
    weights: list[int],
    max_rounds: int,
    patience: int,
    reporter: Reporter,
    curves: dict[str, Any] | None,
) -> int:
    """Boost every booster one round at a time until the weighted mean of their first
    validation metric has not improved for ``patience`` rounds; the best round."""
    best, best_round = math.inf, 0
    share = np.asarray(weights, dtype=float) / sum(weights)
    with reporter.boosting("cross-validation folds", max_rounds) as update:
        for round_ in range(1, max_rounds + 1):
            first = np.empty(len(boosters))
            for i, booster in enumerate(boosters):
                booster.update()
                results = booster.eval_valid()
                name, value, higher_better = results[0][1], results[0][2], results[0][3]
                first[i] = -value if higher_better else value
                if curves is not None and i == len(boosters) - 1:
                    _record(curves, "training", booster.eval_train())
                    _record(curves, "valid", results)
            loss = float(share @ first)
            update(round_, name, -loss if higher_better else loss)
            if loss < best:
                best, best_round = loss, round_
            elif round_ - best_round >= patience:
                break
    return best_round


def _record(curves: dict[str, Any], part: str, results: list[Any]) -> None:
    for _, metric, value, _ in results:
        curves.setdefault(part, {}).setdefault(metric, []).append(value)
