"""Reading files, globs, SQLite and PostgreSQL databases and HTTP APIs into one Polars frame
with a data card.

Every failure a user can cause (missing file, bad bytes, ragged rows, unknown table, bad SQL)
becomes a one-line :class:`SourceError` or :class:`SchemaError` naming the file; no raw Polars or
sqlite3 exception escapes for these.
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import io
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NoReturn

import polars as pl

from edgeml.config import DataConfig
from edgeml.data._card import DataCard, Dataset, file_facts
from edgeml.data._columns import NO_HEADER_HINT, header_looks_like_data
from edgeml.data._combine import combine_files
from edgeml.data._dialect import CsvDialect, sniff_csv
from edgeml.data._http import is_http, read_http
from edgeml.data._json import flatten_structs, read_json_file
from edgeml.data._postgres import is_postgres, read_postgres
from edgeml.data._schema import convert, infer_with_formats, logical_schema
from edgeml.data._sqlite import first_line, read_sqlite
from edgeml.data._totals import drop_totals_row
from edgeml.data._watermark import keep_newer, watermark_range, write_snapshot
from edgeml.errors import ConfigError, SchemaError, SourceError
from edgeml.util.redact import redact

__all__ = [
    "csv_dialect",
    "csv_header",
    "drop_unusable",
    "encoding_error",
    "preamble_note",
    "read_data",
]

# File kind by (lower-cased) suffix; longest suffix first so ".csv.gz" wins over ".gz".
_COMMA_NUMBER = r"^[-+]?(\d+(,\d*)?|,\d+)([eE][-+]?\d+)?$"

#: File kinds by name ending (tab-separated text is CSV: its separator is sniffed).
FILE_KINDS = {
    ".csv.gz": "csv", ".csv": "csv", ".tsv.gz": "csv", ".tsv": "csv", ".tab": "csv",
    ".parquet": "parquet", ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json",
    ".arrow": "ipc", ".ipc": "ipc", ".feather": "ipc",
}  # fmt: skip


def read_data(
    source: str | Path,
    *,
    config: DataConfig | None = None,
    table: str | None = None,
    query: str | None = None,
    keep_raw: Collection[str] = (),
    as_text: Collection[str] = (),
    required: Collection[str] = (),
) -> Dataset:
    """Read a file, a glob, a database table/query or an HTTP API into a :class:`Dataset`.

    ``source`` is a ``.csv``, ``.csv.gz``, ``.parquet``, ``.ndjson``/``.jsonl`` or
    ``.arrow``/``.ipc``/``.feather`` path; a glob such as ``"parts/*.csv"`` (files concatenated
    in sorted order; a column some files lack is null in their rows, noted in the card, but
    each ``required`` column, the target, must be in every file: see
    :mod:`edgeml.data._combine`); or ``"sqlite:///PATH.db"`` (SQLAlchemy style:
    ``sqlite:////abs/path.db`` for an absolute path) with exactly one of ``table`` or ``query``
    (arguments win over ``config.table``/``config.query``); ``"postgresql://USER@HOST:PORT/DB"``
    likewise (see :mod:`edgeml.data._postgres`: the password from ``PGPASSWORD``, ``~/.pgpass``
    or a service file; one in the URI is never shown); or an ``http(s)://`` URL of JSON, NDJSON
    or CSV pages (see :mod:`edgeml.data._http` and the ``[data]`` keys it reads).

    CSV cells in ``config.null_values`` are null. ``config.drop`` columns are removed, then types
    are inferred so that every column holds one logical type (see :data:`POLARS_TYPES`): text
    whose values all parse as integers becomes Int64, as numbers Float64; yes/no, true/false,
    y/n or t/f text (any case) becomes Boolean, except in ``keep_raw`` columns (pass the target
    so labels such as "Yes"/"No" survive); ISO-8601 dates and datetimes become Date and
    Datetime (offsets converted to UTC); all-null columns become Float64. ``config.dtypes``
    overrides replace inference for their columns ("category" keeps the text as written).
    ``[data] date_formats`` columns are read with their format; other text columns of dates in
    a common non-ISO shape (``03/15/2024``) are found and read too, their formats recorded in
    ``card.date_formats``. ``as_text`` columns (where present) stay text as written, for the
    caller to convert (a model's date columns, with the model's formats).

    >>> from edgeml.datasets import path
    >>> ds = read_data(path("telco_churn"), keep_raw=["churn"])
    >>> ds.card.schema["churn"], ds.card.rows
    ('str', 7043)
    """
    config = config or DataConfig()
    text = str(source)
    skipped: list[str] = []  # lines above a CSV file's header, totals rows below its data
    absent: list[str] = []  # columns some files of a glob lack
    _check_config_names(config)
    # Read these as text so overrides and keep_raw see the values exactly as written.
    text_columns = set(config.dtypes) | set(config.date_formats) | set(keep_raw) | set(as_text)
    if text.startswith("sqlite:"):
        frame, sources = read_sqlite(text, table=table, query=query, config=config)
    elif is_postgres(text):
        frame, sources = read_postgres(text, table=table, query=query, config=config)
        text = sources[0]["uri"]  # without the password, for every message below
    elif is_http(text):
        if table is not None or query is not None:
            raise SourceError(f"{redact(text)}: a table or query only applies to database URIs")
        frame, sources = read_http(text, config=config)
        text = sources[0]["uri"]
    else:
        if table is not None or query is not None:
            raise SourceError(
                f"{redact(text)}: a table or query only applies to sqlite:///PATH.db and "
                "postgresql:// sources"
            )
        paths = _expand(text)
        # Each CSV's dialect is sniffed once: read with it, and recorded in the card.
        dialects = {p: csv_dialect(p, config) for p in paths if _kind(p) == "csv"}
        frames = []
        for p in paths:
            read = _read_file(p, config=config, text_columns=text_columns, dialect=dialects.get(p))
            if p in dialects:  # a spreadsheet's export may end with a totals row
                read, totals = drop_totals_row(read, p)
                skipped += [totals] if totals else []
            frames.append(_with_partitions(read, hive_values(p, Path(text))))
        frame, absent = combine_files(frames, paths, required)
        sources = [{**file_facts(p, str(p)), **_dialect_facts(dialects.get(p))} for p in paths]
        skipped[:0] = [preamble_note(p, d) for p, d in dialects.items() if d.preamble]
    if frame.width == 0:
        raise SourceError(f"{text}: no columns")
    if frame.height == 0:
        if config.watermark is not None and config.since is not None:
            _nothing_new(text, config)
        raise SourceError(f"{text}: no rows (only a header or an empty result)")
    frame, unusable = drop_unusable(frame, config)
    frame, formats, date_notes = _apply_config(
        frame, config=config, keep_raw=keep_raw, source=text, as_text=as_text
    )
    if config.watermark is not None:
        frame = keep_newer(frame, config.watermark, config.since, source=text)
        if frame.height == 0:
            _nothing_new(text, config)
        span = watermark_range(frame, config.watermark, config.since)
        sources = [{**s, "watermark": span} for s in sources]
    if config.snapshot is not None:
        if len(sources) != 1 or "kind" not in sources[0]:
            raise ConfigError(
                f"{text}: [data] snapshot keeps rows fetched from a database or API; "
                "files are their own snapshot"
            )
        sources = [{**sources[0], **write_snapshot(frame, config.snapshot)}]
    schema = logical_schema(frame)
    card = DataCard(
        sources=sources,
        rows=frame.height,
        columns=frame.width,
        schema=schema,
        read_at=datetime.now(UTC).isoformat(timespec="seconds"),
        assumptions=[*config.assumptions, *skipped, *absent, *unusable, *date_notes],
        date_formats={c: f for c, f in formats.items() if c in frame.columns},
    )
    return Dataset(frame, card)


def _nothing_new(source: str, config: DataConfig) -> NoReturn:
    what = f"no rows with {config.watermark} after {config.since}"
    raise SourceError(f"{source}: {what} (nothing new)")


def _check_config_names(config: DataConfig) -> None:
    if config.since is not None and config.watermark is None:
        raise ConfigError('[data] since (--since) needs [data] watermark = "COLUMN"')
    overlap = sorted(set(config.drop) & set(config.dtypes))
    if overlap:
        raise ConfigError(f"[data]: columns {overlap} are both dropped and given a dtype")
    overlap = sorted((set(config.drop) | set(config.dtypes)) & set(config.date_formats))
    if overlap:
        raise ConfigError(
            f"[data]: columns {overlap} have a date format and are also dropped or given a dtype"
        )


def drop_unusable(frame: pl.DataFrame, config: DataConfig) -> tuple[pl.DataFrame, list[str]]:
    """Columns no model can read as they are (lists, structs, binary, times of day, durations)
    are left out, each with a note for the data card, unless ``[data] dtypes`` converts them."""
    unusable = {
        name: dtype
        for name, dtype in frame.schema.items()
        if name not in config.dtypes and name not in config.drop and not _flat(dtype)
    }
    notes = [_left_out(name, dtype) for name, dtype in unusable.items()]
    return frame.drop(list(unusable)), notes


def _left_out(name: str, dtype: pl.DataType) -> str:
    """The data card's note for an unusable column: why, and how to make it usable."""
    if isinstance(dtype, pl.Duration):
        # Seconds would be a fine feature, but every executor of the input contract (Polars,
        # the NumPy runtime, ONNX, the C core, the server's JSON) would have to read durations
        # the same way; until they do, the user converts, and knows the unit they chose.
        return (
            f"column {name!r} left out: it holds durations ({dtype}), which edgeml does not "
            "read as numbers (the runtime, ONNX and C executors have no duration type); to use "
            "it, store it as a number of seconds, e.g. in Polars "
            f"pl.col({name!r}).dt.total_seconds(fractional=True)"
        )
    return (
        f"column {name!r} left out: its type {dtype} is not a flat number, text, boolean, date "
        "or datetime (flatten it into such columns to use it)"
    )


def _flat(dtype: pl.DataType) -> bool:
    return (
        dtype.is_numeric()
        or dtype in (pl.Boolean, pl.String, pl.Categorical, pl.Enum, pl.Date, pl.Null)
        or isinstance(dtype, pl.Datetime)
    )


def _apply_config(
    frame: pl.DataFrame,
    *,
    config: DataConfig,
    keep_raw: Collection[str],
    source: str,
    as_text: Collection[str] = (),
) -> tuple[pl.DataFrame, dict[str, str], list[str]]:
    """The frame with its types inferred and ``[data]`` applied, the date format of each
    non-ISO date column, and notes on the day/month orders assumed."""
    named = (("drop", config.drop), ("dtypes", list(config.dtypes)),
             ("date_formats", list(config.date_formats)))  # fmt: skip
    for key, names in named:
        unknown = [c for c in names if c not in frame.columns]
        if unknown:
            raise SchemaError(
                f"{source}: [data] {key} names unknown column(s) "
                f"{', '.join(repr(c) for c in unknown)}; available: {', '.join(frame.columns)}"
            )
    # Drop first so an unusable column (say a nested JSON field) can be dropped by the user.
    frame = frame.drop(config.drop)
    overrides = {c: ("str" if t == "category" else t) for c, t in config.dtypes.items()}
    try:
        text = {c: "str" for c in as_text if c in frame.columns and c not in overrides}
        frame, formats, notes = infer_with_formats(
            frame.with_columns(pl.col(c).cast(pl.String) for c in text),
            skip={**overrides, **text}, keep_raw=keep_raw, date_formats=config.date_formats,
            source=source,
        )  # fmt: skip
    except SchemaError as exc:
        if "date_formats" in str(exc) or "expected the format" in str(exc):
            raise
        # a nested or binary column: say where, and how to get past it
        raise SchemaError(f"{source}: {exc}; drop it with [data] drop = [...]") from None
    if overrides:
        frame = frame.with_columns(
            convert(frame[c], logical, source=source) for c, logical in overrides.items()
        )
    return frame, formats, notes


# ---------------------------------------------------------------------------------------- files


def _expand(text: str) -> list[Path]:
    """The file(s) a path or glob names, each with a known extension."""
    # An existing file is read as named, even if its name holds glob characters like "[".
    if any(ch in text for ch in "*?[") and not Path(text).is_file():
        paths = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not paths:
            raise SourceError(f"{text}: no files match this pattern")
    else:
        path = Path(text)
        if not path.exists():
            raise SourceError(f"{text}: file not found")
        if path.is_dir():
            paths = parquet_files(path)
            if not paths:
                raise SourceError(
                    f"{text}: directory holds no .parquet files; give a file, a partitioned "
                    f"Parquet directory or a glob like {text}/*.csv"
                )
            return paths
        paths = [path]
    for path in paths:
        _kind(path)
    return paths


def parquet_files(directory: Path) -> list[Path]:
    """The ``.parquet`` files of a partitioned Parquet directory (Hive's ``key=value`` folders,
    as Spark, Dask, pyarrow and Polars write them), in sorted order, without temporary or marker
    files (``.name``, ``_SUCCESS``)."""
    files = (p for p in directory.rglob("*.parquet") if p.is_file())
    marker = (".", "_")
    return sorted(
        p for p in files if not any(s.startswith(marker) for s in p.relative_to(directory).parts)
    )


def hive_values(path: Path, root: Path) -> dict[str, str]:
    """``{key: value}`` of the ``key=value`` folders between a Parquet directory and one of its
    files (``{}`` when ``root`` is not a directory): the partition columns, as text.

    >>> hive_values(Path("sales/year=2024/region=eu/part-0.parquet"), Path("sales"))
    {}
    """
    if not root.is_dir():
        return {}
    parts = path.relative_to(root).parts[:-1]
    return dict(p.split("=", 1) for p in parts if "=" in p)


def _kind(path: Path) -> str:
    name = path.name.lower()
    for suffix, kind in FILE_KINDS.items():
        if name.endswith(suffix):
            return kind
    raise SourceError(
        f"{path}: unknown file type; expected one of: {', '.join(FILE_KINDS)} "
        "(or sqlite:///PATH.db with a table or query)"
    )


def _read_file(
    path: Path, *, config: DataConfig, text_columns: set[str], dialect: CsvDialect | None
) -> pl.DataFrame:
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: empty file (0 bytes)")
    kind = _kind(path)
    try:
        if kind == "csv":
            return _read_csv(
                path, config=config, text_columns=text_columns, dialect=dialect or CsvDialect()
            )
        if kind == "parquet":
            return pl.read_parquet(path, glob=False)
        if kind == "json":
            return read_json_file(path, config)
        # read_ipc/read_ndjson expand globs ("[" in a name breaks them); a file handle does not.
        with path.open("rb") as fh:
            if kind == "ipc":
                return pl.read_ipc(fh)
            return flatten_structs(
                pl.read_ndjson(fh, infer_schema_length=config.infer_schema_length)
            )
    except UnicodeDecodeError:
        _raise_encoding(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            _raise_encoding(path)
        if kind == "ndjson" and _blank(path):
            raise SourceError(f"{path}: no records (only blank lines)") from None
        raise SourceError(f"{path}: cannot read as {kind}: {first_line(exc)}") from None


def _blank(path: Path) -> bool:
    """Whether the file holds only white space (only asked on an error path)."""
    with path.open("rb") as fh:
        return all(not block.strip() for block in iter(lambda: fh.read(1 << 20), b""))


def csv_dialect(path: Path, config: DataConfig) -> CsvDialect:
    """The separator and number format to read the CSV file at ``path`` with (``[data]
    separator`` and ``decimal_comma``, sniffed from the file where "auto")."""
    try:
        return sniff_csv(path, separator=config.separator, decimal_comma=config.decimal_comma)
    except (OSError, EOFError) as exc:  # e.g. a ".csv.gz" that is not gzip
        raise SourceError(f"{path}: cannot read as csv: {exc}") from None


def preamble_note(path: Path | str, dialect: CsvDialect) -> str:
    """The data card's note on the lines skipped above a CSV file's header (every reader that
    trains says it alike: in memory or streamed)."""
    lines = dialect.preamble
    if dialect.codes:  # the last line skipped is a first header row
        line = dialect.skip_lines
        above = f" with the {lines - 1} line(s) above it" if lines > 1 else ""
        return (
            f"{path}: read line {line + 1} as the header; line {line} above it, a first header "
            f"row of codes, skipped{above}"
        )
    return f"{path}: skipped {lines} line(s) above the header (a title, blank or # lines)"


def _dialect_facts(dialect: CsvDialect | None) -> dict[str, Any]:
    """What the data card records of a CSV file's dialect, when it is not plain commas."""
    if dialect is None or dialect == CsvDialect():
        return {}
    facts: dict[str, Any] = {"separator": dialect.separator, "decimal_comma": dialect.decimal_comma}
    if dialect.skip_lines:
        facts["skip_lines"] = dialect.skip_lines  # Excel's "sep=;" line, a title above the header
    return {**facts, "initial_space": True} if dialect.initial_space else facts


def _read_csv(
    path: Path, *, config: DataConfig, text_columns: set[str], dialect: CsvDialect
) -> pl.DataFrame:
    header = csv_header(path, dialect)
    names = dialect.column_names(header)
    refuse_duplicate_names(path, names)
    text = [c for c in names if c in text_columns]
    overrides: dict[str, Any] = {name: pl.String for name in text}
    # No try_parse_dates: it made reading 10x slower with a long inference window, and
    # infer_types reads ISO dates and datetimes out of text columns anyway.
    options: dict[str, Any] = {
        "null_values": list(config.null_values),
        "schema_overrides": overrides or None,
        "glob": False,
        # the names as the CSV means them: Polars keeps a quoted name's doubled quotes
        # ("a ""b""" is read as 'a ""b""', not 'a "b"')
        "new_columns": names,
        **dialect.polars_options(),
    }
    raw = [c for c in text if c not in config.dtypes]  # kept as text for the labels only
    frame = dialect.tidy(_read_csv_frame(path, header, options, config, dialect))
    return _decimal_points(frame, raw) if dialect.decimal_comma else frame


def _read_csv_frame(
    path: Path,
    header: list[str],
    options: dict[str, Any],
    config: DataConfig,
    dialect: CsvDialect,
) -> pl.DataFrame:
    try:
        return pl.read_csv(path, infer_schema_length=config.infer_schema_length, **options)
    except pl.exceptions.NoDataError:
        raise SourceError(f"{path}: no rows") from None
    except pl.exceptions.PolarsError as exc:
        message = str(exc)
        if "utf-8" in message.lower():
            _raise_encoding(path)
        if "more fields than" in message:
            line = _ragged_line(path, len(header), dialect)
            where = f" on line {line}" if line else ""
            raise SourceError(
                f"{path}: a row has more fields than the header's {len(header)}{where}"
            ) from None
        if "could not parse" not in message:
            raise
    try:
        # A value late in the file did not fit the type guessed from the first rows: scan all.
        return pl.read_csv(path, infer_schema_length=None, **options)
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"{path}: cannot read as csv: {first_line(exc)}") from None


def _decimal_points(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Text columns of a decimal-comma file whose values are all numbers written with one
    ("5,392"), with the comma made a point, so that they read as numbers as the file's other
    columns did. These are the columns read as text for their labels (the target): a label of
    "Yes"/"No" stays text, one of "5,392" is the number 5.392, not the text of 600 classes.
    """
    number = pl.col("v").str.strip_chars()
    changed = []
    for name in columns:
        values = frame[name].drop_nulls()
        if values.dtype != pl.String or values.is_empty():
            continue
        facts = values.to_frame("v").select(
            number=number.str.contains(_COMMA_NUMBER).all(),
            comma=number.str.contains(",", literal=True).any(),
        )
        if facts["number"][0] and facts["comma"][0]:
            changed.append(pl.col(name).str.replace(",", ".", literal=True))
    return frame.with_columns(changed) if changed else frame


@contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        yield fh  # type: ignore[misc]


def _csv_reader(text: IO[str], dialect: CsvDialect) -> Any:
    """A ``csv.reader`` of a CSV file's text at its header (the lines before it read: its
    ``line_num`` is the file's line number)."""
    reader = csv.reader(text, delimiter=dialect.separator)
    for _ in range(dialect.skip_lines):
        next(reader, None)
    return reader


def refuse_duplicate_names(path: Path, names: list[str]) -> None:
    """Refuse a header naming a column twice, saying where. pandas would read ``a, a.1`` and
    Polars ``a, a_duplicated_0``: names no other file has, so a model trained on one would
    refuse the next export ('missing column a.1'); one clear fix in the file is better.

    >>> refuse_duplicate_names(Path("dup.csv"), ["a", "b", "a"])
    Traceback (most recent call last):
    edgeml.errors.SchemaError: dup.csv: the header names column 'a' twice (columns 1 and 3); ...
    """
    for name in dict.fromkeys(names):
        fields = [i + 1 for i, n in enumerate(names) if n == name]
        if len(fields) > 1:
            times = "twice" if len(fields) == 2 else f"{len(fields)} times"
            shown = ", ".join(map(str, fields[:-1])) + f" and {fields[-1]}"
            fix = "rename them so that each column has its own name"
            if header_looks_like_data(names):  # a file with no header row (0 in two columns)
                fix = NO_HEADER_HINT + " If not, add one naming each column"
            raise SchemaError(
                f"{path}: the header names column {name!r} {times} (columns {shown}); {fix}"
            )


def csv_header(path: Path, dialect: CsvDialect) -> list[str]:
    """The header fields of the CSV file at ``path`` as the CSV means them (quotes undone)."""
    try:
        with _open_binary(path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            return next(_csv_reader(text, dialect), [])
    except UnicodeDecodeError:
        _raise_encoding(path)
    except (OSError, EOFError) as exc:  # e.g. a ".csv.gz" that is not gzip
        raise SourceError(f"{path}: cannot read as csv: {exc}") from None


def _ragged_line(path: Path, width: int, dialect: CsvDialect) -> int | None:
    """Line number of the first record with more fields than the header (only on the error path)."""
    with _open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = _csv_reader(text, dialect)
        for record in reader:
            if len(record) > width:
                return reader.line_num
    return None


def _raise_encoding(path: Path) -> NoReturn:
    raise encoding_error(path) from None


def encoding_error(path: Path) -> SourceError:
    """The error for a text file that is not UTF-8: UTF-16 or UTF-32 by its byte-order mark
    (Windows tools write "Unicode" text so), else the line of the first bad byte, with the
    command that re-encodes it (only asked on an error path: it reads the file again)."""
    with _open_binary(path) as fh:
        start = fh.read(4)
    fix = f"> fixed-{path.name}`"
    for name, marks in _WIDE_UNICODE:
        if start.startswith(marks):
            return SourceError(
                f"{path}: {name.upper()} text (it starts with a {name.upper()} byte-order mark), "
                f"not UTF-8; re-encode it, e.g. `iconv -f {name} -t utf-8 {path.name} {fix}"
            )
    line = _first_bad_utf8_line(path)
    where = f" (first bad byte on line {line})" if line else ""
    # Windows-1252 (what Excel on Windows writes) over latin-1: it reads latin-1's letters
    # alike and "€" (0x80), which latin-1 would turn into a control character.
    return SourceError(
        f"{path}: not valid UTF-8{where}; re-encode it, e.g. "
        f"`iconv -f cp1252 -t utf-8 {path.name} {fix} (Excel on Windows writes cp1252)"
    )


# UTF-32's marks first: UTF-32-LE's starts with UTF-16-LE's.
_WIDE_UNICODE = (
    ("utf-32", (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)),
    ("utf-16", (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)),
)


def _first_bad_utf8_line(path: Path) -> int | None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with _open_binary(path) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk.count(b"\n", 0, max(exc.start, 0))
            line += chunk.count(b"\n")
    return None


def _with_partitions(frame: pl.DataFrame, partitions: dict[str, str]) -> pl.DataFrame:
    """A partitioned Parquet file's rows with its folders' ``key=value`` columns (as text, typed
    by inference like any text; batch scans add them alike)."""
    added = {k: v for k, v in partitions.items() if k not in frame.columns}
    return frame.with_columns(pl.lit(v, dtype=pl.String).alias(k) for k, v in added.items())
