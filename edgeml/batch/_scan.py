"""Scan a data source in batches of rows, in input order, holding one batch at a time.

A source is what ``edgeml predict`` takes as DATA: a ``.csv``/``.csv.gz``, ``.parquet``,
``.ndjson``/``.jsonl`` or ``.arrow``/``.ipc``/``.feather`` file, a glob of them (files in sorted
order), a directory of Parquet files (Hive ``key=value`` folders become columns), or
``sqlite:///PATH.db`` with a table or query (read with a cursor, ``batch_rows`` at a time),
``postgresql://USER@HOST:PORT/DB`` with a table or query (Arrow batches streamed by the driver)
or an ``http(s)://`` API (page by page).

Only the columns asked for are read. CSV columns the model reads as numbers are parsed as
Float64 (``numbers``) or Int64 (``integers``) by Polars and every other model column as text, so
:func:`edgeml.data.conform` converts them exactly as the one-shot path does: where Polars parses
an integer, conform reads the same text as the same integer; a block whose numbers do not parse
(``5 ``, ``1.0``, ``yes`` in an integer column) is read again as text, and conform converts it
or names the row at fault. Every column of a block is given its type (none is inferred): Polars
parses a block several times faster than when it infers a schema first. Each :class:`Batch`
says which file and row it starts at, for error messages.

>>> import tempfile, polars as pl
>>> path = tempfile.mkdtemp() + "/d.csv"
>>> pl.DataFrame({"x": [1.5, 2.5, 3.5], "c": ["a", "b", "c"]}).write_csv(path)
>>> [(b.first_row, b.frame["x"].to_list()) for b in scan(path, numbers=["x"], text=["c"],
...                                                            batch_rows=2)]
[(0, [1.5, 2.5]), (2, [3.5])]
"""

from __future__ import annotations

import glob
import gzip
import io
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import polars as pl

from edgeml.batch._chunks import record_blocks
from edgeml.batch._columns import held_somewhere
from edgeml.batch._locate import bad_block
from edgeml.config import DataConfig
from edgeml.data import (
    FILE_KINDS,
    CsvDialect,
    PostgresSource,
    column_not_found,
    csv_dialect,
    csv_header,
    encoding_error,
    flatten_structs,
    hive_values,
    http_pages,
    is_http,
    is_postgres,
    missing_columns,
    parquet_files,
    postgres_batches,
    postgres_source,
    read_json_file,
    redact,
    refuse_duplicate_names,
)
from edgeml.errors import SchemaError, SourceError

__all__ = ["Batch", "Scan", "scan"]

_SQLITE = "sqlite:///"


@dataclass(frozen=True)
class Batch:
    """Rows ``first_row`` … of ``source`` (0-based); ``first_line`` is the file line of the
    first row when every row of the batch is one line of text (CSV, NDJSON), else None."""

    frame: pl.DataFrame
    source: str
    first_row: int
    first_line: int | None = None

    def where(self, row: int) -> str:
        """``"FILE row N (line L)"`` for 0-based ``row`` of this batch."""
        line = f" (line {self.first_line + row})" if self.first_line is not None else ""
        return f"{self.source} row {self.first_row + row + 1}{line}"

    def line_of(self, row: int) -> int | None:
        """The file line of 0-based ``row`` of this batch, when known."""
        return None if self.first_line is None else self.first_line + row


