"""Reading a PostgreSQL table or query (``postgresql://USER@HOST:PORT/DB``) in Arrow batches.

The driver is ADBC's PostgreSQL driver (``adbc-driver-postgresql``, ``pip install
'edgeml[postgres]'``), which Polars reads natively. It was picked over ConnectorX by measurement
(benchmarks/bench_sources.py, 1M rows × 8 columns on a shared 2-core machine: ADBC 695k rows/s,
ConnectorX 568k rows/s, within the noise of runs) and by install weight (ADBC's two packages
take 27 MB installed, ConnectorX 181 MB), and because ADBC is built on libpq: the password
comes from ``PGPASSWORD``, ``~/.pgpass`` or a ``pg_service.conf`` service
(``postgresql:///db?service=NAME``) exactly as for ``psql``, and its result streams as Arrow
record batches (COPY protocol), so ``edgeml predict`` holds one batch at a time.

A password written in the URI works but is never shown: every message and the data card carry
the URI through :func:`~edgeml.data._redact.redact`.

>>> source = postgres_source("postgresql://ann:pw@db.local:5432/shop", table="sales.orders",
...                          query=None)
>>> source.shown, source.sql
('postgresql://ann:***@db.local:5432/shop', 'SELECT * FROM "sales"."orders"')
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import polars as pl

from edgeml.config import DataConfig
from edgeml.data._card import RowDigest, fetched_facts
from edgeml.data._watermark import since_sql
from edgeml.errors import DependencyError, SourceError
from edgeml.util.redact import redact, redact_text

__all__ = [
    "PREFIXES", "PostgresSource", "is_postgres", "postgres_batches", "postgres_source",
    "read_postgres",
]  # fmt: skip

PREFIXES = ("postgresql://", "postgres://")
# libpq waits forever on an address that drops packets; 10 s is the longest a user should wait.
_CONNECT_TIMEOUT = "10"


def is_postgres(text: str) -> bool:
    """Whether ``text`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return text.lower().startswith(PREFIXES)


@dataclass(frozen=True)
class PostgresSource:
    """Where to connect (``uri``, may hold a password: never print it), what to show (``shown``)
    and what to run (``sql``)."""

    uri: str
    shown: str
    sql: str
    table: str | None
    query: str | None

    @property
    def password(self) -> str | None:
        """The password written in the URI, if any (only to scrub it from driver messages)."""
        return urlsplit(self.uri).password


def postgres_source(uri: str, *, table: str | None, query: str | None) -> PostgresSource:
    """Check ``uri`` and that exactly one of ``table`` (``name`` or ``schema.name``) or
    ``query`` is given; the SQL to run quotes the table's identifiers."""
    shown = redact(uri)
    parts = urlsplit(uri)
    if not is_postgres(uri) or not (parts.path.strip("/") or "service=" in parts.query):
        raise SourceError(
            f"{shown}: expected postgresql://USER@HOST:PORT/DB (or postgresql:///DB?service=NAME)"
        )
    if (table is None) == (query is None):
        raise SourceError(f"{shown}: a postgresql source needs exactly one of --table or --query")
    if table is not None:
        names = table.split(".")
        if len(names) > 2 or not all(names):
            raise SourceError(f"{shown}: table {table!r}: expected NAME or SCHEMA.NAME")
        sql = "SELECT * FROM " + ".".join(_quote(n) for n in names)
    else:
        sql = str(query).strip().rstrip(";").strip()
        if not sql:
            raise SourceError(f"{shown}: the query is empty")
    options = dict(parse_qsl(parts.query))
    options.setdefault("connect_timeout", _CONNECT_TIMEOUT)
    # libpq takes "postgresql://"; "postgres://" is the same scheme spelled as Heroku & co. do.
    connect = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(options), ""))
    return PostgresSource(connect, shown, sql, table, query)


def postgres_batches(
    source: PostgresSource, *, batch_rows: int | None = None
) -> Iterator[pl.DataFrame]:
    """The result of ``source.sql``, as Polars frames of about ``batch_rows`` rows each (the
    driver's own batch size when None). Errors are :class:`SourceError` naming the source
    without its password."""
    dbapi = _driver(source)
    try:
        with closing(dbapi.connect(source.uri)) as conn, closing(conn.cursor()) as cursor:
            if batch_rows is not None:
                # The driver cuts batches by bytes; ~100 bytes a row is a fair first guess.
                hint = str(max(batch_rows * 100, 1 << 16))
                cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": hint})
            cursor.execute(source.sql)
            reader = cursor.fetch_record_batch()
            names = list(reader.schema.names)
            duplicated = sorted({n for n in names if names.count(n) > 1})
            if duplicated:
                raise SourceError(f"{source.shown}: duplicate column name(s): {duplicated}")
            empty = True
            for record in reader:
                empty = False
                yield cast(pl.DataFrame, pl.from_arrow(record))  # a RecordBatch gives a frame
            if empty:  # still say which columns there are
                yield cast(pl.DataFrame, pl.from_arrow(reader.schema.empty_table()))
    except SourceError:
        raise
    except Exception as exc:  # adbc_driver_manager.Error and its DB-API subclasses
        if not _is_driver_error(exc):
            raise
        raise SourceError(_message(source, exc)) from None


def read_postgres(
    uri: str, *, table: str | None, query: str | None, config: DataConfig
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """The whole result of ``table`` or ``query`` (arguments win over ``config``) and its
    data-card entry (:func:`~edgeml.data._card.fetched_facts`)."""
    if table is None and query is None:
        table, query = config.table, config.query
    source = postgres_source(uri, table=table, query=query)
    if config.watermark is not None and config.since is not None:  # fetch only the new rows
        source = dataclasses.replace(
            source, sql=since_sql(source.sql, config.watermark, config.since)
        )
    digest = RowDigest()
    frames = []
    for frame in postgres_batches(source):
        digest.update(frame)
        frames.append(frame)
    frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")
    what = {"table": table} if table is not None else {"query": query}
    return frame, [fetched_facts("postgresql", source.shown, what, digest)]


def _driver(source: PostgresSource) -> Any:
    try:
        import adbc_driver_postgresql.dbapi as dbapi
    except ModuleNotFoundError as exc:
        raise DependencyError(
            f"{source.shown}: reading PostgreSQL needs adbc-driver-postgresql ({exc.name} is "
            "not installed); install it: pip install 'edgeml[postgres]'"
        ) from None
    return dbapi


def _is_driver_error(exc: BaseException) -> bool:
    import adbc_driver_manager

    return isinstance(exc, adbc_driver_manager.Error)


def _message(source: PostgresSource, exc: BaseException) -> str:
    """One line: what went wrong, from libpq's message, without the password."""
    text = " ".join(str(exc).split())
    # "IO: [libpq] Failed to connect: connection to server at ... failed: FATAL:  password ..."
    text = re.sub(r"^[A-Z_]+: (\[libpq\] )?", "", text)
    text = re.sub(r"\s*(SQLSTATE|Query was|DETAIL|HINT|LINE \d+): .*$", "", text)
    text = re.sub(r"^Failed to (prepare query|execute query|fetch[a-z ]*): (ERROR: )?", "", text)
    detail = text
    missing = re.search(r'relation "([^"]+)" does not exist', text)
    if "password authentication failed" in text or "no password supplied" in text:
        detail = (
            "password authentication failed; give the password in PGPASSWORD, ~/.pgpass or a "
            "service file (postgresql:///DB?service=NAME)"
        )
    elif missing and source.table is not None:
        detail = f"no table {source.table!r}"
    elif "Failed to connect" in text or "could not connect" in text:
        reason = text.rsplit("failed:", 1)[-1].strip()
        detail = f"cannot connect: {reason.removeprefix('Failed to connect: ')}"
    elif source.query is not None:
        detail = f"the query failed: {text}"
    return redact_text(f"{source.shown}: {detail}", source.password)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
