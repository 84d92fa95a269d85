"""Stage 1, collect: read files, globs, SQLite, PostgreSQL and HTTP APIs into typed Polars
frames, and profile them.

>>> from edgeml.data import read_data, profile
>>> from edgeml.datasets import path
>>> ds = read_data(path("telco_churn"), keep_raw=["churn"])
>>> profile(ds.frame, target="churn").to_dict()["rows"]
7043
"""

from __future__ import annotations

from edgeml.data._card import DataCard, Dataset, file_facts
from edgeml.data._columns import BUNDLE_ID_COLS, bad_value, column_not_found, missing_columns
from edgeml.data._combine import absent_note, required_everywhere
from edgeml.data._dialect import CsvDialect
from edgeml.data._http import http_pages, is_http
from edgeml.data._json import flatten_structs, read_json_file
from edgeml.data._labels import as_trained, label_key, labelled_text, one_spelling
from edgeml.data._leakage import LeakageSuspect, TargetProfile, find_leakage
from edgeml.data._postgres import PostgresSource, is_postgres, postgres_batches, postgres_source
from edgeml.data._profile import ColumnProfile, Profile, profile, text_id_like
from edgeml.data._schema import (
    POLARS_TYPES,
    LogicalType,
    conform,
    infer_types,
    infer_with_formats,
    logical_schema,
)
from edgeml.data._sources import (
    FILE_KINDS,
    csv_dialect,
    csv_header,
    drop_unusable,
    encoding_error,
    hive_values,
    parquet_files,
    preamble_note,
    read_data,
    refuse_duplicate_names,
)
from edgeml.data._watermark import last_watermark
from edgeml.util.redact import redact

__all__ = [
    "BUNDLE_ID_COLS",
    "FILE_KINDS",
    "POLARS_TYPES",
    "ColumnProfile",
    "CsvDialect",
    "DataCard",
    "Dataset",
    "LeakageSuspect",
    "LogicalType",
    "PostgresSource",
    "Profile",
    "TargetProfile",
    "absent_note",
    "as_trained",
    "bad_value",
    "column_not_found",
    "conform",
    "csv_dialect",
    "csv_header",
    "drop_unusable",
    "encoding_error",
    "file_facts",
    "find_leakage",
    "flatten_structs",
    "hive_values",
    "http_pages",
    "infer_types",
    "infer_with_formats",
    "is_http",
    "is_postgres",
    "label_key",
    "labelled_text",
    "last_watermark",
    "logical_schema",
    "missing_columns",
    "one_spelling",
    "parquet_files",
    "postgres_batches",
    "postgres_source",
    "preamble_note",
    "profile",
    "read_data",
    "read_json_file",
    "redact",
    "refuse_duplicate_names",
    "required_everywhere",
    "text_id_like",
]
