"""Numbers written with a currency sign, a percent sign or thousands separators (``$1,234.50``,
``12.5%``, ``1.234,5 €``), read the way ``edgeml.data`` reads them with Polars.

A *number format* is the number 1234.5 written in the column's shape: ``$1,234.5``,
``1,234.5%``, ``1.234,5 €``, ``1234,5``. The text before the ``1`` is the prefix, the text
after the ``5`` the suffix (each a currency sign or ``%``, with an optional space), the
character between ``1`` and ``234`` the thousands separator (none, ``,``, ``.``, ``'`` or a
space) and the one between ``234`` and ``5`` the decimal mark. ``edgeml.data`` finds a column's
format when it reads the training file and records it in the bundle's input schema; every
executor then reads the column's text with it, and this module does so with the standard
library only, for the NumPy runtime.

A value is an optional sign, the prefix (optional), an optional sign, the digits (grouped by
the separator in threes, or not grouped), an optional decimal part, and the suffix (optional);
it reads as the number written, so ``12.5%`` is 12.5. A value in parentheses and without a
sign is negative, as accountants and Excel's accounting formats write one: ``($1,234.50)`` is
-1234.5. Anything else is not a value of the column. A no-break space (U+00A0), narrow
no-break space (U+202F) or thin space (U+2009) in a value is a space: French and other
locales group thousands with them (``20\u202f688,47\xa0€``, as Excel and LibreOffice export
them), and a format written with a plain space reads them.

>>> parse_number("$1,234.50", "$1,234.5"), parse_number("-$5", "$1,234.5")
(1234.5, -5.0)
>>> parse_number("1.234,5 €", "1.234,5 €"), parse_number("($1,234.50)", "$1,234.5")
(1234.5, -1234.5)
>>> parse_number("1,23", "$1,234.5") is None
True
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "SPACES",
    "SYMBOLS",
    "check_number_format",
    "is_number_format",
    "number_pattern",
    "parse_number",
    "thousands_separator",
]

#: The currency signs a prefix or suffix may hold (and ``%``, a suffix only).
SYMBOLS = "$€£¥₹"
#: The spaces read as a plain space in a number: no-break, thin and narrow no-break.
SPACES = "\u00a0\u2009\u202f"
_AS_SPACE = str.maketrans(dict.fromkeys(SPACES, " "))
_SHAPE = re.compile(
    rf"(?P<prefix>[{SYMBOLS}] ?)?1(?P<thousands>[,.' ]?)234(?P<decimal>[.,])5"
    rf"(?P<suffix> ?[{SYMBOLS}%])?"
)


@functools.lru_cache(maxsize=256)
def _parts(fmt: str) -> tuple[str, str, str, str]:
    """(prefix, thousands, decimal, suffix) of a number format; ValueError if it is none."""
    shape = _SHAPE.fullmatch(fmt) if isinstance(fmt, str) else None
    if shape is None or shape["thousands"] == shape["decimal"]:
        raise ValueError(
            f"{fmt!r} is not a number format: write 1234.5 as the column does, e.g. "
            "'$1,234.5', '1,234.5%' or '1.234,5 €'"
        )
    return shape["prefix"] or "", shape["thousands"], shape["decimal"], shape["suffix"] or ""


def check_number_format(fmt: str) -> None:
    """Raise ValueError unless ``fmt`` is a number format.

    >>> check_number_format("1,234.5%")
    >>> check_number_format("1.234.5")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: '1.234.5' is not a number format: write 1234.5 as the column does, e.g. ...
    """
    _parts(fmt)


def is_number_format(fmt: str) -> bool:
    """Whether ``fmt`` is a number format (and not, say, a date format).

    >>> is_number_format("$1,234.5"), is_number_format("%d/%m/%Y")
    (True, False)
    """
    try:
        _parts(fmt)
    except ValueError:
        return False
    return True


def thousands_separator(fmt: str) -> str:
    """The thousands separator of a number format ("" for none); every reader drops it.

    >>> thousands_separator("1.234,5 €"), thousands_separator("1234.5%")
    ('.', '')
    """
    return _parts(fmt)[1]


@functools.lru_cache(maxsize=256)
def number_pattern(fmt: str) -> str:
    """The regular expression (Python's and Polars' alike) a value of ``fmt`` matches, its
    groups an opening parenthesis, the sign (before or after the prefix), the whole digits,
    the decimal digits and a closing parenthesis.

    >>> re.fullmatch(number_pattern("$1,234.5"), "-$12,345.6").groups()
    ('', '-', '', '12,345', '6', '')
    """
    prefix, thousands, decimal, suffix = _parts(fmt)
    sep = re.escape(thousands)
    whole = rf"[0-9]{{1,3}}(?:{sep}[0-9]{{3}})+|[0-9]+" if thousands else "[0-9]+"
    return (
        rf"^(\(?)([+-]?)(?:{re.escape(prefix)})?([+-]?)({whole})(?:{re.escape(decimal)}([0-9]+))?"
        rf"(?:{re.escape(suffix)})?(\)?)$"
    )


@functools.lru_cache(maxsize=256)
def _compiled(fmt: str) -> re.Pattern[str]:
    return re.compile(number_pattern(fmt))


def parse_number(text: str, fmt: str) -> float | None:
    """``text`` (already stripped of surrounding whitespace) read with the number format
    ``fmt``, or None if it is not a value of that format.

    >>> parse_number("20\u202f688,47\xa0€", "1 234,5 €")
    20688.47
    """
    match = _compiled(fmt).fullmatch(text.translate(_AS_SPACE))
    if match is None:
        return None
    opened, before, after, whole, fraction, closed = match.groups()
    if (before and after) or opened != ("(" if closed else ""):  # one sign at most
        return None
    if opened and (before or after):
        return None
    thousands = thousands_separator(fmt)
    digits = whole.replace(thousands, "") if thousands else whole
    number = float(f"{digits}.{fraction}" if fraction else digits)
    return -number if "-" in (before, after) or opened else number
