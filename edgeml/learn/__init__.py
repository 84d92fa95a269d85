"""Stage 4, train: the target's task and encoding, row splits, and LightGBM boosters.

>>> import polars as pl
>>> fit_target(pl.Series("churn", ["No", "Yes", "No"])).task
'binary'

``edgeml.train`` names both this sub-package and the pipeline function ``edgeml.train(...)``:
once this package is imported Python binds the name to the module, so the module is made
callable and forwards to :func:`edgeml._pipeline.train`.
"""

import sys
import types
from typing import Any

from edgeml.train._booster import fit_booster, lightgbm_params, predict_proba
from edgeml.train._calibrate import fit_calibration
from edgeml.train._decision import choose_threshold
from edgeml.train._postfit import fit_post
from edgeml.train._sizes import SplitSizes, split_sizes
from edgeml.train._split import Splitter
from edgeml.train._target import TargetEncoding, Task, fit_target

__all__ = [
    "SplitSizes",
    "Splitter",
    "TargetEncoding",
    "Task",
    "choose_threshold",
    "fit_booster",
    "fit_calibration",
    "fit_post",
    "fit_target",
    "lightgbm_params",
    "predict_proba",
    "split_sizes",
]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from edgeml._pipeline import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
