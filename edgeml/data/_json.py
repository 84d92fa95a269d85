"""JSON records as a frame: a ``.json`` file's or an API page's body, an array of objects or an
object that keeps them in a list field (``{"data": [...]}``, as many exports and APIs do).
Nested objects are flattened to ``parent.child`` columns (an NDJSON file's too, by
:func:`flatten_structs`); a list value makes a column that ``read_data`` leaves out with a note.

>>> flatten([{"id": 1, "pos": {"x": 0.5}}, {"id": 2, "pos": {"x": 1.5}}]).columns
['id', 'pos.x']
>>> json_records({"meta": {}, "data": [{"id": 1}]}, "page", DataConfig())
[{'id': 1}]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from edgeml.config import DataConfig
from edgeml.errors import SourceError

__all__ = ["flatten", "flatten_structs", "json_field", "json_records", "read_json_file"]

_RECORD_LIST_NAMES = ("data", "results", "items", "records", "rows")
_EXPECTED = 'expected an array of objects: [{"column": value, ...}, ...]'


def read_json_file(path: Path, config: DataConfig) -> pl.DataFrame:
    """The records of the ``.json`` file at ``path`` (UTF-8, a BOM allowed) as a frame.

    A :class:`SourceError` names the file and what is wrong: not JSON (line and column), a
    value that is not an array of objects, an empty array. A UnicodeDecodeError is the
    caller's to report (with the line of the first bad byte)."""
    text = path.read_bytes().decode("utf-8-sig")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{path}: not JSON ({exc.msg} on line {exc.lineno} column {exc.colno})"
        ) from None
    records = json_records(body, str(path), config)
    if not records:
        raise SourceError(f"{path}: no rows (an empty JSON array)")
    return flatten(records, str(path))


def json_records(body: Any, where: str, config: DataConfig) -> list[Any]:
    """The records of a decoded JSON body: ``[data] records`` (a dotted path) where set, else
    the body if it is a list, else its one list field (or the first of ``data``, ``results``,
    ``items``, ``records``, ``rows``)."""
    if config.records is not None:
        found = json_field(body, config.records)
        if not isinstance(found, list):
            raise SourceError(f"{where}: [data] records = {config.records!r} is not a list there")
        return found
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        lists = [k for k, v in body.items() if isinstance(v, list)]
        named = [k for k in _RECORD_LIST_NAMES if k in lists]
        if len(lists) == 1 or named:
            return list(body[(named or lists)[0]])
        if not lists:
            raise SourceError(
                f"{where}: the JSON is one object with no list of records ({_EXPECTED})"
            )
        raise SourceError(
            f"{where}: cannot tell which field holds the records (lists: {lists}); "
            "set [data] records"
        )
    raise SourceError(f"{where}: the JSON is a {_json_type(body)}, not records ({_EXPECTED})")


def flatten(records: list[Any], where: str = "records") -> pl.DataFrame:
    """JSON objects as a frame, nested objects flattened to ``parent.child`` columns."""
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise SourceError(
            f"{where}: record {bad + 1} is a JSON {_json_type(records[bad])}, not an object "
            f"({_EXPECTED})"
        )
    try:
        return pl.json_normalize(records, infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise SourceError(f"{where}: cannot make columns of the records: {exc}") from None


def flatten_structs(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every struct column (a nested JSON object, as Polars reads NDJSON) made
    its fields' columns in its place, named ``parent.child`` as :func:`flatten` names them, so
    that NDJSON and JSON records give a model the same columns."""
    while any(isinstance(dtype, pl.Struct) for dtype in frame.dtypes):
        columns: list[pl.Expr] = []
        for name, dtype in frame.schema.items():
            if isinstance(dtype, pl.Struct):
                columns += [
                    pl.col(name).struct.field(f.name).alias(f"{name}.{f.name}")
                    for f in dtype.fields
                ]
            else:
                columns.append(pl.col(name))
        frame = frame.select(columns)
    return frame


def _json_type(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def json_field(body: Any, path: str) -> Any:
    """The value at a dotted ``path`` in a decoded JSON body (None where there is none)."""
    for part in path.split("."):
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body
