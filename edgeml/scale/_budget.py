"""Whether a training run should stream: the raw table's size in memory against a budget.

The whole-table path (``edgeml.train``) holds the read frame, the prepared frame, the float
matrix and LightGBM's Dataset at once: it grows by about seven times the raw table (6.9× at
2,000,000 rows in benchmarks/bench_train_scale.py). ``[train] stream = "auto"`` therefore
streams when seven times
the estimated raw size exceeds ``[train] memory_budget_mb`` (default: half the machine's RAM).
The raw size is estimated without reading rows: a CSV's or NDJSON file's bytes (gzip: four
times), a Parquet file's uncompressed size from its metadata, an IPC file's bytes. Databases and
APIs are never streamed automatically.

>>> from edgeml.config import TrainConfig
>>> wants_stream("sqlite:///shop.db", TrainConfig())
False
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeml.config import TrainConfig

__all__ = ["PEAK_FACTOR", "estimated_bytes", "memory_budget", "wants_stream"]

# Peak memory of the whole-table path over the raw table's size.
PEAK_FACTOR = 7.0


def wants_stream(data: object, settings: TrainConfig) -> bool:
    """``[train] stream`` resolved for ``data``: on, off, or auto by :func:`estimated_bytes`."""
    if settings.stream != "auto":
        return settings.stream == "on"
    if not isinstance(data, str | Path) or "://" in str(data) or str(data).startswith("sqlite:"):
        return False
    size = estimated_bytes(str(data))
    return size is not None and PEAK_FACTOR * size > memory_budget(settings)


def memory_budget(settings: TrainConfig) -> float:
    """Bytes a run may use: ``[train] memory_budget_mb``, else half the physical RAM."""
    if settings.memory_budget_mb is not None:
        return settings.memory_budget_mb * 1e6
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2
    except (ValueError, OSError, AttributeError):  # not a POSIX system: 8 GB
        return 8e9


def estimated_bytes(source: str) -> float | None:
    """The raw table's estimated size in memory, or None when its files cannot be listed."""
    from edgeml.batch import scan
    from edgeml.errors import EdgeMLError

    try:
        paths = scan(source, numbers=[], text=[], batch_rows=1).paths
    except EdgeMLError:
        return None
    total = 0.0
    for path in paths:
        name = path.name.lower()
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(path).metadata
            total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        elif name.endswith(".gz"):
            total += 4.0 * path.stat().st_size
        else:
            total += path.stat().st_size
    return total
