"""One value at a time, the conversions :func:`edgeml.data.conform` applies to a column.

Each function takes one Python (or NumPy) value bound for a column of a logical type and returns
what ``conform`` would make of a one-row column holding it, or raises :class:`ValueError` when
``conform`` would refuse it (the caller names the column and row). The rules, as in ``conform``:

- text is stripped of Unicode whitespace first and a blank string is missing, as is a word for
  a missing value (``"?"``, ``"N/A"``, ``"-"``: :data:`edgeml.util.missing.MISSING_WORDS`) —
  except text bound for a ``str`` column, which is only stripped (``"Male "`` is the category
  ``"Male"``; ``"-"`` and ``""`` are categories like any other);
- ``float``: numbers, booleans (1/0) and numeric text (``"1e3"``, ``"inf"``, ``"nan"``);
- ``int``: whole numbers within int64 (``1.0`` and ``"1e3"`` too; ``1.5`` is refused), NaN is
  missing;
- ``bool``: booleans, 1/0, and the words yes/no, true/false, y/n, t/f, on/off, 1/0 in any case;
- ``str``: text stripped, other values formatted as Polars formats them (``1e-05`` →
  ``"0.00001"``);
- ``date``/``datetime``: ``datetime.date``/``datetime.datetime`` (aware ones in UTC, made naive),
  ``numpy.datetime64`` and ISO-8601 text (the shapes ``conform`` tries, offsets converted to UTC),
  or text in the column's own date format where the model recorded one.

Numbers come back as ``float`` with NaN for missing, text as ``str | None``, dates and datetimes
as a naive ``datetime.datetime`` (midnight for a date) or ``None``.

>>> to_number(" 2.5 ", "float"), to_number("Yes", "bool"), to_text(1e-05)
(2.5, 1.0, '0.00001')
>>> to_datetime("2020-01-05T03:04:05+02:00", "datetime")
datetime.datetime(2020, 1, 5, 1, 4, 5)
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np

from edgeml.util.dateformat import example, parse_with
from edgeml.util.missing import MISSING_WORDS
from edgeml.util.numberformat import parse_number

__all__ = ["BOOL_WORDS", "format_float", "parse_datetime", "to_datetime", "to_number", "to_text"]

NAN = math.nan
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TWO_63 = 2.0**63

# Polars strips with Rust's `str::trim`: the Unicode White_Space set. Python's `str.strip()` also
# strips \x1c-\x1f, which Polars keeps, so the set is spelt out.
WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WS = f"[{WHITESPACE}]"

# The text Polars casts to Float64 (a stricter grammar than Python's `float`, which also takes
# "1_000" and non-ASCII digits) and the text `str.to_integer` reads as Int64.
_FLOAT_TEXT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)",
    re.IGNORECASE,
)
_INT_TEXT = re.compile(r"[+-]?[0-9]+")

#: The words a ``bool`` column reads in text (any case, whitespace stripped): the contract's.
BOOL_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "y": 1.0, "n": 0.0,
              "t": 1.0, "f": 0.0, "on": 1.0, "off": 0.0, "1": 1.0, "0": 0.0}  # fmt: skip

# The ISO-8601 shapes `conform` tries (chrono's "%Y-%m-%d[T| ]%H:%M[:%S[%.f][%#z| UTC]]"; " UTC"
# is how BigQuery exports a TIMESTAMP: "2024-03-15 14:05:07.25 UTC"). chrono
# takes a year of 1-4 digits, or any number after a sign; lets whitespace precede a number and an
# offset; skips colons and whitespace between an offset's hours and minutes; and matches a space
# in the format with any run of whitespace, none included. Numbers are read greedily, never
# backtracked into (possessive quantifiers): "2020-1-10:00" is not the 1st at 0:00. Years
# before 1 or after 9999 (which Polars reads) do not fit Python's datetime and are refused.
_DATETIME_TEXT = re.compile(
    rf"(?P<Y>\+[0-9]++|[0-9]{{1,4}}+)-{_WS}*(?P<m>[0-9]{{1,2}}+)-{_WS}*(?P<d>[0-9]{{1,2}}+)"
    rf"(?:(?:T|{_WS}*){_WS}*(?P<H>[0-9]{{1,2}}+):{_WS}*(?P<M>[0-9]{{1,2}}+)"
    rf"(?::{_WS}*(?P<S>[0-9]{{1,2}}+)(?:\.(?P<f>[0-9]++))?"
    rf"(?:{_WS}*(?:(?P<z>[Zz]|UTC)|"
    rf"(?P<sign>[+-])(?P<oh>[0-9]{{2}})[:{WHITESPACE}]*(?P<om>[0-9]{{2}})?))?)?)?"
)
_EPOCH = dt.datetime(1970, 1, 1)
_ONE_SECOND = dt.timedelta(seconds=1)


def to_number(value: Any, logical: str, fmt: str | None = None) -> float:
    """A value bound for a ``float``, ``int`` or ``bool`` column as a float (NaN if missing);
    text in the column's number format ``fmt`` where the model recorded one (``$1,234.5``, see
    :mod:`edgeml.util.numberformat`).

    >>> to_number("1e3", "int"), to_number(True, "float"), to_number(None, "int")
    (1000.0, 1.0, nan)
    >>> to_number(1.5, "int")
    Traceback (most recent call last):
    ValueError: cannot convert 1.5 to int
    >>> to_number("$1,234.50", "float", "$1,234.5")
    1234.5
    """
    if value is None:
        return NAN
    if isinstance(value, np.timedelta64):  # a NumPy integer subclass, but a duration
        raise _refused(value, logical)
    if isinstance(value, bool | np.bool_):
        return 1.0 if value else 0.0
    if isinstance(value, int | np.integer):
        return _from_int(int(value), value, logical)
    if isinstance(value, float | np.floating):
        return _from_float(float(value), value, logical)
    if isinstance(value, str):
        text = value.strip(WHITESPACE)
        if not text or text.lower() in MISSING_WORDS:
            return NAN
        if fmt is not None and logical != "bool":
            parsed = parse_number(text, fmt)
            if parsed is None:
                raise ValueError(
                    f"cannot convert {value!r} to {logical}; expected the format {fmt}"
                )
            return _from_float(parsed, value, logical)
        if logical == "bool":
            flag = BOOL_WORDS.get(text.lower())
            if flag is None:
                raise _cannot(value, logical)
            return flag
        if logical == "int" and _INT_TEXT.fullmatch(text):
            whole = int(text)
            if _INT64_MIN <= whole <= _INT64_MAX:
                return float(whole)
        if _FLOAT_TEXT.fullmatch(text) is None:
            raise _cannot(value, logical)
        number = float(text)
        if number != number and logical == "int":
            raise _cannot(value, logical)  # "nan" is text that is not a whole number
        return _from_float(number, value, logical)
    raise _refused(value, logical)


def _from_int(number: int, value: Any, logical: str) -> float:
    if logical == "bool":
        if number in (0, 1):
            return float(number)
        raise _cannot(value, logical)
    if logical == "int" and not _INT64_MIN <= number <= _INT64_MAX:
        raise _cannot(value, logical)
    try:
        return float(number)
    except OverflowError:
        raise _cannot(value, logical) from None


def _from_float(number: float, value: Any, logical: str) -> float:
    if number != number or logical == "float":
        return number
    if logical == "bool":
        if number in (0.0, 1.0):
            return number + 0.0  # -0.0 is False, stored as 0.0
        raise _cannot(value, logical)
    # int: a finite whole number inside int64, as Polars' Float64 -> Int64 check
    if math.isfinite(number) and number == math.floor(number) and abs(number) < _TWO_63:
        return number + 0.0
    raise _cannot(value, logical)


def to_text(value: Any) -> str | None:
    """A value bound for a ``str`` column as Polars would cast it (``None`` if missing), text
    stripped of the whitespace around it, as :func:`edgeml.data.conform` strips it.

    >>> to_text(" a "), to_text(7), to_text(True), to_text(2.5e-05), to_text(float("nan"))
    ('a', '7', 'true', '0.000025', 'NaN')
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip(WHITESPACE)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, np.timedelta64):
        raise _refused(value, "str")
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, np.float32 | np.float16):
        return format_float(float(value), float32=True)
    if isinstance(value, float | np.floating):
        return format_float(float(value))
    if isinstance(value, dt.datetime):
        stamp, suffix = value, ""
        if value.tzinfo is not None:
            stamp, suffix = _naive_utc(value), "+00:00"
        return f"{stamp.date().isoformat()} {stamp:%H:%M:%S.%f}{suffix}"
    if isinstance(value, dt.date):
        return value.isoformat()
    raise _refused(value, "str")


