"""Stage 1, collect: read files, globs and SQLite into typed Polars frames, and profile them.

>>> from edgeml.data import read_data, profile
>>> from edgeml.datasets import path
>>> ds = read_data(path("telco_churn"), keep_raw=["churn"])
>>> profile(ds.frame, target="churn").to_dict()["rows"]
7043
"""

from __future__ import annotations

from edgeml.data._card import DataCard, Dataset
from edgeml.data._leakage import LeakageSuspect, TargetProfile
from edgeml.data._profile import ColumnProfile, Profile, profile
from edgeml.data._schema import POLARS_TYPES, LogicalType, conform, infer_types, logical_schema
from edgeml.data._sources import read_data

__all__ = [
    "POLARS_TYPES",
    "ColumnProfile",
    "DataCard",
    "Dataset",
    "LeakageSuspect",
    "LogicalType",
    "Profile",
    "TargetProfile",
    "conform",
    "infer_types",
    "logical_schema",
    "profile",
    "read_data",
]
