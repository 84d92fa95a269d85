"""Training on more rows than fit in memory: streamed on one machine, or on a Dask cluster.

:func:`train_stream` reads the data twice in chunks (statistics and a bounded sample for the
prep plan, then the prepared feature matrix staged on disk) and trains LightGBM from a
:class:`lightgbm.Sequence`, so peak memory is set by LightGBM's binned matrix, not by the raw
table. :func:`train_dask` does the same on a Dask cluster, one task per file or Parquet row
group, and trains with LightGBM's own Dask integration. A time series is split by time as on
one machine; its features see each entity's whole history (streamed: carried from chunk to
chunk; on Dask: after a shuffle by entity). Both write a bundle of the
same format as :func:`edgeml.train`.

>>> import edgeml.scale
>>> edgeml.scale.train_stream("big.csv", target="churn", out="churn.edgeml")  # doctest: +SKIP
TrainResult(bundle=PosixPath('churn.edgeml'), ...)
"""

from __future__ import annotations

from edgeml.util.lazy import lazy_exports

__all__ = ["train_dask", "train_stream", "wants_stream"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "train_dask": "edgeml.scale._dask_train",
        "train_stream": "edgeml.scale._stream",
        "wants_stream": "edgeml.scale._budget",
    },
)
