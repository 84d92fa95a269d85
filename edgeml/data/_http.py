"""Reading an HTTP(S) API of JSON, NDJSON or CSV pages into Polars frames, page by page.

``edgeml train https://api.example.com/readings --target y`` fetches the URL, then follows the
pages: a ``Link: <…>; rel="next"`` header, a ``next`` URL in the JSON body (``[data]
next_field``, ``"next"`` by default when the body has one), a cursor (``[data] cursor_field``
sent back as ``cursor_param``), or page numbers / offsets (``page_param``, ``offset_param`` with
``limit_param`` and ``page_size``) until a page comes back empty. JSON records are flattened to
columns (``{"a": {"b": 1}}`` gives column ``a.b``) and typed as files are (``read_data``).

The format is ``[data] format`` or, with ``"auto"``, the response's Content-Type. A token is read
from the environment variable that ``[data] auth_env`` names and sent as ``Authorization:
Bearer …``; the config never holds the secret, and no message shows it. Every request has a
timeout (``http_timeout``); 429 and 5xx answers and dropped connections are retried
``http_retries`` times with exponential backoff, waiting as long as a ``Retry-After`` header asks.
A link back to a page already read, or more than ``max_pages`` pages, is an error rather than
an endless loop. httpx does the HTTP; the paging rules above are edgeml's because no library
covers the paging conventions of arbitrary APIs.

>>> next_url("https://api.example.com/r?page=2&limit=50", "page", 3)
'https://api.example.com/r?page=3&limit=50'
>>> flatten([{"id": 1, "pos": {"x": 0.5, "y": 2}}, {"id": 2, "pos": {"x": 1.5, "y": None}}])
shape: (2, 3)
┌─────┬───────┬───────┐
│ id  ┆ pos.x ┆ pos.y │
│ --- ┆ ---   ┆ ---   │
│ i64 ┆ f64   ┆ i64   │
╞═════╪═══════╪═══════╡
│ 1   ┆ 0.5   ┆ 2     │
│ 2   ┆ 1.5   ┆ null  │
└─────┴───────┴───────┘
"""

from __future__ import annotations

import email.utils
import io
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import polars as pl

from edgeml.config import DataConfig
from edgeml.data._card import RowDigest, fetched_facts
from edgeml.data._json import flatten, json_field, json_records
from edgeml.errors import DependencyError, SchemaError, SourceError
from edgeml.util.redact import redact_text

__all__ = ["flatten", "http_pages", "is_http", "next_url", "read_http"]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# A Retry-After longer than this is a server saying "not today": fail rather than hang.
_MAX_WAIT = 300.0


def is_http(text: str) -> bool:
    """Whether ``text`` is an ``http://`` or ``https://`` URL."""
    return text.lower().startswith(("http://", "https://"))


