"""Split a dataset into the partitions a Dask job scores, one task each, in input order.

A partition is one file, or one row group of a Parquet file. Concatenating the partitions'
predictions in ``index`` order gives the rows in the order a single-machine run writes them.
Time-series bundles take whole files (``by_file``): an entity's history must not be cut.

>>> import tempfile, polars as pl
>>> path = Path(tempfile.mkdtemp()) / "d.parquet"
>>> pl.DataFrame({"x": range(5)}).write_parquet(path, row_group_size=2)
>>> [(p.name, p.row_group, p.rows) for p in partitions([path])]
[('part-00000.parquet', 0, 2), ('part-00001.parquet', 1, 2), ('part-00002.parquet', 2, 1)]
>>> [(p.row_group, p.rows) for p in partitions([path], by_file=True)]
[(None, 5)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edgeml.batch._scan import kind

__all__ = ["Partition", "partitions"]


@dataclass(frozen=True)
class Partition:
    """File ``path`` (a Parquet ``row_group`` of it, or all of it when None); ``rows`` is known
    for Parquet."""

    index: int
    path: str
    row_group: int | None = None
    rows: int | None = None

    @property
    def name(self) -> str:
        """The file name of its prediction part: ``part-00007.parquet``."""
        return f"part-{self.index:05d}.parquet"

    def describe(self) -> str:
        """``"FILE"`` or ``"FILE row group N"``, for messages."""
        return self.path if self.row_group is None else f"{self.path} row group {self.row_group}"


def partitions(paths: Iterable[Path], *, by_file: bool = False) -> list[Partition]:
    """The partitions of ``paths`` (absolute, so that every worker opens the same file): a
    Parquet file's row groups, unless ``by_file``; any other file whole."""
    import pyarrow.parquet as pq

    found: list[Partition] = []
    for path in paths:
        name = str(Path(path).resolve())
        if kind(Path(path)) != "parquet":
            found.append(Partition(len(found), name))
            continue
        meta = pq.ParquetFile(path).metadata
        if by_file or meta.num_row_groups <= 1:
            found.append(Partition(len(found), name, None, meta.num_rows))
            continue
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            found.append(Partition(len(found), name, group, rows))
    return found