class Scan:
    """An iterable of :class:`Batch`; ``total_rows`` is known for Parquet and SQLite."""

    def __init__(
        self,
        source: str,
        *,
        numbers: Collection[str],
        text: Collection[str],
        optional: Collection[str] = (),
        integers: Collection[str] = (),
        named: Mapping[str, str] | None = None,
        needed: Sequence[str] | None = None,
        batch_rows: int,
        table: str | None = None,
        query: str | None = None,
        config: DataConfig | None = None,
        paths: Sequence[Path] | None = None,
        fillable: Collection[str] | None = None,
    ) -> None:
        if batch_rows < 1:
            raise SourceError(f"{source}: batch rows must be at least 1, got {batch_rows}")
        self.source = str(source)
        self.numbers = set(numbers)
        self.integers = set(integers) - self.numbers
        self.wanted = list(dict.fromkeys([*numbers, *integers, *text]))
        self.optional = [c for c in optional if c not in self.wanted]
        # columns a user named (an id column): a missing one is reported with the option
        # that named it and the file's columns, not as a column the model needs
        self.named = dict(named or {})
        # the model's input columns in its own order, as a missing one's message lists them
        self.needed = [c for c in self.wanted if c not in self.named] if needed is None else needed
        self.batch_rows = batch_rows
        self.config = config or DataConfig()
        self.table, self.query = table, query
        self.paths: list[Path] = []
        self._postgres: PostgresSource | None = None
        self._http = False
        if self.source.startswith("sqlite:"):
            self._sql = _sql(self.source, table, query)
        elif is_postgres(self.source):
            if table is None and query is None:
                table, query = self.config.table, self.config.query
            self._postgres = postgres_source(self.source, table=table, query=query)
            self.source = self._postgres.shown  # no password in any message
        elif is_http(self.source):
            if table is not None or query is not None:
                raise SourceError(f"{redact(source)}: a table or query only applies to databases")
            self._http, self._url = True, self.source
            self.source = redact(self.source)
        else:
            if table is not None or query is not None:
                raise SourceError(
                    f"{redact(source)}: a table or query only applies to sqlite:///PATH.db and "
                    "postgresql:// sources"
                )
            # ``paths``: the files of ``source`` when already listed (a Dask task reads one)
            self.paths = expand(self.source) if paths is None else [Path(p) for p in paths]
        # Columns asked for that some file of the source holds: a file lacking one gets nulls
        # there, as read_data reads a glob (given by whoever listed the files for one). Not a
        # column the user named (an id): its file is refused with the option that named it.
        asked = [c for c in [*self.wanted, *self.optional] if c not in self.named]
        self.fillable = set(fillable) if fillable is not None else held_somewhere(
            self.paths, asked, self.config, Path(self.source)
        )  # fmt: skip

    def count_rows(self) -> int | None:
        """The number of rows when it is cheap to know (Parquet metadata, SQLite, plain CSV)."""
        if self.paths and all(kind(p) == "parquet" for p in self.paths):
            import pyarrow.parquet as pq

            return sum(pq.ParquetFile(p).metadata.num_rows for p in self.paths)
        plain = [p for p in self.paths if kind(p) == "csv" and not p.name.lower().endswith(".gz")]
        if self.paths and len(plain) == len(self.paths):
            return sum(_count_csv_rows(p, csv_dialect(p, self.config)) for p in self.paths)
        if self._postgres is not None or self._http:
            return None
        if not self.paths:
            path, sql = self._sql
            with closing(_connect(path)) as conn:
                return int(conn.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0])
        return None

    def __iter__(self) -> Iterator[Batch]:
        if self._postgres is not None:
            yield from _rebatch(self._frames(postgres_batches(
                self._postgres, batch_rows=self.batch_rows)), self.batch_rows)  # fmt: skip
            return
        if self._http:
            pages = http_pages(self._url, config=self.config)
            yield from _rebatch(self._frames(pages), self.batch_rows)
            return
        if not self.paths:
            yield from _rebatch(self._sqlite(), self.batch_rows)
            return
        for path in self.paths:
            yield from self.part(path)

    def part(self, path: Path, row_group: int | None = None) -> Iterator[Batch]:
        """The batches of one file of this source, or of one row group of a Parquet file (what
        a Dask task scores); rows are numbered from the start of the file."""
        if row_group is not None:
            yield from _rebatch(self._filled(self._parquet(path, row_group)), self.batch_rows)
            return
        reader = {"csv": self._csv, "parquet": self._parquet, "ndjson": self._ndjson,
                  "json": self._json, "ipc": self._ipc}[kind(path)]  # fmt: skip
        yield from _rebatch(self._filled(reader(path)), self.batch_rows)

    # -- one file -----------------------------------------------------------------------------

    def _columns(self, present: Sequence[str], where: str) -> list[str]:
        """The columns to read of a file holding ``present`` (those to fill are left out)."""
        missing = [
            c for c in self.wanted if c not in present and c not in self.named
            and c not in self.fillable
        ]  # fmt: skip
        if missing:
            raise SchemaError(missing_columns(where, missing, self.needed, present))
        for column, option in self.named.items():
            if column not in present:
                raise SchemaError(column_not_found(column, option, list(present), source=where))
        wanted = [c for c in self.wanted if c in present]
        return [*wanted, *(c for c in self.optional if c in present)]

    def _filled(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """Batches with the columns their file lacks and another file holds, as nulls: typed
        as that column is parsed elsewhere, so the batches of a glob line up."""
        for batch in batches:
            absent = [c for c in [*self.wanted, *self.optional]
                      if c in self.fillable and c not in batch.frame.columns]  # fmt: skip
            if absent:
                order = [*self.wanted, *(c for c in self.optional
                                         if c in batch.frame.columns or c in absent)]  # fmt: skip
                nulls = (pl.lit(None, dtype=_parsed(c, self.numbers, self.integers)).alias(c)
                         for c in absent)  # fmt: skip
                frame = batch.frame.with_columns(nulls).select(order)
                batch = Batch(frame, batch.source, batch.first_row, batch.first_line)
            yield batch

    def _csv(self, path: Path) -> Iterator[Batch]:
        dialect = csv_dialect(path, self.config)  # separator and decimal commas, as read_data
        header = _csv_header(path, dialect)
        names = dialect.column_names(header)  # without a space after the separator
        columns = self._columns(names, str(path))
        row, line = 0, 2 + dialect.skip_lines
        with _open_binary(path) as fh:
            for _ in range(dialect.skip_lines):  # Excel's "sep=;" line
                fh.readline()
            head = fh.readline()
            # The names Polars reads in the header (it keeps a quoted name's doubled quotes:
            # 'a ""b""' for "a ""b"""), renamed to the CSV's own after each block is read.
            seen = _polars_header(head, header, dialect)
            in_file = dict(zip(names, seen, strict=True))
            renamed = {raw: name for raw, name in zip(seen, names, strict=True) if raw != name}
            # Model columns as the one-shot path reads them: numbers parsed, the rest (and the
            # target, kept as written) as text for conform; columns not read are typed as text
            # too (a full schema: nothing is inferred).
            as_text = dict.fromkeys(seen, pl.String())
            typed = {in_file[c]: _parsed(c, self.numbers, self.integers) for c in names}
            size = _block_bytes(path, self.batch_rows)
            for block in record_blocks(fh, size=size, quoted=True):
                data = head + block
                options = dict(
                    columns=[in_file[c] for c in columns],
                    null_values=list(self.config.null_values),
                    **dialect.polars_options(whole_file=False),
                )
                try:
                    frame = _read_csv(data, typed, options)
                except pl.exceptions.PolarsError:
                    try:  # numbers that Polars does not parse: conform judges them as text
                        frame = _read_csv(data, as_text, options)
                    except pl.exceptions.PolarsError as exc:
                        raise bad_block(
                            path, block, line, len(header), exc, dialect.separator
                        ) from None
                frame = dialect.tidy(frame.rename(renamed, strict=False))
                newlines = block.count(b"\n") + (not block.endswith(b"\n"))
                single = newlines == frame.height
                yield Batch(frame, str(path), row, line if single else None)
                row += frame.height
                line += newlines

    def _ndjson(self, path: Path) -> Iterator[Batch]:
        row, line = 0, 1
        with path.open("rb") as fh:
            size = _block_bytes(path, self.batch_rows)
            for block in record_blocks(fh, size=size, quoted=False):
                if not block.strip():  # blank lines hold no records
                    line += block.count(b"\n")
                    continue
                try:
                    frame = pl.read_ndjson(io.BytesIO(block), infer_schema_length=None)
                except pl.exceptions.PolarsError as exc:
                    raise bad_block(path, block, line, 0, exc) from None
                frame = flatten_structs(frame)  # nested objects: parent.child, as read_data
                frame = frame.select(self._columns(frame.columns, str(path)))
                yield Batch(frame, str(path), row, line if block.count(b"\n") == frame.height
                            else None)  # fmt: skip
                row += frame.height
                line += block.count(b"\n")
        if row == 0:
            raise SourceError(f"{path}: no records (only blank lines)")

    def _json(self, path: Path) -> Iterator[Batch]:
        """A JSON array of records is one value: read whole, as read_data reads it."""
        try:
            frame = read_json_file(path, self.config)
        except UnicodeDecodeError:
            raise encoding_error(path) from None
        yield Batch(frame.select(self._columns(frame.columns, str(path))), str(path), 0)

    def _parquet(self, path: Path, row_group: int | None = None) -> Iterator[Batch]:
        import pyarrow.parquet as pq

        try:
            # no pre-buffering or decoding threads: a row group's column chunks are read as
            # they are decoded (peak 9 MB lower on the telco file, the same CPU time)
            file = pq.ParquetFile(path, pre_buffer=False)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            raise SourceError(f"{path}: cannot read as parquet: {exc}") from None
        partitions = hive_values(path, Path(self.source))
        present = [*file.schema_arrow.names, *partitions]
        columns = self._columns(present, str(path))
        stored = [c for c in columns if c not in partitions]
        groups = None if row_group is None else [row_group]
        before = range(0 if row_group is None else row_group)
        row = sum(file.metadata.row_group(i).num_rows for i in before)
        records = file.iter_batches(
            batch_size=self.batch_rows, columns=stored, row_groups=groups, use_threads=False
        )
        for record in records:
            frame = cast(pl.DataFrame, pl.from_arrow(record))  # a RecordBatch gives a frame
            if partitions:
                frame = frame.with_columns(
                    pl.lit(v, dtype=pl.String).alias(k) for k, v in partitions.items()
                    if k in columns
                ).select(columns)  # fmt: skip
            yield Batch(frame, str(path), row)
            row += frame.height

    def _ipc(self, path: Path) -> Iterator[Batch]:
        import pyarrow as pa

        try:
            reader: Any = pa.ipc.open_file(pa.OSFile(str(path)))
            records: Iterator[Any] = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid:
            try:
                records = iter(pa.ipc.open_stream(pa.OSFile(str(path))))
            except pa.ArrowInvalid as exc:
                raise SourceError(f"{path}: cannot read as ipc: {exc}") from None
        row = 0
        for record in records:
            frame = cast(pl.DataFrame, pl.from_arrow(record))
            frame = frame.select(self._columns(frame.columns, str(path)))
            yield Batch(frame, str(path), row)
            row += frame.height

    def _frames(self, frames: Iterator[pl.DataFrame]) -> Iterator[Batch]:
        """Batches of a database's or an API's frames; an API page lacking an optional column
        that the first page has gets it as nulls, so every batch has the same columns."""
        row = 0
        columns: list[str] | None = None
        for frame in frames:
            if frame.height == 0:
                continue
            if columns is None:
                columns = self._columns(frame.columns, self.source)
            else:
                self._columns(frame.columns, self.source)
                frame = frame.with_columns(
                    pl.lit(None).alias(c) for c in columns if c not in frame.columns
                )
            yield Batch(frame.select(columns), self.source, row)
            row += frame.height

    def _sqlite(self) -> Iterator[Batch]:
        path, sql = self._sql
        row = 0
        with closing(_connect(path)) as conn:
            try:
                cursor = conn.execute(sql)
                names = [d[0] for d in cursor.description]
                columns = self._columns(names, self.source)
                while rows := cursor.fetchmany(self.batch_rows):
                    frame = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)
                    yield Batch(frame.select(columns), self.source, row)
                    row += frame.height
            except sqlite3.Error as exc:
                raise SourceError(f"{self.source}: {exc}") from None
            except pl.exceptions.PolarsError as exc:
                raise SourceError(
                    f"{self.source}: rows {row + 1}…{row + self.batch_rows}: {exc}"
                ) from None


