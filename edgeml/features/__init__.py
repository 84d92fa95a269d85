"""Stage 3, engineer features: a fitted FeaturePlan, run by the Numba kernels.

``fit_features`` builds the candidates the ``[features]`` config asks for, computes them, and
selects on training rows; ``apply_features`` runs a fitted plan on any batch (training, batch
prediction). The plan's steps live in :mod:`edgeml.spec.feature_plan`; a device runs the same
plan one reading at a time with ``edgeml.runtime``.

>>> import polars as pl
>>> from edgeml.features import apply_features
>>> from edgeml.spec.feature_plan import FeaturePlan, LagStep
>>> plan = FeaturePlan(time_col="t", entity_col="m", steps=[LagStep(columns=["x"], lags=[1])])
>>> frame = pl.DataFrame({"t": [1, 2, 1], "m": ["a", "a", "b"], "x": [1.0, 2.0, 5.0]})
>>> apply_features(plan, frame)["x_lag_1"].to_list()
[nan, 1.0, nan]
"""

from typing import TYPE_CHECKING

from edgeml.util.lazy import lazy_exports

if TYPE_CHECKING:
    from edgeml.features._apply import apply_features
    from edgeml.features._fit import fit_features, history_target
    from edgeml.spec.formula import Formula

# Imported on first use: applying a fitted plan does not pull in fitting (LightGBM).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Formula": "edgeml.spec.formula",
        "apply_features": "edgeml.features._apply",
        "fit_features": "edgeml.features._fit",
        "history_target": "edgeml.features._fit",
    },
)

__all__ = ["Formula", "apply_features", "fit_features", "history_target"]
