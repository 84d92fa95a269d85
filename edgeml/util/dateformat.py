"""Dates and datetimes written in a column's own shape (``03/15/2024``, ``15.03.2024 14:05``,
``Mar 15, 2024``), read the way Polars reads them with the same format.

A *date format* is a strftime-style pattern made of the directives ``%Y %y %m %d %H %M %S %b
%B`` (``%I`` and ``%p`` for a 12-hour clock) and literal characters. ``edgeml.data`` finds a
column's format when it reads the training file (or takes it from ``[data] date_formats``),
converts the column with Polars' ``str.to_date`` / ``str.to_datetime`` and records the format
in the bundle's input schema; this module reads one value with the same semantics, with the
standard library only, for the NumPy runtime.

Polars parses with chrono, whose rules this parser follows (tests/test_dateformat_props.py
checks the two agree on generated text): ``%Y`` is 1-4 digits or a sign and any digits;
``%y %m %d %H %I %M %S`` are 1-2 digits (``%y`` 0-69 is 2000-2069, 70-99 is 1970-1999);
whitespace may precede a number; a space in the format matches any run of whitespace, none
included; ``%b`` is a three-letter English month name, ``%B`` a full or three-letter one, and
``%p`` AM or PM, in any case; a second of 60 rolls over into the next minute. Numbers are
read greedily and never backtracked into. Years outside 1-9999 (which Polars reads) do not fit
Python's datetime and are refused.

>>> parse_with("3/15/2024", "%m/%d/%Y")
datetime.datetime(2024, 3, 15, 0, 0)
>>> parse_with("15-mar-2024 7:05", "%d-%b-%Y %H:%M")
datetime.datetime(2024, 3, 15, 7, 5)
>>> parse_with("3/15/2024 12:05 am", "%m/%d/%Y %I:%M %p")
datetime.datetime(2024, 3, 15, 0, 5)
>>> parse_with("2024-03-15", "%m/%d/%Y") is None
True
"""

from __future__ import annotations

import datetime as dt
import functools
import re

__all__ = ["DIRECTIVES", "check_format", "example", "has_time", "parse_with"]

#: The directives a date format may hold, and what each reads.
DIRECTIVES = {
    "%Y": "year",
    "%y": "two-digit year (00-69: 2000s, 70-99: 1900s)",
    "%m": "month (1-12)",
    "%d": "day (1-31)",
    "%H": "hour (0-23)",
    "%I": "hour (1-12), with %p",
    "%p": "AM or PM, with %I",
    "%M": "minute",
    "%S": "second",
    "%b": "month name (Jan-Dec)",
    "%B": "month name, full or short (January or Jan)",
}
_FULL = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
         "october", "november", "december")  # fmt: skip
_MONTHS = tuple(m[:3] for m in _FULL)
# The Unicode White_Space set chrono skips (as edgeml.runtime._schema.WHITESPACE).
_WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WS = f"[{_WHITESPACE}]*"
_PIECES = {
    "%Y": rf"{_WS}(?P<Y>[+-][0-9]++|[0-9]{{1,4}}+)",
    "%m": rf"{_WS}(?P<m>[0-9]{{1,2}}+)",
    "%d": rf"{_WS}(?P<d>[0-9]{{1,2}}+)",
    "%H": rf"{_WS}(?P<H>[0-9]{{1,2}}+)",
    "%I": rf"{_WS}(?P<I>[0-9]{{1,2}}+)",
    "%p": r"(?P<p>[AaPp][Mm])",
    "%M": rf"{_WS}(?P<M>[0-9]{{1,2}}+)",
    "%S": rf"{_WS}(?P<S>[0-9]{{1,2}}+)",
    "%y": rf"{_WS}(?P<y>[0-9]{{1,2}}+)",
    "%b": r"(?P<b>[A-Za-z]{3})",
    # chrono reads three letters, then the rest of that month's full name if it follows
    "%B": "(?P<B>(?i:" + "|".join(f"{m[:3]}(?:{m[3:]})?+" for m in _FULL) + "))",
}
_LITERALS = set("/-.,:T _")
_ONE_SECOND = dt.timedelta(seconds=1)


