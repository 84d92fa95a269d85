"""Incremental collection: only rows newer than a watermark, kept in a local Parquet snapshot.

``[data] watermark = "updated_at"`` names a column that grows with every new or changed row.
With ``[data] since`` (``--since``) only rows whose watermark is greater are kept — pushed down
into the SQL of a database source, sent as ``[data] since_param`` to an API, and checked again
on the rows fetched. The data card records the range read (``after``, ``min``, ``max``), so the
next ``edgeml retrain`` starts where this one stopped (:func:`last_watermark`). With ``[data]
snapshot = "DIR"`` the rows fetched are appended to DIR as one Parquet file per run, named in the
data card with their sha256, so the rows a model learned from can be read again without the
source.

>>> import polars as pl
>>> frame = pl.DataFrame({"n": [1, 5, 9]})
>>> keep_newer(frame, "n", "4", source="s")["n"].to_list()
[5, 9]
>>> watermark_range(frame, "n", "4")
{'column': 'n', 'after': '4', 'min': '1', 'max': '9'}
>>> last_watermark([{"watermark": {"column": "n", "max": "9"}}, {"uri": "a.csv"}], "n")
'9'
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from edgeml.errors import ConfigError, SchemaError

__all__ = [
    "keep_newer",
    "last_watermark",
    "since_sql",
    "watermark_range",
    "write_snapshot",
]


def since_sql(sql: str, column: str, since: str) -> str:
    """``sql`` limited to rows whose ``column`` is greater than ``since`` (a string literal that
    PostgreSQL coerces to the column's type), in watermark order.

    >>> since_sql("SELECT * FROM t", "updated_at", "2024-01-02 00:00:00+00")
    'SELECT * FROM (SELECT * FROM t) AS edgeml_rows WHERE "updated_at" > \\'2024-01-02 00:00:00+00\\' ORDER BY "updated_at"'
    """  # noqa: E501
    quoted = '"' + column.replace('"', '""') + '"'
    literal = "'" + since.replace("'", "''") + "'"
    return f"SELECT * FROM ({sql}) AS edgeml_rows WHERE {quoted} > {literal} ORDER BY {quoted}"


def keep_newer(frame: pl.DataFrame, column: str, since: str | None, *, source: str) -> pl.DataFrame:
    """The rows of ``frame`` whose ``column`` is greater than ``since`` (all when None)."""
    if column not in frame.columns:
        raise SchemaError(
            f"{source}: [data] watermark column {column!r} not found; "
            f"available: {', '.join(frame.columns)}"
        )
    if since is None:
        return frame
    value = _typed(since, frame.schema[column], source=source, column=column)
    return frame.filter(pl.col(column) > value)


def watermark_range(frame: pl.DataFrame, column: str, since: str | None) -> dict[str, Any]:
    """The data card's record of the watermark: the lower bound asked, and min/max read."""
    values = frame[column].drop_nulls()
    low, high = (values.min(), values.max()) if len(values) else (None, None)
    return {"column": column, "after": since, "min": _text(low), "max": _text(high)}


def last_watermark(sources: list[dict[str, Any]], column: str) -> str | None:
    """The greatest ``max`` of ``column`` among data-card sources (None when none has one)."""
    found = [
        s["watermark"]["max"] for s in sources
        if isinstance(s.get("watermark"), dict) and s["watermark"].get("column") == column
        and s["watermark"].get("max") is not None
    ]  # fmt: skip
    if not found:
        return None
    # All come from one column: compare as that column does (numbers as numbers, ISO text as text).
    try:
        return max(found, key=float)
    except ValueError:
        return max(found)


def write_snapshot(frame: pl.DataFrame, directory: str | Path) -> dict[str, Any]:
    """Append ``frame`` to ``directory`` as a new Parquet file (written atomically); returns
    the card's ``snapshot`` (absolute path) and ``snapshot_sha256``."""
    folder = Path(directory).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    fd, tmp = tempfile.mkstemp(prefix=".part-", suffix=".parquet", dir=folder)
    os.close(fd)
    try:
        frame.write_parquet(tmp)
        with open(tmp, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        final = folder / f"part-{stamp}-{digest[:12]}.parquet"
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"snapshot": str(final), "snapshot_sha256": digest}


def _typed(since: str, dtype: pl.DataType, *, source: str, column: str) -> Any:
    try:
        if isinstance(dtype, pl.Datetime):
            moment = datetime.fromisoformat(since.replace(" ", "T", 1))
            if dtype.time_zone is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            if dtype.time_zone is None and moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            return moment
        if dtype == pl.Date:
            return date.fromisoformat(since[:10])
        if dtype.is_integer():
            return int(since)
        if dtype.is_numeric():
            return float(since)
    except ValueError:
        raise ConfigError(
            f"{source}: since {since!r} is not a value of the watermark column {column!r} ({dtype})"
        ) from None
    return since


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        # edgeml's datetimes are UTC (read_data converts offsets): say so, so that a database
        # comparing against a timestamptz does not read it in its own time zone.
        return value.isoformat() if value.tzinfo else value.isoformat() + "+00:00"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
