"""The interface between :class:`~edgeml.runtime.Predictor` and a compiled model.

A backend module ``edgeml.runtime._<name>_backend`` exposes::

    def load_backend(bundle: edgeml.bundle.Bundle, *, threads: int = 1) -> Backend

which raises :class:`~edgeml.errors.ExportError` (clear message) when the export is absent,
built for another machine, or needs a package that is not installed, and reads its files only
through ``bundle.read(name)`` (inside the bundle, listed, sha256 checked: a BundleError there
refuses the bundle instead of falling back). The module is
imported only when that backend is asked for, so its dependencies (onnxruntime, lightgbm) are
loaded only then.

A backend either takes the prepared feature matrix (``takes_raw_input = False``: the runtime
applies the bundle's prep plan with NumPy first) or the raw input columns
(``takes_raw_input = True``: the backend runs the whole pipeline itself, e.g. one ONNX graph,
and receives ``{column: 1-D array or list}``). Either way ``predict`` returns LightGBM's raw
output shape: ``(n,)`` for binary (probability of the second class) and regression, ``(n, K)``
for multiclass — what ``lightgbm.Booster.predict`` returns.

Optional single-row fast paths, used by the predictor when present: ``predict_one(features)``
(one prepared row, a 1-D float64 array, in; a sequence of ``num_output`` floats out) for a
matrix backend, and
``predict_row(row)`` (a raw ``{column: value}`` dict in; ``(1,)`` or ``(1, K)`` out) for a
raw-input backend.

>>> class Constant:
...     name = "constant"
...     takes_raw_input = False
...     def predict(self, inputs):
...         return np.full(len(inputs), 0.5)
>>> isinstance(Constant(), Backend)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from edgeml.spec.manifest import BACKENDS

__all__ = ["BACKENDS", "Backend"]  # BACKENDS, fastest first, is the manifest's list


@runtime_checkable
class Backend(Protocol):
    """A loaded model: ``predict`` maps a batch to LightGBM's raw output (see module docstring)."""

    name: str
    takes_raw_input: bool

    def predict(self, inputs: np.ndarray | Mapping[str, Any]) -> np.ndarray:
        """``(n, n_features)`` float64 matrix (or raw columns) in; ``(n,)`` or ``(n, K)`` out."""
        ...