def read_http(url: str, *, config: DataConfig) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Every page of ``url`` as one frame (columns missing from a page are null there) and the
    data-card entry: the URL without secrets, pages, rows, sha256 of the rows as fetched."""
    digest = RowDigest()
    frames: list[pl.DataFrame] = []
    for frame in http_pages(url, config=config):
        digest.update(frame)
        frames.append(frame)
    frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    shown = redact_text(url, _token(config, url))
    return frame, [fetched_facts("http", shown, {"pages": len(frames)}, digest)]


def http_pages(url: str, *, config: DataConfig) -> Iterator[pl.DataFrame]:
    """The pages of ``url`` as frames, in order, each with the first page's columns or fewer
    (a new column or a column whose kind of value changes is a :class:`SchemaError`)."""
    try:
        import httpx
    except ModuleNotFoundError:
        raise DependencyError(
            f"{url}: reading an HTTP API needs httpx; install it: pip install 'edgeml[train]'"
        ) from None
    token = _token(config, url)
    shown = redact_text(url, token)
    headers = {"Accept": "application/json, application/x-ndjson, text/csv;q=0.9, */*;q=0.1"}
    if token is not None:
        scheme = f"{config.auth_scheme} " if config.auth_scheme else ""
        headers[config.auth_header] = scheme + token
    current = _first_url(url, config)
    seen: dict[str, int] = {}
    first: pl.DataFrame | None = None
    with httpx.Client(
        timeout=config.http_timeout, headers=headers, follow_redirects=True
    ) as client:
        for number in range(1, config.max_pages + 2):
            where = f"{shown}: page {number}"
            if number > config.max_pages:
                raise SourceError(
                    f"{shown}: more than {config.max_pages} pages and still a next one; check "
                    "the pagination settings or raise [data] max_pages"
                )
            seen[current] = number
            response = _get(client, current, where=where, config=config, token=token)
            frame, body = _parse(response, where=where, config=config)
            if first is None:
                first = frame
            else:
                _check_schema(first, frame, where)
            yield frame
            following = _following(response, body, frame, current, number, config)
            if following is None:
                return
            if following in seen:
                raise SourceError(
                    f"{where}: the next page is page {seen[following]} again "
                    "(the pagination loops); check the API's next link or cursor"
                )
            current = following


def next_url(url: str, param: str, value: object) -> str:
    """``url`` with query parameter ``param`` set to ``value`` (others kept in order)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    if any(k == param for k, _ in query):
        query = [(k, str(value) if k == param else v) for k, v in query]
    else:
        query.append((param, str(value)))
    return urlunsplit(parts._replace(query=urlencode(query)))


# ---------------------------------------------------------------------------------- internals


def _token(config: DataConfig, url: str) -> str | None:
    if config.auth_env is None:
        return None
    token = os.environ.get(config.auth_env)
    if not token:
        raise SourceError(
            f"{redact_text(url)}: environment variable {config.auth_env} ([data] auth_env) is "
            "not set; export the API token in it"
        )
    return token


def _first_url(url: str, config: DataConfig) -> str:
    if config.page_param is not None and config.offset_param is not None:
        raise SourceError(f"{redact_text(url)}: set [data] page_param or offset_param, not both")
    if config.limit_param is not None:
        url = next_url(url, config.limit_param, config.page_size)
    if config.page_param is not None and config.page_param not in dict(
        parse_qsl(urlsplit(url).query)
    ):
        url = next_url(url, config.page_param, 1)
    if config.offset_param is not None:
        url = next_url(url, config.offset_param, 0)
    if config.since_param is not None and config.since is not None:  # only the new rows
        url = next_url(url, config.since_param, config.since)
    return url


def _get(client: Any, url: str, *, where: str, config: DataConfig, token: str | None) -> Any:
    """The response to GET ``url``, retried on 429/5xx/timeouts; an error otherwise."""
    import httpx

    attempts = config.http_retries + 1
    for attempt in range(attempts):
        last = attempt == attempts - 1
        wait = min(0.5 * 2**attempt, 30.0)
        try:
            response = client.get(url)
        except httpx.TimeoutException:
            if last:
                raise SourceError(
                    f"{where}: no answer within {config.http_timeout:g} s "
                    f"({attempts} attempt(s)); raise [data] http_timeout if the API is slow"
                ) from None
        except httpx.TransportError as exc:
            if last:
                raise SourceError(redact_text(f"{where}: cannot connect: {exc}", token)) from None
        else:
            if response.status_code < 400:
                return response
            if response.status_code not in _RETRY_STATUS or last:
                raise SourceError(_status_message(response, where, config, attempts))
            wait = _retry_after(response, default=wait)
            if wait > _MAX_WAIT:
                raise SourceError(
                    f"{where}: HTTP {response.status_code}; the server asks to retry after "
                    f"{wait:g} s"
                )
        time.sleep(wait)
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _status_message(response: Any, where: str, config: DataConfig, attempts: int) -> str:
    status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    if response.status_code in (401, 403):
        hint = (
            f"check the token in ${config.auth_env} ([data] auth_env)"
            if config.auth_env
            else "set [data] auth_env to the environment variable holding an API token"
        )
        return f"{where}: {status}; {hint}"
    if response.status_code in _RETRY_STATUS:
        return f"{where}: {status} after {attempts} attempt(s)"
    return f"{where}: {status}"