def format_float(number: float | np.floating, *, float32: bool = False) -> str:
    """A float as Polars writes it: the shortest digits that read back as the same float (of
    32 bits with ``float32``), plain decimals for exponents -5 to 15 (-6 to 12 for float32),
    otherwise ``1.5e-7``/``1e+16``; and ``NaN``, ``inf``.

    >>> format_float(1e-07), format_float(1.5e-05), format_float(1e16), format_float(-0.0)
    ('1e-7', '0.000015', '1e+16', '-0.0')
    >>> format_float(1e13, float32=True)
    '1e+13'
    """
    if number != number:
        return "NaN"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    value = np.float32(number) if float32 else np.float64(number)
    mantissa, _, exponent = np.format_float_scientific(value, unique=True).partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    power = int(exponent)
    low, high = (-6, 12) if float32 else (-5, 15)
    if not low <= power <= high:
        tail = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{tail}e{'+' if power > 0 else '-'}{abs(power)}"
    if power < 0:
        return f"{sign}0.{'0' * (-power - 1)}{digits}"
    whole = digits[: power + 1].ljust(power + 1, "0")
    return f"{sign}{whole}.{digits[power + 1 :] or '0'}"


def to_datetime(value: Any, logical: str, fmt: str | None = None) -> dt.datetime | None:
    """A value bound for a ``date`` or ``datetime`` column as a naive (UTC) datetime.

    A date column keeps only the (UTC) calendar day, at midnight. Text is ISO-8601, or, with
    ``fmt`` (the column's date format in the bundle's input schema), written in that format
    only (see :mod:`edgeml.util.dateformat`).

    >>> to_datetime("2020-01-05 23:30:00-02:00", "date")
    datetime.datetime(2020, 1, 6, 0, 0)
    >>> to_datetime("03/15/2024", "date", "%m/%d/%Y")
    datetime.datetime(2024, 3, 15, 0, 0)
    >>> to_datetime("2024-03-15", "date", "%m/%d/%Y")
    Traceback (most recent call last):
    ValueError: cannot convert '2024-03-15' to date; expected the format %m/%d/%Y (as 03/15/2024)
    >>> to_datetime(None, "date") is None
    True
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        stamp = _naive_utc(value)
    elif isinstance(value, dt.date):
        stamp = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip(WHITESPACE)
        if not text or text.lower() in MISSING_WORDS:
            return None
        parsed = parse_datetime(text) if fmt is None else parse_with(text, fmt)
        if parsed is None:
            if fmt is not None:
                raise ValueError(
                    f"cannot convert {value!r} to {logical}; expected the format {fmt} "
                    f"(as {example(fmt)})"
                )
            raise _cannot(value, logical)
        stamp = parsed
    elif isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        micros = int(value.astype("datetime64[us]").astype(np.int64))
        try:
            stamp = _EPOCH + dt.timedelta(microseconds=micros)
        except OverflowError:
            raise _cannot(value, logical) from None
    else:
        raise _refused(value, logical)
    if logical == "date":
        return dt.datetime(stamp.year, stamp.month, stamp.day)
    return stamp


def parse_datetime(text: str) -> dt.datetime | None:
    """Stripped ISO-8601 text as a naive UTC datetime, or ``None`` if it is not one.

    Microsecond resolution (further digits are cut), a leap second 60 rolls over, an offset is
    converted to UTC.

    >>> parse_datetime("2020-1-5 3:04:60.5Z"), parse_datetime("2020-02-30")
    (datetime.datetime(2020, 1, 5, 3, 5, 0, 500000), None)
    """
    match = _DATETIME_TEXT.fullmatch(text)
    if match is None:
        return None
    part = match.group
    try:
        day = dt.date(int(part("Y")), int(part("m")), int(part("d")))
        if part("H") is None:
            return dt.datetime(day.year, day.month, day.day)
        hour, minute = int(part("H")), int(part("M"))
        second = int(part("S") or 0)
        fraction = part("f") or ""
        micro = int(fraction[:6].ljust(6, "0"))
        leap = second == 60
        stamp = dt.datetime(day.year, day.month, day.day, hour, minute, 59 if leap else second)
        stamp = stamp.replace(microsecond=micro) + (_ONE_SECOND if leap else dt.timedelta())
        if part("sign"):
            hours, minutes = int(part("oh")), int(part("om") or 0)
            if hours > 23 or minutes > 59:
                return None
            offset = dt.timedelta(hours=hours, minutes=minutes)
            stamp = stamp - offset if part("sign") == "+" else stamp + offset
        return stamp
    except (ValueError, OverflowError):
        return None


def epoch_micros(stamp: dt.datetime) -> int:
    """Microseconds since 1970-01-01 of a naive datetime."""
    return (stamp - _EPOCH) // dt.timedelta(microseconds=1)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=None)
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _cannot(value: Any, logical: str) -> ValueError:
    return ValueError(f"cannot convert {value!r} to {logical}")


def _refused(value: Any, logical: str) -> ValueError:
    return ValueError(f"cannot convert {value!r} ({type(value).__name__}) to {logical}")
