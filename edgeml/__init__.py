"""edgeml: raw tabular data to a small, fast, verified LightGBM model for CPU-only edge devices.

>>> import edgeml
>>> result = edgeml.train("churn.csv", target="churn", out="churn.edgeml")   # doctest: +SKIP
>>> edgeml.load("churn.edgeml").predict("new.csv")                        # doctest: +SKIP

Attributes are imported on first use (PEP 562), so ``import edgeml.runtime`` on a device does not
pull in Polars, LightGBM or scikit-learn through this package's ``__init__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from edgeml.errors import (
    BundleError,
    ChecksumError,
    ConfigError,
    DataError,
    DependencyError,
    EdgeMLError,
    NotFittedError,
    SchemaError,
    SourceError,
    TargetError,
    VersionError,
)
from edgeml.util.extras import missing

if TYPE_CHECKING:
    from edgeml import datasets
    from edgeml.config import Config, load_config
    from edgeml.data import DataCard, Dataset, profile, read_data
    from edgeml.pipeline import Model, TrainResult, load, train

__version__ = "0.1.0"

_LAZY = {
    "datasets": ("edgeml.datasets", None),
    "Model": ("edgeml.pipeline", "Model"),
    "load": ("edgeml.pipeline", "load"),
    "TrainResult": ("edgeml.pipeline", "TrainResult"),
    "train": ("edgeml.pipeline", "train"),
    "Config": ("edgeml.config", "Config"),
    "load_config": ("edgeml.config", "load_config"),
    "DataCard": ("edgeml.data", "DataCard"),
    "Dataset": ("edgeml.data", "Dataset"),
    "profile": ("edgeml.data", "profile"),
    "read_data": ("edgeml.data", "read_data"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'edgeml' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:  # a device install without the extra that provides it
        raise missing(exc, f"edgeml.{name}") from None
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


__all__ = [
    "BundleError",
    "ChecksumError",
    "Config",
    "ConfigError",
    "DataCard",
    "DataError",
    "Dataset",
    "DependencyError",
    "EdgeMLError",
    "Model",
    "NotFittedError",
    "SchemaError",
    "SourceError",
    "TargetError",
    "TrainResult",
    "VersionError",
    "__version__",
    "datasets",
    "load",
    "load_config",
    "profile",
    "read_data",
    "train",
]