def scan(source: str | Path, **options: Any) -> Scan:
    """A :class:`Scan` of ``source`` (see the module docstring and :class:`Scan`'s arguments)."""
    return Scan(str(source), **options)


def kind(path: Path) -> str:
    name = path.name.lower()
    for suffix, found in FILE_KINDS.items():
        if name.endswith(suffix):
            return found
    raise SourceError(
        f"{path}: unknown file type; expected one of: {', '.join(FILE_KINDS)} "
        "(or a Parquet directory, or sqlite:///PATH.db with a table or query)"
    )


def expand(text: str) -> list[Path]:
    """The files a path, glob or Parquet directory names, in sorted order."""
    path = Path(text)
    if path.is_dir():
        paths = parquet_files(path)
        if not paths:
            raise SourceError(f"{text}: directory holds no .parquet files")
        return paths
    if any(ch in text for ch in "*?[") and not path.is_file():
        paths = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not paths:
            raise SourceError(f"{text}: no files match this pattern")
    elif not path.exists():
        raise SourceError(f"{text}: file not found")
    else:
        paths = [path]
    for p in paths:
        kind(p)
        if p.stat().st_size == 0:
            raise SourceError(f"{p}: empty file (0 bytes)")
    return paths


def _rebatch(batches: Iterator[Batch], rows: int) -> Iterator[Batch]:
    """Batches of exactly ``rows`` rows (the last one shorter) out of blocks of any size."""
    held: list[Batch] = []
    count = 0
    for batch in batches:
        if batch.frame.height == 0:
            continue
        held.append(batch)
        count += batch.frame.height
        while count >= rows:
            out, held, count = _take(held, rows)
            yield out
    if held:
        yield _take(held, count)[0]


