"""Offline batch inference at any size, streamed on one machine.

:func:`predict_file` scans the input in batches (``.csv``/``.csv.gz``, Parquet, NDJSON, IPC,
globs, Parquet directories, SQLite), runs the bundle's plans with Polars and the trees with the
compiled backend, and writes the result incrementally to a temporary file renamed at the end, in
input order; time-series features carry each entity's history from batch to batch.
:func:`predict_dask` scores a partitioned dataset on an existing Dask cluster instead, one task
per file or Parquet row group, into a directory of Parquet parts.

>>> import edgeml.batch
>>> edgeml.batch.predict_file("churn.edgeml", "big.csv", "scores.parquet")  # doctest: +SKIP
BatchResult(out=PosixPath('scores.parquet'), rows=3000000, backend='native', ...)
"""

from __future__ import annotations

from edgeml.util.lazy import lazy_exports

__all__ = [
    "BatchResult", "FeatureCarry", "Partition", "Scan", "Scorer", "Writer", "connect",
    "file_columns", "local_cluster", "partitions", "predict_dask", "predict_file", "scan",
]  # fmt: skip

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BatchResult": "edgeml.batch._run",
        "FeatureCarry": "edgeml.batch._carry",
        "Partition": "edgeml.batch._partitions",
        "connect": "edgeml.batch._cluster",
        "file_columns": "edgeml.batch._columns",
        "local_cluster": "edgeml.batch._cluster",
        "partitions": "edgeml.batch._partitions",
        "Scan": "edgeml.batch._scan",
        "Scorer": "edgeml.batch._score",
        "Writer": "edgeml.batch._writer",
        "predict_dask": "edgeml.batch._dask",
        "predict_file": "edgeml.batch._run",
        "scan": "edgeml.batch._scan",
    },
)
