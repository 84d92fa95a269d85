"""The input contract: what a model accepts, the same for ``edgeml predict``/``evaluate``, the
runtime (:func:`edgeml.runtime.load`), the server and — through the runtime — the C package.

A model's input schema names each column and its logical type (``float``, ``int``, ``bool``,
``str``, ``date``, ``datetime``). For every executor:

- **Columns.** Every schema column must be present: a missing column (a missing key in a
  record) is a :class:`~edgeml.errors.SchemaError` naming it; send ``null``/an empty cell for a
  missing value. Any other column — the target column included — is ignored and counted
  (``ignored``).
- **Missing values.** ``None``/``null``, NaN, an empty or blank string, and in a number,
  boolean or date column the words for a missing value in any case (``"nan"``, ``"?"``,
  ``"N/A"``, ``"-"``, ``"NULL"``, ``"none"``, ``"#N/A"``; see :mod:`edgeml.util.missing`).
- **Numbers** (``float``, ``int``): numbers, booleans (1/0), and text that is a plain decimal
  number after stripping whitespace: ``" 3.5 "``, ``"-2"``, ``"1e3"``, ``".5"``, ``"inf"``.
  Thousands separators and decimal commas (``"1,234"``, ``"3,5"``) are refused: one comma means
  a thousand in one locale and a decimal point in another, and a guess would be silent. A
  model's input columns of whole numbers are read as ``float`` (``PrepPlan.input_schema``):
  ``12.5`` in a column that held only counts in training is 12.5. An ``int`` column elsewhere
  (an id, a ``dtypes`` setting for reading) takes whole numbers only (``12.0`` and ``"1e3"``
  are whole; ``12.5`` is refused).
- **Booleans**: ``true``/``false`` and 1/0 as numbers, and the words in :data:`BOOL_WORDS`
  (yes/no, true/false, y/n, t/f, on/off, 1/0) in any case, whitespace stripped.
- **Categories** (``str`` columns): text stripped of the whitespace around it (``"Male "`` is
  ``"Male"``, in training too), otherwise as given (a number is written as Polars writes it:
  ``7``, ``0.5``); a category training never saw is predicted as missing and counted
  (``unseen``) — the server refuses it only when started with ``--unknown-categories reject``.
- **Dates**: ``date``/``datetime`` objects and ISO-8601 text (an offset converted to UTC;
  BigQuery's ``2024-03-15 14:05:07 UTC`` is UTC).
- A value that fits none of these is a :class:`~edgeml.errors.SchemaError` naming the column
  (and row), never a silent NaN.

The C package takes numbers only (the model's feature vector): the runtime's conversion above
produces them (:meth:`edgeml.runtime.RuntimePrep.transform_row`), and C gives the runtime's
output for them.

>>> convert_value(" 3.5 ", "float"), convert_value("No", "bool"), convert_value("", "int")
(3.5, 0.0, nan)
>>> convert_value("1,234", "float")
Traceback (most recent call last):
ValueError: cannot convert '1,234' to float
>>> row, seen = convert_record({"x": "1e3", "c": "new", "churn": "Yes"},
...                            {"x": "float", "c": "str"}, categories={"c": ["a", "b"]})
>>> row, dict(seen.unseen), dict(seen.ignored)
({'x': 1000.0, 'c': None}, {'c': 1}, {'churn': 1})
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeml.errors import SchemaError
from edgeml.runtime._schema import BOOL_WORDS, to_datetime, to_number, to_text

__all__ = [
    "BOOL_WORDS",
    "Tally",
    "convert_columns",
    "convert_record",
    "convert_value",
    "count_unseen",
    "ignored_columns",
]


@dataclass
class Tally:
    """What a conversion let through without an error: ``unseen`` categories per column and
    ``ignored`` columns (extra ones, the target) with the rows they came in."""

    unseen: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.unseen.update(other.unseen)
        self.ignored.update(other.ignored)


def convert_value(value: Any, logical: str, fmt: str | None = None) -> float | str | Any:
    """One value bound for a column of type ``logical``: a float (NaN if missing) for
    ``float``/``int``/``bool``, ``str | None`` for ``str``, a naive ``datetime`` or ``None`` for
    ``date``/``datetime`` (text in the date format ``fmt`` where the column has one);
    :class:`ValueError` for a value the contract refuses.

    >>> convert_value("on", "bool"), convert_value(7, "str"), convert_value("nan", "float")
    (1.0, '7', nan)
    >>> convert_value("15.03.2024", "date", "%d.%m.%Y")
    datetime.datetime(2024, 3, 15, 0, 0)
    """
    if logical in ("float", "int", "bool"):
        return to_number(value, logical, fmt)
    if logical == "str":
        return to_text(value)
    if logical in ("date", "datetime"):
        return to_datetime(value, logical, fmt)
    raise ValueError(f"unknown logical type {logical!r}")


def convert_record(
    record: Mapping[str, Any],
    schema: Mapping[str, str],
    *,
    categories: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, Any], Tally]:
    """One record converted column by column, unseen categories as ``None``; the tally says
    what was unseen and which keys were ignored. A missing key or a refused value raises
    :class:`~edgeml.errors.SchemaError` naming the column."""
    missing = [name for name in schema if name not in record]
    if missing:
        raise SchemaError(
            f"the record lacks column(s) {', '.join(map(repr, missing))}; "
            f"the model needs: {', '.join(schema)}"
        )
    tally = Tally(ignored=Counter(ignored_columns(record, schema)))
    known = {k: frozenset(v) for k, v in (categories or {}).items()}
    out: dict[str, Any] = {}
    for name, logical in schema.items():
        try:
            value = convert_value(record[name], logical)
        except ValueError as exc:
            raise SchemaError(f"column {name!r}: {exc}") from None
        if name in known and _unseen(value, known[name]):
            tally.unseen[name] += 1
            value = None
        out[name] = value
    return out, tally


def convert_columns(
    columns: Mapping[str, Sequence[Any]],
    schema: Mapping[str, str],
    *,
    categories: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, list[Any]], Tally]:
    """A batch of columns converted (see :func:`convert_record`), one list per schema column;
    a refused value names its column and row.

    >>> convert_columns({"x": ["1", " 2 ", None], "y": [0, 0, 0]}, {"x": "int"})[0]
    {'x': [1.0, 2.0, nan]}
    """
    missing = [name for name in schema if name not in columns]
    if missing:
        raise SchemaError(
            f"the batch lacks column(s) {', '.join(map(repr, missing))}; "
            f"the model needs: {', '.join(schema)}"
        )
    rows = max((len(columns[name]) for name in schema), default=0)
    tally = Tally(ignored=Counter({c: rows for c in ignored_columns(columns, schema)}))
    out: dict[str, list[Any]] = {}
    for name, logical in schema.items():
        values = []
        for row, value in enumerate(columns[name]):
            try:
                values.append(convert_value(value, logical))
            except ValueError as exc:
                raise SchemaError(f"column {name!r} row {row + 1}: {exc}") from None
        out[name] = values
    if categories:
        tally.unseen.update(count_unseen(out, categories))
        for name, vocabulary in categories.items():
            if name in out:
                known = frozenset(vocabulary)
                out[name] = [None if _unseen(v, known) else v for v in out[name]]
    return out, tally


def count_unseen(
    columns: Mapping[str, Iterable[Any]], categories: Mapping[str, Sequence[str]]
) -> Counter[str]:
    """How many values of each categorical column are not missing and not in its vocabulary
    (values as the contract reads them: text as given, numbers as Polars writes them).

    >>> count_unseen({"c": ["a", "z", None, "", 3]}, {"c": ["a", "3"]})
    Counter({'c': 1})
    """
    out: Counter[str] = Counter()
    for name, vocabulary in categories.items():
        if name not in columns:
            continue
        known = frozenset(vocabulary)
        for value in columns[name]:
            if _unseen(_text_or_none(value), known):
                out[name] += 1
    return out


def ignored_columns(given: Iterable[str], schema: Mapping[str, str]) -> list[str]:
    """The columns of ``given`` the model does not read (the target among them), in order.

    >>> ignored_columns(["x", "churn", "note"], {"x": "float"})
    ['churn', 'note']
    """
    return [name for name in given if name not in schema]


def _unseen(text: Any, known: frozenset[str]) -> bool:
    """A category training never saw: text, not blank (blank is missing), not in the vocabulary."""
    return isinstance(text, str) and text != "" and text not in known


def _text_or_none(value: Any) -> str | None:
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        return to_text(value)
    except ValueError:
        return None
