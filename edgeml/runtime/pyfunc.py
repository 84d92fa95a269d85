"""MLflow's ``python_function`` flavour for an edgeml bundle (``edgeml export --format mlflow``).

The exported model directory's ``MLmodel`` names this module as its ``loader_module``;
``mlflow.pyfunc.load_model(DIR)`` calls :func:`_load_pyfunc` with the bundle inside it, and the
returned model predicts through :mod:`edgeml.runtime` (NumPy, and the bundle's fastest exported
backend), so serving it needs neither Polars nor LightGBM when a compiled backend was exported.
Outputs are ``edgeml predict``'s columns: ``prediction`` and, for classification,
``proba_<class>``.

>>> model = _load_pyfunc("churn-mlflow/bundle")                           # doctest: +SKIP
>>> model.predict(pandas.DataFrame({"tenure": [12], "contract": ["month"]}))  # doctest: +SKIP
  prediction  proba_No  proba_Yes
0         No      0.81       0.19
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgeml.errors import SchemaError
from edgeml.runtime._predictor import Predictor, load

__all__ = ["PyfuncModel"]


class PyfuncModel:
    """What MLflow's loader gets: ``predict(model_input, params=None)`` on a batch of rows."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    def predict(self, model_input: Any, params: Mapping[str, Any] | None = None) -> Any:
        """Predictions for a pandas DataFrame, a ``{column: values}`` mapping or a list of row
        dicts; a pandas DataFrame back when the input was one (MLflow's own convention)."""
        columns = _columns(model_input)
        out = self.predictor.predict(columns)
        if type(model_input).__module__.startswith("pandas"):
            return type(model_input)(out, index=model_input.index)
        return out


def _load_pyfunc(data_path: str) -> PyfuncModel:
    """MLflow's entry point: ``data_path`` is the bundle directory inside the model directory."""
    return PyfuncModel(load(Path(data_path)))


def _columns(model_input: Any) -> dict[str, Any]:
    """``{column: values}`` from what an MLflow caller passes, missing cells as ``None``."""
    if hasattr(model_input, "columns") and hasattr(model_input, "__getitem__"):
        return {str(c): _values(model_input[c].to_numpy()) for c in model_input.columns}
    if isinstance(model_input, Mapping):
        return {str(c): v for c, v in model_input.items()}
    if isinstance(model_input, list) and all(isinstance(r, Mapping) for r in model_input):
        names = list(dict.fromkeys(k for row in model_input for k in row))
        return {str(c): [row.get(c) for row in model_input] for c in names}
    raise SchemaError(
        f"mlflow model input: expected a DataFrame, a {{column: values}} mapping or a list of "
        f"row dicts, got {type(model_input).__name__}"
    )


def _values(array: np.ndarray) -> Any:
    """A numeric column as it is; an object column (pandas' text) with NaN cells as ``None``."""
    if array.dtype != object:
        return array
    return [None if isinstance(v, float) and math.isnan(v) else v for v in array.tolist()]
