"""edgeml: raw tabular data to a small, fast, verified LightGBM model for CPU-only edge devices.

>>> import edgeml
>>> result = edgeml.train("churn.csv", target="churn", out="churn.edgeml")   # doctest: +SKIP
>>> edgeml.load("churn.edgeml").predict("new.csv")                        # doctest: +SKIP

Attributes are imported on first use (PEP 562), so ``import edgeml.runtime`` on a device does not
pull in Polars, LightGBM or scikit-learn through this package's ``__init__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from edgeml.util.lazy import lazy_exports

if TYPE_CHECKING:
    from edgeml import datasets
    from edgeml.config import Config, load_config
    from edgeml.data import DataCard, Dataset, profile, read_data
    from edgeml.pipeline import Model, TrainResult, load, train

__version__ = "0.1.0"

# Imported on first use (PEP 562): the training stack loads only when a name needs it.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "datasets": "edgeml.datasets",
        "Model": "edgeml.pipeline",
        "load": "edgeml.pipeline",
        "TrainResult": "edgeml.pipeline",
        "train": "edgeml.pipeline",
        "Config": "edgeml.config",
        "load_config": "edgeml.config",
        "DataCard": "edgeml.data",
        "Dataset": "edgeml.data",
        "profile": "edgeml.data",
        "read_data": "edgeml.data",
    },
)

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
