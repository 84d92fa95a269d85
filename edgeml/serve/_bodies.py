"""Request bodies in, checked columns out: JSON records, columnar JSON, CSV and Arrow IPC.

Every problem becomes a :class:`BadRequest` whose message names the field, column or row and
what was expected; the app turns it into a 4xx. JSON's non-standard ``NaN`` and ``Infinity``
are refused (send ``null`` for a missing value).

>>> parse_json(b'{"x": 1}')
{'x': 1}
>>> parse_json(b'{"x": NaN}')
Traceback (most recent call last):
edgeml.serve._bodies.BadRequest: body: NaN is not JSON; send null for a missing value
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["BadRequest", "check_categories", "parse_batch", "parse_json"]

CSV_TYPES = ("text/csv", "application/csv")
ARROW_TYPES = ("application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file")


class BadRequest(ValueError):
    """A request the server refuses; ``status`` is the HTTP code to answer with."""

    def __init__(self, message: str, status: int = 422, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or [{"loc": ["body"], "msg": message, "type": "value_error"}]


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body`` (strict: no NaN or Infinity, not nested too deeply)."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except BadRequest:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body: not valid JSON ({exc})", 400) from None
    except RecursionError:
        # The parser recurses once per nesting level and stops at Python's recursion limit:
        # that is the cap, checked while parsing at no cost to ordinary bodies.
        raise BadRequest(
            "body: JSON nested deeper than the server parses (about 1,000 levels of [ and {); "
            "a record is one flat object",
            400,
        ) from None


def parse_batch(
    body: bytes, content_type: str, needed: Sequence[str]
) -> tuple[dict[str, list[Any]], list[str]]:
    """``{column: values}`` for ``POST /predict/batch`` with exactly the ``needed`` columns, and
    the names of the other columns sent (the target, extras): ignored, for the caller to count."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in CSV_TYPES:
        columns = _csv_columns(body)
    elif kind in ARROW_TYPES:
        columns = _arrow_columns(body, kind)
    elif kind in ("application/json", ""):
        document = parse_json(body)
        if not isinstance(document, dict) or not isinstance(document.get("columns"), dict):
            raise BadRequest('body: expected {"columns": {"name": [values, ...], ...}}')
        columns = document["columns"]
    else:
        raise BadRequest(
            f"content type {kind!r} is not supported; send application/json, text/csv or "
            f"{ARROW_TYPES[0]}",
            415,
        )
    return _checked(columns, needed)


def check_categories(
    columns: Mapping[str, Sequence[Any]], categories: Mapping[str, frozenset[str]]
) -> None:
    """Refuse a value of a categorical column that training never saw, naming row and column."""
    for name, allowed in categories.items():
        for row, value in enumerate(columns.get(name, ())):
            if value is not None and value != "" and str(value) not in allowed:
                shown = ", ".join(sorted(allowed)[:10])
                raise BadRequest(
                    f"column {name!r} row {row + 1}: unknown category {value!r}; expected one of: "
                    f"{shown}{' …' if len(allowed) > 10 else ''}",
                    errors=[
                        {
                            "loc": ["body", name, row],
                            "msg": "unknown category",
                            "type": "literal_error",
                            "input": value,
                        }
                    ],
                )


def _checked(
    columns: Mapping[str, Any], needed: Sequence[str]
) -> tuple[dict[str, list[Any]], list[str]]:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise BadRequest(
            f"missing column(s): {', '.join(map(repr, missing))}; expected: {', '.join(needed)}"
        )
    wanted = set(needed)
    ignored = [str(c) for c in columns if c not in wanted]  # the input contract: not an error
    out: dict[str, list[Any]] = {}
    for name in needed:
        values = columns[name]
        if not isinstance(values, list):
            raise BadRequest(f"column {name!r}: expected a list of values")
        for row, value in enumerate(values):
            if isinstance(value, dict | list):
                raise BadRequest(f"column {name!r} row {row + 1}: expected a value, got {value!r}")
        out[name] = values
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in out.items())
        raise BadRequest(f"columns differ in length: {sizes}")
    if not lengths or lengths == {0}:
        raise BadRequest("empty batch: send at least one row")
    return out, ignored


def _csv_columns(body: bytes) -> dict[str, list[Any]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("body: CSV must be UTF-8 text", 400) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header:
            raise BadRequest("body: CSV needs a header row naming the columns")
        columns: dict[str, list[Any]] = {name: [] for name in header}
        if len(columns) != len(header):
            raise BadRequest("body: CSV header repeats a column name")
        for record in reader:
            if len(record) != len(header):
                raise BadRequest(
                    f"CSV line {reader.line_num}: {len(record)} fields, the header has "
                    f"{len(header)}"
                )
            for name, value in zip(header, record, strict=True):
                columns[name].append(value if value != "" else None)
    except csv.Error as exc:
        raise BadRequest(f"body: CSV line {reader.line_num}: {exc}", 400) from None
    return columns


def _arrow_columns(body: bytes, kind: str) -> dict[str, list[Any]]:
    try:
        import pyarrow.ipc
    except ImportError:
        raise BadRequest("Arrow bodies need pyarrow on the server; send JSON or CSV", 415) from None
    try:
        open_ = pyarrow.ipc.open_file if kind.endswith(".file") else pyarrow.ipc.open_stream
        table = open_(pyarrow.BufferReader(body)).read_all()
    except (pyarrow.ArrowInvalid, OSError) as exc:
        raise BadRequest(f"body: not an Arrow IPC {kind.rsplit('.', 1)[-1]} ({exc})", 400) from None
    return {name: table.column(name).to_pylist() for name in table.column_names}


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"body: {name} is not JSON; send null for a missing value")
