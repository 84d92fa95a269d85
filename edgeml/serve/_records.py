"""Request models built from a bundle's input schema: what the OpenAPI document shows and what
turns a bad request into a 422 naming the field.

Values follow the input contract (:mod:`edgeml.runtime.contract`), as ``edgeml predict`` and the
runtime read them: a record must carry every input column (``null`` for a missing value); other
keys (the target among them) are ignored and counted by the caller; numbers may come as JSON
numbers or as text (``"12"``, ``" 3.5 "``, ``"1e3"``; ``""`` and ``"nan"`` are missing), booleans
as JSON booleans, 1/0 or the contract's words (``"no"``, ``"Yes"``, ``"off"``); a categorical
column takes any text (an unseen category is predicted as missing) unless the server refuses
unknown categories (``--unknown-categories reject``). JSON's NaN and Infinity stay refused.

>>> Record = record_model([{"name": "tenure", "dtype": "int", "role": "feature"},
...                        {"name": "paperless", "dtype": "bool", "role": "feature"}], "Churn")
>>> Record.model_validate({"tenure": "12", "paperless": "no", "churn": "Yes"}).model_dump(
...     by_alias=True)
{'tenure': 12, 'paperless': False}
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from edgeml.runtime.contract import convert_value

__all__ = ["FeedbackItem", "record_model", "serving_columns"]

_DATES: dict[str, Any] = {"date": dt.date, "datetime": dt.datetime}


def serving_columns(
    input_schema: Sequence[Mapping[str, Any]], needed: Sequence[str]
) -> list[dict[str, Any]]:
    """The manifest's schema entries for the columns a prediction needs, in the model's order."""
    by_name = {entry["name"]: dict(entry) for entry in input_schema}
    return [by_name.get(name, {"name": name, "dtype": "str", "role": "feature"}) for name in needed]


def record_model(
    columns: Sequence[Mapping[str, Any]], title: str, *, strict_categories: bool = True
) -> type[BaseModel]:
    """A pydantic model of one input record: every column required, nullable, extras ignored."""
    fields: dict[str, Any] = {}
    for i, column in enumerate(columns):
        name = str(column["name"])
        fields[_attribute(name, i)] = (
            _annotation(column, strict_categories),
            Field(..., alias=name, description=_describe(column)),
        )
    config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False, title=title)
    model: type[BaseModel] = create_model(
        f"{_identifier(title)}Record", __config__=config, **fields
    )
    return model


class FeedbackItem(BaseModel):
    """A true label for a logged prediction: ``row`` is the record's index in its request."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    request_id: str = Field(..., min_length=1, max_length=128)
    row: int = Field(0, ge=0)
    label: str | int | float | bool


def _annotation(column: Mapping[str, Any], strict_categories: bool) -> Any:
    dtype = column.get("dtype", "str")
    categories = column.get("categories")
    if dtype in _DATES:
        # Text in the column's own date format, or ISO text, read as every executor reads it
        # (pydantic's own ISO parser refuses "2024-3-5" and BigQuery's "... 14:05:07 UTC").
        dated = BeforeValidator(_dated(dtype, column.get("format")))
        return Annotated[_DATES[dtype] | None, Field(strict=False), dated]
    if dtype == "str":
        kind: Any = str
        if categories and strict_categories:
            kind = Literal[tuple(str(c) for c in categories)]
        return Annotated[kind | None, BeforeValidator(_contract("str"))]
    fmt = column.get("format")  # numbers written "$1,234.5"
    if dtype == "int":  # the runtime reads whole numbers as int64
        return Annotated[
            int | None, Field(ge=-(2**63), le=2**63 - 1), BeforeValidator(_contract("int", fmt))
        ]
    if dtype == "bool":
        return Annotated[bool | None, BeforeValidator(_contract("bool"))]
    # Text such as "inf" is a number by the contract; JSON itself cannot carry one.
    return Annotated[
        float | None, Field(allow_inf_nan=True), BeforeValidator(_contract("float", fmt))
    ]


def _contract(logical: str, fmt: str | None = None) -> Any:
    """The contract's conversion of one value for a column of type ``logical``, as the Python
    type the field holds (``None`` for missing); a refused value is a 422 naming the field."""

    def convert(value: Any) -> Any:
        if value is None or isinstance(value, dict | list):
            return value  # null, or left to the type check to refuse with its own message
        if logical == "str" and isinstance(value, str):
            return value
        if logical == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value  # exact: through a float, 2**63 - 2 would round past the int64 bound
        converted = convert_value(value, logical, fmt)  # ValueError: pydantic's 422
        if logical == "str":
            return converted
        if converted != converted:
            return None
        if logical == "int":
            return int(converted)
        if logical == "bool":
            return bool(converted)
        return converted

    return convert


def _dated(logical: str, fmt: str | None) -> Any:
    """Text of a date column in its date format (ISO-8601 without one) as a date or datetime
    (a 422 if not in it)."""

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # null, or left to the type check
        stamp = convert_value(value, logical, fmt)  # ValueError: pydantic's 422
        if not isinstance(stamp, dt.datetime):
            return None
        return stamp.date() if logical == "date" else stamp

    return convert


def _describe(column: Mapping[str, Any]) -> str:
    text = f"{column.get('dtype', 'str')} ({column.get('role', 'feature')}); null if missing"
    if column.get("format"):
        text += f"; written as {column['format']}"
    categories = column.get("categories")
    if categories:
        shown = ", ".join(map(str, categories[:20]))
        text += f"; one of: {shown}" + (" …" if len(categories) > 20 else "")
    return text


def _attribute(name: str, index: int) -> str:
    # Column names may be anything ("monthly charges ($)"); attributes must be identifiers that do
    # not shadow BaseModel's own, so the alias carries the real name.
    return f"c{index}_{_identifier(name)}"


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text) or "x"
