"""Stage 6b: the minimal-dependency runtime — NumPy only, no Polars, LightGBM or Numba.

It reads a bundle (checksums and version verified by :func:`edgeml.bundle.read_manifest`) and
applies its prep plan to one row or a batch, giving the same numbers as the Polars executor used
in training. :func:`load` adds the model: the fastest exported backend (edgeml's native tree
engine, then the compiled treelite library, both through ctypes, then ONNX Runtime, then
LightGBM itself as the fallback, which imports lightgbm).

>>> model = edgeml.runtime.load("churn.edgeml")                            # doctest: +SKIP
>>> model.predict_row({"tenure": 12, "monthly_charges": 70.5, "contract": "month",
...                    "paperless": "Yes"})                                # doctest: +SKIP
{'prediction': 'No', 'proba_No': 0.81, 'proba_Yes': 0.19}

>>> import edgeml.runtime
>>> prep = edgeml.runtime.load_prep("churn.edgeml")                        # doctest: +SKIP
>>> prep.input_schema                                                      # doctest: +SKIP
{'tenure': 'int', 'monthly_charges': 'float', 'contract': 'str', 'paperless': 'bool'}
>>> prep.transform_row({"tenure": 12, "monthly_charges": 70.5, "contract": "month",
...                     "paperless": "Yes"})                               # doctest: +SKIP
array([12. , 70.5,  0. ,  1. ])
>>> prep.transform({"tenure": [12, None], "monthly_charges": [70.5, 20.0],
...                 "contract": ["month", "unseen"], "paperless": [True, False]})  # doctest: +SKIP
array([[12. , 70.5,  0. ,  1. ],
       [ nan, 20. ,  nan,  0. ]])
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgeml.bundle import open_bundle
from edgeml.bundle import read_manifest as read_bundle_manifest
from edgeml.runtime._backend import BACKENDS, Backend
from edgeml.runtime._choice import Choice, Measurement, reference_columns
from edgeml.runtime._explain import contribution_names, explanation
from edgeml.runtime._post import LOGIT_EPS, Post
from edgeml.runtime._predictor import Predictor, load
from edgeml.runtime._prep import RuntimePrep
from edgeml.runtime._stream import FeatureStream
from edgeml.util.lazy import lazy_exports

if TYPE_CHECKING:
    from edgeml.runtime._native_backend import NativeBackend, open_core
    from edgeml.runtime._onnx_backend import (
        MISSING_TEXT,
        ONNX_FILE,
        load_session,
        seconds_from_micros,
    )
    from edgeml.runtime._treelite_backend import TreeliteBackend

__all__ = [
    "BACKENDS",
    "LOGIT_EPS",
    "MISSING_TEXT",
    "ONNX_FILE",
    "Backend",
    "Choice",
    "FeatureStream",
    "Measurement",
    "NativeBackend",
    "Post",
    "Predictor",
    "RuntimePrep",
    "TreeliteBackend",
    "contribution_names",
    "explanation",
    "load",
    "load_prep",
    "load_session",
    "open_core",
    "read_bundle_manifest",
    "reference_columns",
    "seconds_from_micros",
]

# What the exporters build against (the ONNX feed conventions, the native and treelite libraries'
# callers),
# imported on first use so a device that runs one backend loads only that one.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "MISSING_TEXT": "edgeml.runtime._onnx_backend",
        "ONNX_FILE": "edgeml.runtime._onnx_backend",
        "load_session": "edgeml.runtime._onnx_backend",
        "seconds_from_micros": "edgeml.runtime._onnx_backend",
        "TreeliteBackend": "edgeml.runtime._treelite_backend",
        "NativeBackend": "edgeml.runtime._native_backend",
        "open_core": "edgeml.runtime._native_backend",
    },
)


def load_prep(bundle: str | Path, *, verify: bool = True) -> RuntimePrep:
    """The prep plan of a bundle, compiled for NumPy.

    The manifest's schema version is always checked (:class:`~edgeml.errors.VersionError`);
    ``verify`` also checks every file's sha256 (:class:`~edgeml.errors.ChecksumError`).
    """
    path = Path(bundle)
    return RuntimePrep.from_manifest(open_bundle(path, verify=verify).spec, source=str(path))