def _retry_after(response: Any, *, default: float) -> float:
    value = response.headers.get("Retry-After")
    if value is None:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _format(response: Any, config: DataConfig, where: str) -> str:
    if config.format != "auto":
        return config.format
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl",
                "application/x-jsonlines", "application/jsonlines"):  # fmt: skip
        return "ndjson"
    if kind in ("text/csv", "application/csv"):
        return "csv"
    if kind == "application/json" or kind.endswith("+json"):
        return "json"
    raise SourceError(
        f"{where}: Content-Type {kind or '(none)'!r} is not JSON, NDJSON or CSV; "
        'set [data] format = "json", "ndjson" or "csv"'
    )


def _parse(response: Any, *, where: str, config: DataConfig) -> tuple[pl.DataFrame, Any]:
    """The page's records as a frame, and the decoded JSON body (None for NDJSON/CSV)."""
    kind = _format(response, config, where)
    content = response.content
    if kind == "csv":
        if not content.strip():
            return pl.DataFrame(), None
        try:
            frame = pl.read_csv(
                io.BytesIO(content),
                infer_schema_length=config.infer_schema_length,
                null_values=list(config.null_values),
            )
        except pl.exceptions.PolarsError as exc:
            raise SourceError(f"{where}: not CSV: {str(exc).splitlines()[0]}") from None
        return frame, None
    if kind == "ndjson":
        records = []
        for line_number, line in enumerate(content.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SourceError(
                        f"{where}: line {line_number} is not JSON ({exc.msg})"
                    ) from None
        return flatten(records, where), None
    try:
        body = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        start = content[:40].decode("utf-8", "replace").replace("\n", " ")
        raise SourceError(f"{where}: not JSON ({exc}); the page starts with {start!r}") from None
    return flatten(json_records(body, where, config), where), body


def _following(
    response: Any, body: Any, frame: pl.DataFrame, current: str, number: int, config: DataConfig
) -> str | None:
    """The URL of the page after ``current``, or None at the end."""
    if config.page_param is not None or config.offset_param is not None:
        if frame.height == 0 or (
            config.limit_param is not None and frame.height < config.page_size
        ):
            return None
        if config.page_param is not None:
            page = int(dict(parse_qsl(urlsplit(current).query)).get(config.page_param, number))
            return next_url(current, config.page_param, page + 1)
        offset = int(dict(parse_qsl(urlsplit(current).query)).get(str(config.offset_param), 0))
        return next_url(current, str(config.offset_param), offset + frame.height)
    if config.cursor_field is not None:
        cursor = json_field(body, config.cursor_field)
        return None if cursor in (None, "") else next_url(current, config.cursor_param, cursor)
    field = config.next_field or ("next" if isinstance(body, dict) and "next" in body else None)
    if field is not None:
        link = json_field(body, field)
        return urljoin(current, link) if isinstance(link, str) and link else None
    link = response.links.get("next", {}).get("url")
    return urljoin(current, link) if link else None


def _kind(dtype: pl.DataType) -> str:
    if dtype.is_numeric():
        return "number"
    if dtype == pl.Null:
        return "null"
    if dtype.is_nested():
        return "nested"
    if dtype.is_temporal():
        return "time"
    return "boolean" if dtype == pl.Boolean else "text"


def _check_schema(first: pl.DataFrame, frame: pl.DataFrame, where: str) -> None:
    """A page may lack columns (null there) but not bring new ones or change a column's kind."""
    extra = [c for c in frame.columns if c not in first.columns]
    if extra:
        raise SchemaError(
            f"{where}: the schema changed: column(s) {extra} not on page 1 "
            f"(page 1 has: {', '.join(first.columns)})"
        )
    for name in frame.columns:
        was, now = _kind(first.schema[name]), _kind(frame.schema[name])
        if "null" not in (was, now) and was != now:
            raise SchemaError(
                f"{where}: the schema changed: column {name!r} holds {now} values, {was} on page 1"
            )
