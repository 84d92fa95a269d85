"""Stage 3, engineer features: a fitted FeaturePlan, run by the Numba kernels.

``fit_features`` builds the candidates the ``[features]`` config asks for, computes them, and
selects on training rows; ``apply_features`` runs a fitted plan on any batch (training, batch
prediction). The plan's steps live in :mod:`edgeml.spec.feature_plan`; a device runs the same
plan one reading at a time with ``edgeml.runtime``.

>>> import polars as pl
>>> from edgeml.spec.feature_plan import FeaturePlan, LagStep
>>> plan = FeaturePlan(time_col="t", entity_col="m", steps=[LagStep(columns=["x"], lags=[1])])
>>> frame = pl.DataFrame({"t": [1, 2, 1], "m": ["a", "a", "b"], "x": [1.0, 2.0, 5.0]})
>>> apply_features(plan, frame)["x_lag_1"].to_list()
[nan, 1.0, nan]
"""

from edgeml.features._apply import apply_features
from edgeml.features._fit import fit_features, history_target
from edgeml.spec.formula import Formula

__all__ = ["Formula", "apply_features", "fit_features", "history_target"]
