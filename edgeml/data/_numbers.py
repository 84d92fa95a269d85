"""Finding a text column's number format (``$1,234.5``, ``1,234.5%``, ``1.234,5 €``) and
reading it with Polars, as :mod:`edgeml.util.numberformat` reads one value.

A column is read as formatted numbers when every distinct value fits one format and they share
one prefix and one suffix. The separators are tried in the order US/UK (``1,234.5``), plain
(``1234.5``), continental (``1.234,5``, ``1 234,5``), Swiss (``1'234.5``) and a bare decimal
comma (``1234,5 €``), so a column whose values fit several, like ``1,234``, reads as the first.
A decimal comma needs a sign or a thousands separator beside it: plain ``1,5`` is the file's
dialect's to read (``[data] decimal_comma``), not this module's. No-break and thin spaces
(:data:`~edgeml.util.numberformat.SPACES`) are spaces, as every executor reads them.

>>> detect_number_format(pl.Series(["$1,200.50", "$80", "-$3.25"]))
'$1,234.5'
>>> detect_number_format(pl.Series(["12.5%", "3%"]))
'1,234.5%'
>>> detect_number_format(pl.Series(["(1,234.50)", "2,000.00", "($5.00)", "$7"]))
'$1,234.5'
>>> detect_number_format(pl.Series(["1.234,5", "7,25"]))
'1.234,5'
>>> detect_number_format(pl.Series(["20\u202f688,47\xa0€", "950,00\xa0€"]))
'1 234,5 €'
>>> detect_number_format(pl.Series(["A-12", "B-7"])) is None
True
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

from edgeml.util.numberformat import SPACES, SYMBOLS, number_pattern, thousands_separator

__all__ = ["detect_number_format", "read_numbers"]

_SEPARATORS = ((",", "."), ("", "."), (".", ","), (" ", ","), ("'", "."), ("", ","))
_NUMBERISH = r"^[^0-9]*[0-9](?:[0-9,.' ]*[0-9])?[^0-9]*$"
_SAMPLE = 256  # values a format must read before it is tried on all of them
_PREFIXES = {*SYMBOLS, *(f"{s} " for s in SYMBOLS)}
_SUFFIXES = {*f"{SYMBOLS}%", *(f" {s}" for s in f"{SYMBOLS}%")}
_Text = TypeVar("_Text", pl.Series, pl.Expr)


def detect_number_format(values: pl.Series) -> str | None:
    """The number format every value of ``values`` (distinct, stripped, non-blank text) fits,
    or None: text that is not numbers, or numbers Polars already reads as they are."""
    values = _spaced(values)
    # One cheap pass first: between the first and the last digit only digits and separators
    # (a column of a million phone numbers or codes stops here, not after six formats).
    if values.is_empty() or not values.str.contains(_NUMBERISH).all():
        return None
    bare = values.str.replace(r"^\((.*)\)$", "$1")  # an accounting negative's parentheses
    prefix = _affix(bare.str.extract(r"^[+-]?([^0-9+-]*)"), _PREFIXES)
    suffix = _affix(bare.str.extract(r"([^0-9]*)$"), _SUFFIXES)
    if prefix is None or suffix is None:
        return None
    sample = values.head(_SAMPLE)
    for thousands, decimal in _SEPARATORS:
        if decimal == "," and not (prefix or suffix or _used(values, thousands)):
            continue  # bare decimal commas are the file's dialect's to read (or not)
        fmt = f"{prefix}1{thousands}234{decimal}5{suffix}"
        if _all_read(sample, fmt) and _all_read(values, fmt):
            return fmt
    return None


def _all_read(values: pl.Series, fmt: str) -> bool:
    read = values.to_frame("v").select(read_numbers(pl.col("v"), fmt)).to_series()
    return read.null_count() == 0


def _used(values: pl.Series, separator: str) -> bool:
    return bool(separator) and bool(values.str.contains(separator, literal=True).any())


def _affix(found: pl.Series, allowed: set[str]) -> str | None:
    """The one prefix (or suffix) the values carry ("" for none), or None if they carry several
    or one that is not a currency or percent sign."""
    kinds = set(found.drop_nulls().unique().to_list()) - {""}
    if len(kinds) > 1:
        return None
    kind = kinds.pop() if kinds else ""
    return kind if kind == "" or kind in allowed else None


def read_numbers(text: pl.Expr, fmt: str) -> pl.Expr:
    """Stripped text read with the number format ``fmt`` as Float64; null where a value does not
    fit it (as :func:`edgeml.util.numberformat.parse_number` returns None)."""
    thousands = thousands_separator(fmt)
    text = _spaced(text)
    groups = text.str.extract_groups(number_pattern(fmt))
    opened, before, after = (groups.struct.field(k) for k in ("1", "2", "3"))
    whole, fraction, closed = (groups.struct.field(k) for k in ("4", "5", "6"))
    digits = whole.str.replace_all(thousands, "", literal=True) if thousands else whole
    number = pl.when(fraction.is_null()).then(digits).otherwise(digits + "." + fraction)
    value = number.cast(pl.Float64, strict=False)
    # "(5)" is -5, as accountants write it: both parentheses or neither, and then no sign
    negative = (before == "-") | (after == "-") | (opened == "(")
    signed = pl.when(negative).then(-value).otherwise(value)
    one_sign = ((before == "") | (after == "")) & (
        ((opened == "") & (closed == ""))
        | ((opened == "(") & (closed == ")") & (before == "") & (after == ""))
    )
    return pl.when(whole.is_not_null() & one_sign).then(signed)


def _spaced(text: _Text) -> _Text:
    """``text`` (values, or an expression of them) with no-break and thin spaces made plain
    ones: detection and reading see the spaces every executor reads."""
    return text.str.replace_all(f"[{SPACES}]", " ")
