"""Reading a SQLite table or query (``sqlite:///PATH.db``) into a Polars frame."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, cast

import polars as pl

from edgeml.config import DataConfig
from edgeml.data._card import file_facts
from edgeml.errors import SchemaError, SourceError

__all__ = ["first_line", "read_sqlite"]

_SQLITE_PREFIX = "sqlite:///"


def read_sqlite(
    uri: str, *, table: str | None, query: str | None, config: DataConfig
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Read ``table`` or ``query`` (exactly one; arguments win over ``config``) from ``uri``.

    ``uri`` follows SQLAlchemy: ``sqlite:///rel/path.db`` or ``sqlite:////abs/path.db``.
    Returns the frame and the data-card entry of the database file.
    """
    if not uri.startswith(_SQLITE_PREFIX) or len(uri) == len(_SQLITE_PREFIX):
        raise SourceError(f"{uri}: expected sqlite:///PATH.db (or sqlite:////ABSOLUTE/PATH.db)")
    path = Path(uri[len(_SQLITE_PREFIX) :])
    if table is None and query is None:
        table, query = config.table, config.query
    if table is not None and query is not None:
        raise SourceError(f"{uri}: give either a table or a query, not both")
    if table is None and query is None:
        raise SourceError(f"{uri}: a sqlite source needs a table (--table) or a query (--query)")
    if not path.is_file():
        raise SourceError(f"{path}: sqlite database file not found (from {uri})")
    try:
        # Read-only, so a mistyped path can never create an empty database.
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            if table is not None:
                sql = f"SELECT * FROM {_quote(_find_table(conn, table, uri))}"
            else:
                sql = str(query).strip().rstrip(";")
            frame = _run_query(conn, sql, uri=uri, config=config)
    except sqlite3.Error as exc:
        raise SourceError(f"{uri}: {exc}") from None
    facts = file_facts(path, uri)
    if table is not None:
        facts["table"] = table
    else:
        facts["query"] = query
    return frame, [facts]


def _find_table(conn: sqlite3.Connection, table: str, uri: str) -> str:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    names = [r[0] for r in rows]
    if table in names:
        return table
    # SQLite matches identifiers case-insensitively; so do we, but exact wins above.
    folded = [n for n in names if n.casefold() == table.casefold()]
    if folded:
        return folded[0]
    raise SourceError(
        f"{uri}: no table {table!r}; tables: {', '.join(names) if names else '(none)'}"
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _run_query(conn: sqlite3.Connection, sql: str, *, uri: str, config: DataConfig) -> pl.DataFrame:
    try:
        frame = pl.read_database(sql, conn, infer_schema_length=config.infer_schema_length)
    except pl.exceptions.DuplicateError as exc:
        raise SchemaError(f"{uri}: {first_line(exc)}") from None
    except pl.exceptions.PolarsError:
        # SQLite lets one column hold ints, reals and text together, which Polars cannot type;
        # read every column as text instead and let type inference sort it out.
        cursor = conn.execute(f"SELECT * FROM ({sql}) LIMIT 0")
        names = [d[0] for d in cursor.description]
        as_text = ", ".join(f"CAST({_quote(n)} AS TEXT) AS {_quote(n)}" for n in names)
        try:
            frame = pl.read_database(f"SELECT {as_text} FROM ({sql})", conn)
        except pl.exceptions.PolarsError as exc:
            raise SourceError(f"{uri}: cannot read the result: {first_line(exc)}") from None
    return cast(pl.DataFrame, frame)  # not iter_batches, so always a single frame


def first_line(exc: BaseException) -> str:
    """The first line of an exception message (Polars adds multi-line hints we do not want)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
