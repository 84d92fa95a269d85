"""Stage 4, learn: the training set, one fit of prep plan + booster, and cross-validation.

The target's task and encoding (:func:`fit_target`), row splits (:class:`Splitter`), LightGBM
boosters (:func:`fit_booster`), the decision threshold and calibration (:func:`fit_post`), the
labelled rows made ready for fitting (:func:`prepare`) and one fit scored on other rows
(:func:`fit_rows`). Feature engineering and search build on this package; the pipeline
(``edgeml.train``) drives it.

>>> import polars as pl
>>> from edgeml.learn import fit_target
>>> fit_target(pl.Series("churn", ["No", "Yes", "No"])).task
'binary'
"""

from typing import TYPE_CHECKING

from edgeml.util.lazy import lazy_exports

if TYPE_CHECKING:
    from edgeml.learn._booster import fit_booster, lightgbm_params, predict_proba
    from edgeml.learn._calibrate import fit_calibration
    from edgeml.learn._decision import choose_threshold
    from edgeml.learn._fitting import (
        ROUNDS_RULE,
        Fitted,
        baseline_of,
        fit_rows,
        metrics_of,
        require_features,
        rounds_from_folds,
    )
    from edgeml.learn._postfit import fit_post
    from edgeml.learn._prepared import LEARNING_RATE_DECISION, Prepared, prepare, series_columns
    from edgeml.learn._sizes import SplitSizes, split_sizes
    from edgeml.learn._split import Splitter
    from edgeml.learn._target import TargetEncoding, Task, fit_target, has_label

# Imported on first use: the target's encoding (read by every loaded model) does not pull in
# LightGBM and scikit-learn; fitting does.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fit_booster": "edgeml.learn._booster",
        "lightgbm_params": "edgeml.learn._booster",
        "predict_proba": "edgeml.learn._booster",
        "fit_calibration": "edgeml.learn._calibrate",
        "choose_threshold": "edgeml.learn._decision",
        "ROUNDS_RULE": "edgeml.learn._fitting",
        "Fitted": "edgeml.learn._fitting",
        "baseline_of": "edgeml.learn._fitting",
        "fit_rows": "edgeml.learn._fitting",
        "metrics_of": "edgeml.learn._fitting",
        "require_features": "edgeml.learn._fitting",
        "rounds_from_folds": "edgeml.learn._fitting",
        "fit_post": "edgeml.learn._postfit",
        "LEARNING_RATE_DECISION": "edgeml.learn._prepared",
        "Prepared": "edgeml.learn._prepared",
        "prepare": "edgeml.learn._prepared",
        "series_columns": "edgeml.learn._prepared",
        "SplitSizes": "edgeml.learn._sizes",
        "split_sizes": "edgeml.learn._sizes",
        "Splitter": "edgeml.learn._split",
        "TargetEncoding": "edgeml.learn._target",
        "Task": "edgeml.learn._target",
        "fit_target": "edgeml.learn._target",
        "has_label": "edgeml.learn._target",
    },
)

__all__ = [
    "LEARNING_RATE_DECISION",
    "ROUNDS_RULE",
    "Fitted",
    "Prepared",
    "SplitSizes",
    "Splitter",
    "TargetEncoding",
    "Task",
    "baseline_of",
    "choose_threshold",
    "fit_booster",
    "fit_calibration",
    "fit_post",
    "fit_rows",
    "fit_target",
    "has_label",
    "lightgbm_params",
    "metrics_of",
    "predict_proba",
    "prepare",
    "require_features",
    "rounds_from_folds",
    "series_columns",
    "split_sizes",
]
