"""The column names of each file of a source, read from headers and metadata only.

A batch scan reads one file at a time, yet a glob is one table to ``read_data``: a column that
some files hold and others lack is null in the others' rows. Knowing which columns some file
holds before the first batch lets every scan (``predict``, streamed training, a Dask task given
the driver's answer) fill those nulls, and still refuse a column that no file holds.

>>> import tempfile, polars as pl
>>> path = Path(tempfile.mkdtemp()) / "d.csv"
>>> pl.DataFrame({"x": [1], "y": ["a"]}).write_csv(path)
>>> file_columns(path, DataConfig())
['x', 'y']
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import polars as pl

from edgeml.config import DataConfig
from edgeml.data import (
    FILE_KINDS,
    csv_dialect,
    csv_header,
    encoding_error,
    flatten_structs,
    hive_values,
    read_json_file,
)
from edgeml.errors import SourceError

__all__ = ["file_columns", "held_somewhere"]


def file_columns(path: Path, config: DataConfig, root: Path | None = None) -> list[str]:
    """The columns of one file as a scan reads them: a CSV's header, Parquet or IPC metadata,
    NDJSON's first records flattened (as read_data flattens them), plus the ``key=value``
    folders between ``root`` (a Parquet directory) and the file. A file that cannot be read so
    is named, as its reader would name it."""
    kind = _kind(path)
    try:
        names = _names(path, kind, config)
    except UnicodeDecodeError:
        raise encoding_error(path) from None
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:  # pyarrow's are ValueErrors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"{path}: cannot read as {kind}: {first}") from None
    partitions = hive_values(path, root) if root is not None else {}
    return [*names, *(k for k in partitions if k not in names)]


def _names(path: Path, kind: str, config: DataConfig) -> list[str]:
    if kind == "csv":
        dialect = csv_dialect(path, config)
        names = dialect.column_names(csv_header(path, dialect))
    elif kind == "parquet":
        import pyarrow.parquet as pq

        names = list(pq.read_schema(path).names)
    elif kind == "ndjson":
        schema = pl.scan_ndjson(path).collect_schema()
        names = flatten_structs(pl.DataFrame(schema=schema)).columns
    elif kind == "json":
        names = read_json_file(path, config).columns
    else:
        names = pl.scan_ipc(path).collect_schema().names()
    return names


def held_somewhere(
    paths: Sequence[Path], wanted: Collection[str], config: DataConfig, root: Path
) -> set[str]:
    """Of ``wanted``, the columns that some file of a several-file source holds: a file lacking
    one gets nulls there. One file holds what it holds: nothing to fill."""
    if len(paths) < 2 or not wanted:
        return set()
    held: set[str] = set()
    for path in paths:
        try:
            names = file_columns(path, config, root)
        except SourceError:  # its reader says what is wrong with it, in its turn
            continue
        held.update(c for c in names if c in wanted)
        if held >= set(wanted):
            break
    return held


def _kind(path: Path) -> str:
    name = path.name.lower()
    return next((k for suffix, k in FILE_KINDS.items() if name.endswith(suffix)), "ipc")