def _take(held: list[Batch], rows: int) -> tuple[Batch, list[Batch], int]:
    first = held[0]
    parts, need, rest = [], rows, []
    lines_known = True
    for i, batch in enumerate(held):
        if need == 0:
            rest = held[i:]
            break
        height = batch.frame.height
        if height <= need:
            parts.append(batch.frame)
            need -= height
            lines_known &= batch.first_line is not None
        else:
            parts.append(batch.frame.slice(0, need))
            lines_known &= batch.first_line is not None
            line = None if batch.first_line is None else batch.first_line + need
            rest = [Batch(batch.frame.slice(need), batch.source, batch.first_row + need, line),
                    *held[i + 1 :]]  # fmt: skip
            need = 0
            break
    frame = parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical_relaxed")
    out = Batch(frame, first.source, first.first_row, first.first_line if lines_known else None)
    return out, rest, sum(b.frame.height for b in rest)


def _read_csv(
    text: bytes, schema: Mapping[str, pl.DataType], options: dict[str, Any]
) -> pl.DataFrame:
    return pl.read_csv(text, schema=schema, **options)  # bytes as they are: no BytesIO copy


def _parsed(column: str, numbers: Collection[str], integers: Collection[str]) -> pl.DataType:
    """The type Polars parses a CSV column as: Float64, Int64 or text (for conform)."""
    if column in numbers:
        return pl.Float64()
    return pl.Int64() if column in integers else pl.String()


