"""Finding the shape of a text column of dates written the common non-ISO ways.

A column is read as dates when every non-blank value fits one of :data:`SHAPES` (with a four
digit year; a time of day, if any, as ``14:05``, ``14:05:07``, ``2:05 PM`` or ``2:05:07 PM``).
Day and month order comes from the values: a first field above 12 makes the column day-first,
a second field above 12 month-first. Where every value is ambiguous (both fields at
most 12), the order another column of the same file showed with the same separator decides; if
none did, the order is month-first for ``/`` and ``-`` (the convention of US exports, and the
default of pandas and dateutil) and day-first for ``.`` (``15.03.2024`` is the German and
Russian way; month-first dot dates are not in use). The choice is noted in the data card, and
``[data] date_formats`` overrides it per column.

The shapes are tried on a few values first, so a text column that is not dates costs little.

>>> import polars as pl
>>> detect_format(pl.Series(["03/15/2024", "04/01/2024"]))
('%m/%d/%Y', 'certain')
>>> detect_format(pl.Series(["03/04/2024"]), orders={"/": "%d/%m"})
('%d/%m/%Y', 'from another column')
>>> detect_format(pl.Series(["03/04/2024"]))
('%m/%d/%Y', 'ambiguous')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import polars as pl

from edgeml.util.dateformat import has_time

__all__ = ["SHAPES", "detect_format", "order_of", "parse_text"]

Certainty = Literal["certain", "from another column", "ambiguous"]

# Numeric day/month shapes: (separator, year directive, regex with the two ambiguous fields).
_SEPARATORS = ("/", "-", ".")
# Two-digit years only with / and -: "1.2.10" is more often a version number than a date.
_NUMERIC = [
    (sep, year, rf"^(\d{{1,2}}){re.escape(sep)}(\d{{1,2}}){re.escape(sep)}{digits}")
    for year, digits, separators in (("%Y", r"\d{4}", _SEPARATORS), ("%y", r"\d{2}", "/-"))
    for sep in separators
]
_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
_TIME_TEXT = {
    "": "$",
    " %H:%M": r" \d{1,2}:\d{1,2}$",
    " %H:%M:%S": r" \d{1,2}:\d{1,2}:\d{1,2}$",
    " %I:%M %p": r" \d{1,2}:\d{1,2} [AaPp][Mm]$",
    " %I:%M:%S %p": r" \d{1,2}:\d{1,2}:\d{1,2} [AaPp][Mm]$",
}
# Shapes whose field order is fixed, with the regex a value must fit (a four-digit year). A
# month name is tried short (%b) first: %B reads "Mar" and "March" alike.
_FIXED = {
    "%Y/%m/%d": r"^\d{4}/\d{1,2}/\d{1,2}",
    "%d-%b-%Y": r"^\d{1,2}-[A-Za-z]{3}-\d{4}",
    "%d %b %Y": r"^\d{1,2} [A-Za-z]{3} \d{4}",
    "%b %d, %Y": r"^[A-Za-z]{3} \d{1,2}, \d{4}",
    "%b %d %Y": r"^[A-Za-z]{3} \d{1,2} \d{4}",
    "%d-%b-%y": r"^\d{1,2}-[A-Za-z]{3}-\d{2}",
    "%d %B %Y": r"^\d{1,2} [A-Za-z]{3,9} \d{4}",
    "%B %d, %Y": r"^[A-Za-z]{3,9} \d{1,2}, \d{4}",
    "%B %d %Y": r"^[A-Za-z]{3,9} \d{1,2} \d{4}",
}
_DEFAULT_ORDER = {"/": "%m/%d", "-": "%m-%d", ".": "%d.%m"}

#: Every shape detection tries (numeric ones in both orders), with and without a time.
SHAPES: tuple[str, ...] = tuple(
    f"{date}{time}"
    for date in (
        *(f"%m{s}%d{s}{y}" for s, y, _ in _NUMERIC),
        *(f"%d{s}%m{s}{y}" for s, y, _ in _NUMERIC),
        *_FIXED,
    )
    for time in _TIMES
)


def parse_text(text: pl.Expr, fmt: str) -> pl.Expr:
    """``text`` read with the date format ``fmt`` as Date (no time) or Datetime("us"); null
    where a value does not fit."""
    if has_time(fmt):
        return text.str.to_datetime(fmt, strict=False, time_unit="us")
    return text.str.to_date(fmt, strict=False)


def detect_format(
    values: pl.Series, *, orders: Mapping[str, str] | None = None
) -> tuple[str, Certainty] | None:
    """The date format every value of ``values`` (stripped, non-blank text) fits, and how sure
    the day/month order is; ``None`` if no shape fits them all.

    ``orders`` maps a separator to the order other columns showed (``{"/": "%d/%m"}``).
    """
    if values.is_empty():
        return None
    probe = values.gather(sorted({0, values.len() // 2, values.len() - 1}))
    for time in _TIMES:
        end = _TIME_TEXT[time]
        for separator, year, pattern in _NUMERIC:
            if probe.str.contains(pattern + end).all() and values.str.contains(pattern + end).all():
                tail = f"{separator}{year}{time}"
                order, certainty = _order(values, pattern + end, separator, tail, orders or {})
                if order is None:
                    return None
                return f"{order}{tail}", certainty
        for shape, pattern in _FIXED.items():
            if probe.str.contains(pattern + end).all():
                fmt = f"{shape}{time}"
                if _all_parse(values, fmt):
                    return fmt, "certain"
    return None


def order_of(fmt: str) -> tuple[str, str] | None:
    """(separator, order) of a numeric day/month format, for the other columns of a file.

    >>> order_of("%d.%m.%Y %H:%M"), order_of("%b %d, %Y")
    (('.', '%d.%m'), None)
    """
    for separator in _SEPARATORS:
        for order in (f"%m{separator}%d", f"%d{separator}%m"):
            if fmt.startswith(order + separator):
                return separator, order
    return None


def _order(
    values: pl.Series, pattern: str, separator: str, tail: str, orders: Mapping[str, str]
) -> tuple[str | None, Certainty]:
    """The day/month order of values that all fit ``pattern`` (None if neither order reads
    them all), and how it was decided."""
    fields = values.str.extract_groups(pattern)
    first = int(fields.struct.field("1").cast(pl.Int64).max() or 0)  # type: ignore[arg-type]
    second = int(fields.struct.field("2").cast(pl.Int64).max() or 0)  # type: ignore[arg-type]
    month_first, day_first = f"%m{separator}%d", f"%d{separator}%m"
    if first > 12 and second > 12:
        return None, "certain"
    if first > 12:
        order, certainty = day_first, "certain"
    elif second > 12:
        order, certainty = month_first, "certain"
    elif separator in orders:
        order, certainty = orders[separator], "from another column"
    else:
        order, certainty = _DEFAULT_ORDER[separator], "ambiguous"
    # Every value must be a real day in that order (no 31st of April).
    ok = _all_parse(values, f"{order}{tail}")
    return (order if ok else None), certainty  # type: ignore[return-value]


def _all_parse(values: pl.Series, fmt: str) -> bool:
    parsed = values.to_frame("v").select(parse_text(pl.col("v"), fmt))
    return parsed.to_series().null_count() == 0
