"""A file source read chunk by chunk under one schema, for training on more rows than fit.

The schema is inferred once, from the first chunk of the first file, as ``read_data`` infers a
whole file (numbers, booleans and dates in text; the target kept as written), then ``[data]
dtypes`` and ``drop`` apply. Every chunk is read by :func:`edgeml.batch.scan` (one file, or one
Parquet row group, a Dask task's partition, at a time) and converted to that schema by
:func:`edgeml.data.conform`: a value that does not fit is named with its file and row, as
``edgeml predict`` names it. Files only (CSV, Parquet, NDJSON, IPC, globs and Parquet
directories): a database or API source is refused.

>>> import tempfile, polars as pl
>>> path = tempfile.mkdtemp() + "/d.csv"
>>> pl.DataFrame({"x": ["1.5", "2.5", "3"], "y": ["a", "b", "a"]}).write_csv(path)
>>> source = open_source(path, target="y", batch_rows=2)
>>> source.schema, [c.frame.height for c in source.chunks()]
({'x': 'float', 'y': 'str'}, [2, 1])
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from edgeml.batch import file_columns, scan
from edgeml.config import DataConfig
from edgeml.data import (
    FILE_KINDS,
    absent_note,
    column_not_found,
    conform,
    drop_unusable,
    infer_with_formats,
    logical_schema,
    required_everywhere,
)
from edgeml.errors import ConfigError, SchemaError, SourceError
from edgeml.learn import has_label

__all__ = ["Chunk", "ChunkSource", "open_source"]

# Rows of the first chunk that the schema is inferred from.
_SCHEMA_ROWS = 50_000
# Bits of a row key that number the row within its file (the rest number the file).
_ROW_BITS = 40


@dataclass(frozen=True)
class Chunk:
    """Conformed rows of file ``file_index`` starting at its row ``first_row`` (0-based)."""

    frame: pl.DataFrame
    file_index: int
    first_row: int
    where: str

    def keys(self) -> np.ndarray:
        """A uint64 key per row, the same whichever way the file is cut into chunks."""
        rows = np.arange(self.first_row, self.first_row + self.frame.height, dtype=np.uint64)
        return rows | np.uint64(self.file_index << _ROW_BITS)

    def labelled(self, target: str) -> tuple[pl.DataFrame, np.ndarray]:
        """The rows whose ``target`` is known, and their keys (:meth:`keys`)."""
        known = has_label(self.frame[target], source=self.where).to_numpy()
        return self.frame.filter(known), self.keys()[known]


@dataclass(frozen=True, kw_only=True)
class ChunkSource:
    """The files of ``source``, their schema (logical types) and how to read them in chunks."""

    source: str
    paths: list[str]
    schema: dict[str, str]
    config: DataConfig = field(default_factory=DataConfig)
    batch_rows: int = 100_000
    notes: list[str] = field(default_factory=list)
    # Bytes a row takes in memory (Polars' estimate on the first rows), for byte budgets.
    row_bytes: float = 100.0
    # columns a file may lack (null in its rows) because another file holds them
    fillable: list[str] = field(default_factory=list)

    def row(self, key: int) -> str:
        """``"FILE row N"`` (1-based, header not counted) of a row key, for messages.

        >>> ChunkSource(source="d", paths=["a.csv", "b.csv"], schema={}).row((1 << 40) + 6)
        'b.csv row 7'
        """
        return f"{self.paths[key >> _ROW_BITS]} row {(key & ((1 << _ROW_BITS) - 1)) + 1}"

    def chunks(self, columns: Sequence[str] | None = None) -> Iterator[Chunk]:
        """Every chunk of every file, in order, with ``columns`` (default: all of the schema)."""
        for index in range(len(self.paths)):
            yield from self.part(index, None, columns)

    def part(
        self, file_index: int, row_group: int | None, columns: Sequence[str] | None = None
    ) -> Iterator[Chunk]:
        """The chunks of one file, or of one row group of a Parquet file (a Dask partition)."""
        schema = {c: self.schema[c] for c in (columns or self.schema)}
        path = Path(self.paths[file_index])
        reader = scan(
            self.source,
            numbers=[c for c, t in schema.items() if t == "float"],
            integers=[c for c, t in schema.items() if t == "int"],
            text=[c for c, t in schema.items() if t not in ("float", "int")],
            batch_rows=self.batch_rows,
            config=self.config,
            paths=[path],
            fillable=[c for c in self.fillable if c in schema],
        )
        for batch in reader.part(path, row_group):
            where = f"{batch.source} rows {batch.first_row + 1}…"
            frame = conform(batch.frame, schema, source=where, formats=self.config.date_formats)
            yield Chunk(frame, file_index, batch.first_row, where)


def open_source(
    data: str | Path,
    *,
    target: str,
    config: DataConfig | None = None,
    batch_rows: int = 100_000,
) -> ChunkSource:
    """The :class:`ChunkSource` of ``data``, with its schema read from its first rows."""
    config = config or DataConfig()
    text = str(data)
    if "://" in text or text.startswith("sqlite:"):
        raise ConfigError(
            f"{text}: training at scale (--stream, --dask) reads files (CSV, Parquet, NDJSON, "
            "IPC, globs, Parquet directories); export the table to Parquet first"
        )
    # Absolute, so every Dask worker finds the same files (and Hive folders resolve alike).
    text = os.path.abspath(os.path.expanduser(text))
    paths = [str(p.resolve()) for p in scan(text, numbers=[], text=[], batch_rows=1).paths]
    if not paths:
        raise SourceError(f"{text}: no files")
    # A glob is one table, as read_data reads it: every column some file holds (typed from the
    # first rows of the first file holding it), null in the files that lack it; the target in
    # every file.
    columns = {Path(p): file_columns(Path(p), config) for p in paths}
    required_everywhere(columns, [target])
    schema: dict[str, str] = {}
    formats: dict[str, str] = {}
    notes: list[str] = []
    row_bytes = 0.0
    for path, names in columns.items():
        new = [c for c in names if c not in schema and c not in config.drop]
        if not new and schema:
            continue
        head = _typed_head(text, path, new, target, config, first=not schema)
        schema.update({c: t for c, t in head.schema.items() if c not in schema})
        formats.update(head.formats)
        notes += head.notes
        row_bytes += head.row_bytes
    absent = absent_note(columns)
    notes = [*_skipped_lines(paths, config), *([absent] if absent else []), *notes]
    # Every chunk's date text is read with the format the first rows showed (or the user gave).
    config = dataclasses.replace(config, date_formats={**formats, **config.date_formats})
    if target not in schema:
        raise SchemaError(column_not_found(target, "--target", list(schema), source=text))
    return ChunkSource(
        source=text, paths=paths, schema=schema, config=config, batch_rows=batch_rows,
        notes=notes, row_bytes=max(row_bytes, 1.0),
        fillable=list(schema) if len(paths) > 1 else [],
    )  # fmt: skip


@dataclass(frozen=True)
class _Head:
    schema: dict[str, str]
    formats: dict[str, str]
    notes: list[str]
    row_bytes: float  # of these columns, per row


def _typed_head(
    text: str, path: Path, names: list[str], target: str, config: DataConfig, *, first: bool
) -> _Head:
    """The logical types of ``names`` from the first rows of ``path``, as read_data infers a
    whole file (the target kept as written), with the notes that inference gives."""
    head = scan(text, numbers=[], text=names, batch_rows=_SCHEMA_ROWS, config=config,
                paths=[path])  # fmt: skip
    frame = next(iter(head.part(path)), None)
    if first and (frame is None or frame.frame.height == 0):
        raise SourceError(f"{path}: no rows")
    rows = pl.DataFrame(schema=dict.fromkeys(names, pl.String)) if frame is None else frame.frame
    rows = rows.drop([c for c in config.drop if c in rows.columns])
    rows, unusable = drop_unusable(rows, config)  # lists, structs: left out, as in memory
    typed, formats, date_notes = infer_with_formats(
        rows, keep_raw=[target], date_formats=config.date_formats, source=str(path)
    )
    schema, notes = _schema(typed, config)
    kept = rows.select([c for c in schema if c in rows.columns])
    size = kept.estimated_size() / max(kept.height, 1)
    return _Head(schema, formats, [*notes, *unusable, *date_notes], size)


def _skipped_lines(paths: list[str], config: DataConfig) -> list[str]:
    """read_data's notes on the title lines skipped above each CSV file's header, so that the
    streamed data card says what the in-memory one says."""
    from edgeml.data import csv_dialect, preamble_note

    dialects = {p: csv_dialect(Path(p), config) for p in paths if _is_csv(Path(p))}
    return [preamble_note(p, d) for p, d in dialects.items() if d.preamble]


def _is_csv(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix, kind in FILE_KINDS.items() if kind == "csv")


def _schema(frame: pl.DataFrame, config: DataConfig) -> tuple[dict[str, str], list[str]]:
    """Logical types, ``[data] dtypes`` winning; columns no model can read left out, noted."""
    schema: dict[str, str] = {}
    notes: list[str] = []
    for name in frame.columns:
        if name in config.dtypes:
            given = config.dtypes[name]
            schema[name] = "str" if given == "category" else given
            continue
        try:
            schema[name] = logical_schema(frame.select(name))[name]
        except SchemaError:
            notes.append(f"column {name!r} left out: {frame[name].dtype} values cannot be read")
    return schema, notes