def _block_bytes(path: Path, rows: int) -> int:
    """Bytes per block for about ``rows`` rows, from the average line length of the start."""
    with _open_binary(path) as fh:
        sample = fh.read(1 << 20)
    per_row = len(sample) / max(sample.count(b"\n"), 1)
    return int(min(max(per_row * rows, 1 << 16), 1 << 30))


def _count_csv_rows(path: Path, dialect: CsvDialect) -> int:
    lines = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 24):
            lines += block.count(b"\n")
    return max(lines - 1 - dialect.skip_lines, 0)


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _csv_header(path: Path, dialect: CsvDialect) -> list[str]:
    header = csv_header(path, dialect)
    # Empty names are told apart by position (Excel's trailing empty columns), as read_data does.
    refuse_duplicate_names(path, dialect.column_names(header))
    return header


def _polars_header(head: bytes, header: list[str], dialect: CsvDialect) -> list[str]:
    """The names Polars gives the fields of the header line ``head`` (``header`` where it
    reads another number of fields, as for a quoted name holding a newline)."""
    try:
        seen = pl.read_csv(head, n_rows=0, **dialect.polars_options(whole_file=False)).columns
    except pl.exceptions.PolarsError:
        return header
    return seen if len(seen) == len(header) else header


def _sql(uri: str, table: str | None, query: str | None) -> tuple[Path, str]:
    if not uri.startswith(_SQLITE) or len(uri) == len(_SQLITE):
        raise SourceError(f"{uri}: expected sqlite:///PATH.db (or sqlite:////ABSOLUTE/PATH.db)")
    path = Path(uri[len(_SQLITE) :])
    if (table is None) == (query is None):
        raise SourceError(f"{uri}: a sqlite source needs exactly one of --table or --query")
    if not path.is_file():
        raise SourceError(f"{path}: sqlite database file not found (from {uri})")
    if table is not None:
        with closing(_connect(path)) as conn:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]  # fmt: skip
        match = [n for n in names if n == table] or [
            n for n in names if n.casefold() == table.casefold()
        ]
        if not match:
            raise SourceError(f"{uri}: no table {table!r}; tables: {', '.join(sorted(names))}")
        return path, 'SELECT * FROM "' + match[0].replace('"', '""') + '"'
    return path, str(query).strip().rstrip(";")


def _connect(path: Path) -> sqlite3.Connection:
    # Read-only, so a mistyped path can never create an empty database.
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