def check_format(fmt: str) -> None:
    """Raise ValueError unless ``fmt`` is a date format edgeml reads the same everywhere.

    >>> check_format("%d/%m/%Y")
    >>> check_format("%d/%m/%G")
    Traceback (most recent call last):
    ValueError: date format '%d/%m/%G': unknown directive '%G'; use %Y %y %m %d %H %I %p %M %S %b %B
    """
    _compiled(fmt)


def has_time(fmt: str) -> bool:
    """Does ``fmt`` read a time of day (so the column is a datetime, not a date)?

    >>> has_time("%m/%d/%Y %H:%M"), has_time("%m/%d/%Y %I:%M %p"), has_time("%b %d, %Y")
    (True, True, False)
    """
    return "%H" in fmt or "%I" in fmt


def example(fmt: str) -> str:
    """15 March 2024 at 14:05:07 written in ``fmt``, to show a format in a message.

    >>> example("%b %d, %Y"), example("%d.%m.%Y %H:%M")
    ('Mar 15, 2024', '15.03.2024 14:05')
    """
    return dt.datetime(2024, 3, 15, 14, 5, 7).strftime(fmt)


def parse_with(text: str, fmt: str) -> dt.datetime | None:
    """Stripped ``text`` read with the date format ``fmt`` as a naive datetime (midnight for a
    date), or ``None`` where Polars would read it as null.

    >>> parse_with("29.02.2023", "%d.%m.%Y") is None
    True
    >>> parse_with("1/2/2024 23:59:60", "%m/%d/%Y %H:%M:%S")
    datetime.datetime(2024, 1, 3, 0, 0)
    """
    match = _compiled(fmt).fullmatch(text)
    if match is None:
        return None
    part = match.groupdict()
    try:
        name = part.get("b") or part.get("B")
        month = int(part["m"]) if part.get("m") else _MONTHS.index(str(name)[:3].lower()) + 1
        if part.get("y"):
            short = int(part["y"])
            year = short + (2000 if short < 70 else 1900)
        else:
            year = int(part["Y"])
        day = dt.date(year, month, int(part["d"]))
        hour, minute = int(part.get("H") or 0), int(part.get("M") or 0)
        second = int(part.get("S") or 0)
    except (ValueError, OverflowError):  # no such day, an unknown month name, a year past 9999
        return None
    if part.get("I"):
        twelve = int(part["I"])
        if not 1 <= twelve <= 12:
            return None
        hour = twelve % 12 + (12 if part["p"].lower() == "pm" else 0)
    if hour > 23 or minute > 59 or second > 60:
        return None
    leap = second == 60
    stamp = dt.datetime(day.year, day.month, day.day, hour, minute, 59 if leap else second)
    try:
        return stamp + _ONE_SECOND if leap else stamp
    except OverflowError:
        return None


@functools.cache
def _compiled(fmt: str) -> re.Pattern[str]:
    pattern, seen = [], set()
    k = 0
    while k < len(fmt):
        char = fmt[k]
        if char == "%":
            directive = fmt[k : k + 2]
            if directive not in _PIECES:
                raise ValueError(
                    f"date format {fmt!r}: unknown directive {directive!r}; use "
                    f"{' '.join(DIRECTIVES)}"
                )
            if directive in seen:
                raise ValueError(f"date format {fmt!r}: {directive} appears twice")
            seen.add(directive)
            pattern.append(_PIECES[directive])
            k += 2
            continue
        if char not in _LITERALS:
            raise ValueError(
                f"date format {fmt!r}: character {char!r} is not one of the separators "
                f"{''.join(sorted(_LITERALS))!r}"
            )
        pattern.append(_WS if char == " " else re.escape(char))
        k += 1
    needed = [] if "%d" in seen else ["%d"]
    if len(seen & {"%Y", "%y"}) != 1:
        needed.append("one of %Y or %y")
    if len(seen & {"%m", "%b", "%B"}) != 1:
        needed.append("one of %m, %b or %B")
    if ("%I" in seen) != ("%p" in seen):
        needed.append("%I and %p together")
    if "%I" in seen and "%H" in seen:
        needed.append("one of %H or %I")
    if ("%H" in seen or "%I" in seen) != ("%M" in seen):
        needed.append("an hour and %M together")
    if "%S" in seen and "%M" not in seen:
        needed.append("%M with %S")
    if needed:
        raise ValueError(f"date format {fmt!r}: needs {', '.join(needed)}")
    return re.compile("".join(pattern))
