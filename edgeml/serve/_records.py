"""Request models built from a bundle's input schema: what the OpenAPI document shows and what
turns a bad request into a 422 naming the field.

A record must carry every input column (``null`` for a missing value) and nothing else; numbers
must be JSON numbers (NaN and infinity are refused: send ``null``), and a categorical column takes
one of its training categories unless the server maps unknown ones to missing.

>>> Record = record_model([{"name": "tenure", "dtype": "int", "role": "feature"}], "Churn")
>>> Record.model_validate({"tenure": 12}).model_dump(by_alias=True)
{'tenure': 12}
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

__all__ = ["FeedbackItem", "record_model", "serving_columns"]

_NUMBER: dict[str, Any] = {"float": float, "int": int, "bool": bool, "str": str}
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
    """A pydantic model of one input record: every column required, nullable, no extras."""
    fields: dict[str, Any] = {}
    for i, column in enumerate(columns):
        name = str(column["name"])
        fields[_attribute(name, i)] = (
            _annotation(column, strict_categories) | None,
            Field(..., alias=name, description=_describe(column)),
        )
    config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, title=title)
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
    if dtype == "str" and categories and strict_categories:
        return Literal[tuple(str(c) for c in categories)]
    if dtype in _DATES:
        # Dates arrive as ISO text, which strict mode refuses (it wants Python objects).
        return Annotated[_DATES[dtype], Field(strict=False)]
    if dtype == "float":
        return float  # strict float still takes a JSON integer
    if dtype == "int":  # the runtime reads whole numbers as int64
        return Annotated[int, Field(ge=-(2**63), le=2**63 - 1), BeforeValidator(_whole)]
    return _NUMBER.get(dtype, str)


def _whole(value: Any) -> Any:
    # JSON Schema counts 12.0 as an integer, and so does the runtime; 12.5 and "12" stay refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _describe(column: Mapping[str, Any]) -> str:
    text = f"{column.get('dtype', 'str')} ({column.get('role', 'feature')}); null if missing"
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
