"""Logical types, conversion of columns to them, and schema inference for raw files.

edgeml reasons about six *logical* types and keeps each as exactly one Polars dtype, so a frame
that went through :func:`infer_types` or :func:`conform` satisfies
``conform(frame, logical_schema(frame), source=...) == frame``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal, get_args

import polars as pl

from edgeml.data._columns import bad_value, missing_columns
from edgeml.data._dates import detect_format, order_of, parse_text
from edgeml.data._numbers import detect_number_format, read_numbers
from edgeml.errors import SchemaError
from edgeml.util.dateformat import example, has_time
from edgeml.util.missing import MISSING_WORDS
from edgeml.util.numberformat import is_number_format

_MISSING = sorted(MISSING_WORDS)  # is_in's list, built once

LogicalType = Literal["float", "int", "bool", "str", "date", "datetime"]
LOGICAL_TYPES: tuple[str, ...] = get_args(LogicalType)

#: The one Polars dtype that holds each logical type.
POLARS_TYPES: dict[str, pl.DataType] = {
    "float": pl.Float64(),
    "int": pl.Int64(),
    "bool": pl.Boolean(),
    "str": pl.String(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
}

# Strings accepted as booleans when converting a column that must be bool.
# The runtime's edgeml.runtime.contract.BOOL_WORDS (tests/test_contract.py checks they agree).
_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "y": True, "n": False,
               "t": True, "f": False, "on": True, "off": False, "1": True, "0": False}  # fmt: skip
# Inference is stricter: every value must come from one of these pairs, so that a column of
# letter codes such as {"t", "n", "y"} is not mistaken for a boolean.
_BOOL_PAIRS = ({"yes", "no"}, {"true", "false"}, {"y", "n"}, {"t", "f"})

# ISO-8601 shapes tried in order; "%.f" also matches no fraction, "%#z" matches Z, +02:00, +0200.
# " UTC" is how BigQuery exports a TIMESTAMP ("2024-03-15 14:05:07.25 UTC"): UTC, so naive.
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f UTC",
                  "%Y-%m-%dT%H:%M:%S%.f UTC", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
                  "%Y-%m-%d")  # fmt: skip
_TZ_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z")
_FORMATS = (*_NAIVE_FORMATS, *_TZ_FORMATS)
_ISO_PREFIX = r"^\d{4}-\d{1,2}-\d{1,2}"


def logical_schema(frame: pl.DataFrame) -> dict[str, str]:
    """Map each column to its logical type.

    Any integer width maps to ``"int"``, any float or decimal to ``"float"``, categoricals to
    ``"str"``. Nested, binary, time-of-day and duration columns raise :class:`SchemaError`.

    >>> logical_schema(pl.DataFrame({"a": [1], "b": ["x"], "c": [0.5]}))
    {'a': 'int', 'b': 'str', 'c': 'float'}
    """
    return {name: _logical_of(dtype, name) for name, dtype in frame.schema.items()}


def conform(
    frame: pl.DataFrame,
    schema: Mapping[str, str],
    *,
    source: str,
    formats: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Return ``frame`` with exactly the columns of ``schema``, in order, cast to their types.

    Extra columns are dropped. Strings holding numbers, booleans (yes/no, true/false, y/n, t/f,
    on/off, 1/0) or ISO dates are converted; blank strings and nulls become null. Text in a
    column named in ``formats`` (column -> date format, as the bundle's input schema records it)
    is read with that format only. ``source`` names the data in error messages.

    >>> df = pl.DataFrame({"x": ["1", "2.5"], "flag": ["Yes", "no"], "extra": [0, 0]})
    >>> conform(df, {"flag": "bool", "x": "float"}, source="new.csv").row(1)
    (False, 2.5)
    """
    for column, logical in schema.items():
        if logical not in POLARS_TYPES:
            raise SchemaError(
                f"{source}: column {column!r} has unknown type {logical!r}; "
                f"expected one of: {', '.join(LOGICAL_TYPES)}"
            )
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise SchemaError(missing_columns(source, missing, list(schema), frame.columns))
    formats = formats or {}
    return pl.DataFrame(
        [
            convert(frame[c], logical, source=source, fmt=formats.get(c))
            for c, logical in schema.items()
        ]
    )


def convert(series: pl.Series, logical: str, *, source: str, fmt: str | None = None) -> pl.Series:
    """Cast one column to a logical type; a value that does not fit raises SchemaError.

    ``fmt``, a date format (see :mod:`edgeml.util.dateformat`), is how text bound for a date or
    datetime column is written; without it only ISO-8601 text is read.

    >>> convert(pl.Series("d", ["15.03.2024", None]), "date", source="a.csv", fmt="%d.%m.%Y")[0]
    datetime.date(2024, 3, 15)
    >>> convert(pl.Series("d", ["2024-03-15"]), "date", source="a.csv", fmt="%d.%m.%Y")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    edgeml.errors.SchemaError: a.csv: column 'd' row 1: ... the format %d.%m.%Y (as 15.03.2024)
    """
    dtype = series.dtype
    target = POLARS_TYPES[logical]
    if dtype == target:
        # Text is stripped of the whitespace around it: "Male " is the category "Male" (the
        # runtime's to_text strips the same Unicode whitespace).
        return series.str.strip_chars() if dtype == pl.String else series
    if series.null_count() == series.len():
        # Nothing to convert (e.g. a date column that is empty in this batch, read as Float64).
        return pl.Series(series.name, [None] * series.len(), dtype=target)
    _refuse_unsupported(series, logical, source)
    if dtype in (pl.Categorical, pl.Enum):
        series, dtype = series.cast(pl.String), pl.String()
        if dtype == target:
            return series.str.strip_chars()
    frame = series.to_frame("v")
    value = pl.col("v")
    if dtype == pl.String:
        value = value.str.strip_chars()
        # A blank cell is a missing value, not a bad one; so is "?", "N/A" or "-" in a column
        # of numbers, booleans or dates (edgeml.util.missing).
        value = pl.when(_present(value, words=logical != "str")).then(value)
        check = value.is_not_null()
    else:
        check = value.is_not_null() & ~_is_nan(value, dtype)
    formats: tuple[str, ...] = _FORMATS
    numbers = fmt is not None and is_number_format(fmt)
    own = fmt is not None and dtype == pl.String and logical in _OWN_FORMAT[numbers]
    if own and numbers:
        converted = read_numbers(value, fmt or "")
        converted = _whole(converted) if logical == "int" else converted
    elif own:
        converted = _own_format(value, logical, fmt or "")
    else:
        if dtype == pl.String and logical in ("date", "datetime"):
            formats = _formats_seen(series)
        converted = _converter(value, dtype, logical, formats)
    result = frame.select(new=converted, bad=check & converted.is_null())
    bad = result["bad"]
    if bad.any() and formats != _FORMATS:  # a shape the sample did not show: try them all
        converted = _converter(value, dtype, logical, _FORMATS)
        result = frame.select(new=converted, bad=check & converted.is_null())
        bad = result["bad"]
    if bad.any():
        row = int(bad.arg_max() or 0)
        expected = f"; expected the format {fmt}" if own and fmt else ""
        expected += f" (as {example(fmt)})" if own and fmt and not numbers else ""
        detail = f"cannot convert {series[row]!r} to {logical}{expected}"
        raise SchemaError(bad_value(source, series.name, row + 1, detail))
    return result["new"].alias(series.name)


def _present(text: pl.Expr, *, words: bool = True) -> pl.Expr:
    """Whether stripped ``text`` holds a value: not blank and, with ``words``, not one of the
    words for a missing value (``"?"``, ``"N/A"``, :data:`~edgeml.util.missing.MISSING_WORDS`)."""
    present = text.str.len_bytes() > 0
    if words:
        present = present & ~text.str.to_lowercase().is_in(_MISSING)
    return present


# The logical types a column's own format reads text as: numbers' formats, dates'.
_OWN_FORMAT = {True: ("float", "int"), False: ("date", "datetime")}


def _own_format(value: pl.Expr, logical: str, fmt: str) -> pl.Expr:
    """Text read with a column's own date format, as ``logical``."""
    parsed = parse_text(value, fmt)
    if logical == "date":
        return parsed.dt.date() if has_time(fmt) else parsed
    return parsed.cast(pl.Datetime("us"))


def infer_types(
    frame: pl.DataFrame,
    *,
    skip: Collection[str] = (),
    keep_raw: Collection[str] = (),
    date_formats: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Give every column its logical type's dtype, reading numbers, booleans and dates in text.

    String columns whose values all parse as numbers become Int64 (all integers) or Float64;
    yes/no-style columns become Boolean unless named in ``keep_raw``; ISO dates, and dates in
    one of the common shapes of :mod:`edgeml.data._dates` (``03/15/2024``, ``15.03.2024 14:05``,
    ``Mar 15, 2024``), become Date or Datetime; all-null columns become Float64. Columns in
    ``skip`` are left untouched; text in ``date_formats`` columns is read with that format.

    >>> infer_types(pl.DataFrame({"d": ["03/15/2024", "04/01/2024"]}))["d"].to_list()
    [datetime.date(2024, 3, 15), datetime.date(2024, 4, 1)]
    """
    return infer_with_formats(frame, skip=skip, keep_raw=keep_raw, date_formats=date_formats)[0]


def infer_with_formats(
    frame: pl.DataFrame,
    *,
    skip: Collection[str] = (),
    keep_raw: Collection[str] = (),
    date_formats: Mapping[str, str] | None = None,
    source: str = "",
) -> tuple[pl.DataFrame, dict[str, str], list[str]]:
    """:func:`infer_types`, with the date format each non-ISO date column was read with (the
    model's input contract) and a note for each day/month order that had to be assumed.

    >>> frame, formats, notes = infer_with_formats(
    ...     pl.DataFrame({"a": ["25/12/2024"], "b": ["01/02/2024"], "c": ["02/01/2024"]}))
    >>> formats
    {'a': '%d/%m/%Y', 'b': '%d/%m/%Y', 'c': '%d/%m/%Y'}
    """
    given = dict(date_formats or {})
    formats: dict[str, str] = {}
    orders: dict[str, str] = {}
    doubtful: dict[str, pl.Series] = {}
    columns: dict[str, pl.Series] = {}
    for name, dtype in frame.schema.items():
        series = frame[name]
        if name in given:
            if is_number_format(given[name]):
                logical = "float"
            else:
                logical = "datetime" if has_time(given[name]) else "date"
            read = dtype == POLARS_TYPES[logical] or (logical == "float" and dtype == pl.Int64)
            if dtype != pl.String and not read:  # (read: rows already converted, a retrain's)
                raise SchemaError(
                    f"{source}: [data] date_formats names column {name!r}, which holds "
                    f"{dtype} values, not text"
                )
            series = convert(series, logical, source=source, fmt=given[name])
            formats[name] = given[name]
        elif name not in skip:
            series = _normalise(series, dtype)
            if series.dtype == pl.String and not dtype.is_integer():  # (ints: _normalise's codes)
                series, found = _infer_text(series, allow_bool=name not in keep_raw)
                if found is not None and is_number_format(found[0]):
                    formats[name] = found[0]
                elif found is not None:
                    formats[name], certainty, values = found
                    known = order_of(formats[name])
                    if certainty == "certain" and known:
                        orders.setdefault(*known)
                    elif certainty != "certain":
                        doubtful[name] = values
        columns[name] = series
    notes = []
    for name, values in doubtful.items():
        # Ambiguous everywhere: another column of this file may have shown the order.
        redone = detect_format(values, orders=orders)
        if redone is not None and redone[0] != formats[name]:
            formats[name] = redone[0]
            logical = "datetime" if has_time(redone[0]) else "date"
            columns[name] = convert(frame[name], logical, source=source, fmt=redone[0])
        shown = redone is not None and redone[1] == "from another column"
        how = "as another column of the file showed" if shown else "the default for its separator"
        notes.append(
            f"column {name!r}: every date fits both day/month orders; read as {formats[name]} "
            f'({how}); set [data] date_formats = {{{name} = "..."}} to change it'
        )
    return pl.DataFrame(list(columns.values())), formats, notes


def _logical_of(dtype: pl.DataType, column: str) -> str:
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_float() or dtype.is_decimal() or dtype == pl.Null:
        return "float"
    if dtype in (pl.String, pl.Categorical, pl.Enum):
        return "str"
    if dtype == pl.Date:
        return "date"
    if dtype == pl.Datetime:
        return "datetime"
    raise SchemaError(
        f"column {column!r} has type {dtype}; edgeml needs flat columns of numbers, text, "
        "booleans, dates or datetimes"
    )


def _refuse_unsupported(series: pl.Series, logical: str, source: str) -> None:
    """Raise for conversions that make no sense (a date into a float, a list into anything)."""
    kind = _logical_of(series.dtype, series.name) if _is_flat(series.dtype) else None
    allowed = {
        "float": {"float", "int", "bool", "str"},
        "int": {"float", "int", "bool", "str"},
        "bool": {"float", "int", "bool", "str"},
        "str": {"float", "int", "bool", "str", "date", "datetime"},
        "date": {"str", "date", "datetime"},
        "datetime": {"str", "date", "datetime"},
    }[logical]
    if kind not in allowed:
        raise SchemaError(
            f"{source}: column {series.name!r} holds {series.dtype} values; expected {logical}"
        )


def _is_flat(dtype: pl.DataType) -> bool:
    try:
        _logical_of(dtype, "")
    except SchemaError:
        return False
    return True


def _is_nan(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    # NaN in a float column is a missing value, never a "bad" one.
    return value.is_nan() if dtype.is_float() else pl.lit(False)


def _converter(
    value: pl.Expr, dtype: pl.DataType, logical: str, formats: tuple[str, ...] = ()
) -> pl.Expr:
    """An expression that converts ``value`` to ``logical``; null where a value does not fit.
    Text dates and datetimes are read with ``formats`` (of ``_FORMATS``, in its order)."""
    text = dtype == pl.String
    if logical == "float":
        return value.cast(pl.Float64, strict=False)
    if logical == "int":
        if text:
            as_float = value.cast(pl.Float64, strict=False)
            return pl.coalesce(value.str.to_integer(strict=False), _whole(as_float))
        if dtype.is_float() or dtype.is_decimal():
            return _whole(value.cast(pl.Float64))
        return value.cast(pl.Int64, strict=False)
    if logical == "bool":
        if text:
            words = list(_BOOL_WORDS)
            flags = list(_BOOL_WORDS.values())
            return value.str.to_lowercase().replace_strict(
                words, flags, default=None, return_dtype=pl.Boolean
            )
        if dtype == pl.Boolean:
            return value
        return pl.when(value == 1).then(True).when(value == 0).then(False)
    if logical == "str":
        return value.cast(pl.String)
    if logical == "date":
        if text:
            return pl.coalesce(
                value.str.to_date("%Y-%m-%d", strict=False),
                _parse_datetime(value, formats).dt.date(),
            )
        if dtype == pl.Datetime:
            return _naive_utc(value, dtype).dt.date()
        return value
    # datetime
    if text:
        return _parse_datetime(value, formats)
    if dtype == pl.Datetime:
        return _naive_utc(value, dtype)
    return value.cast(pl.Datetime("us"))


def _whole(value: pl.Expr) -> pl.Expr:
    """Float64 -> Int64 where the value is a finite whole number, else null."""
    fits = value.is_finite() & (value == value.floor()) & (value.abs() < 2.0**63)
    return pl.when(fits).then(value.cast(pl.Int64, strict=False))


def _naive_utc(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    # edgeml keeps datetimes timezone-free, in UTC, at microsecond resolution.
    if getattr(dtype, "time_zone", None):
        value = value.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return value.cast(pl.Datetime("us"))


def _parse_datetime(text: pl.Expr, formats: tuple[str, ...] = ()) -> pl.Expr:
    """The first of ``formats`` (all of ``_FORMATS`` if empty) that reads each value, as naive
    UTC; null where none does."""
    parsed = [
        text.str.to_datetime(f, strict=False, time_unit="us")
        if f in _NAIVE_FORMATS
        else text.str.to_datetime(f, strict=False, time_unit="us")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
        for f in formats or _FORMATS
    ]
    return pl.coalesce(*parsed)


def _formats_seen(series: pl.Series) -> tuple[str, ...]:
    """The formats of ``_FORMATS`` that read a few of the column's values spread over it.

    Polars evaluates every branch of a coalesce on every row, so converting with all seven
    shapes costs seven parses; a column keeps one shape in practice, and :func:`convert` tries
    them all again if a value the sample did not show is left unread.
    """
    values = series.drop_nulls()
    if values.len() == 0:
        return _FORMATS
    sample = values.gather(sorted({0, values.len() // 2, values.len() - 1})).str.strip_chars()
    hits = sample.to_frame("v").select(
        pl.col("v").str.to_datetime(f, strict=False, time_unit="us").is_not_null().any().alias(f)
        if f in _NAIVE_FORMATS
        else pl.col("v").str.to_datetime(f, strict=False).is_not_null().any().alias(f)
        for f in _FORMATS
    )
    seen = tuple(f for f in _FORMATS if hits[f][0])
    return seen or _FORMATS


def _normalise(series: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Cast a column to the single dtype edgeml uses for its logical type."""
    logical = _logical_of(dtype, series.name)
    if dtype == pl.Null:
        return series.cast(pl.Float64)
    if logical == "int" and dtype in (pl.UInt64, pl.Int128, pl.UInt128):
        low, top = series.min(), series.max()
        # Whole numbers beyond Int64 (a CSV's 20-digit numbers are read as Int128) are codes
        # and identifiers: kept exactly as text. As floats, 300 distinct 20-digit ids were one
        # value, and their rows were dropped as exact duplicates.
        if (isinstance(top, int) and top >= 2**63) or (isinstance(low, int) and low < -(2**63)):
            return series.cast(pl.String)
    if logical == "datetime":
        return series.to_frame().select(_naive_utc(pl.col(series.name), dtype)).to_series()
    return series.cast(POLARS_TYPES[logical])


def _infer_text(
    series: pl.Series, *, allow_bool: bool
) -> tuple[pl.Series, tuple[str, str, pl.Series] | None]:
    """Read numbers, booleans or dates out of a string column when every value is one; with the
    (date format, certainty of its day/month order, distinct values) of a non-ISO date column,
    or the number format of numbers written with signs or separators."""
    stripped = series.str.strip_chars()
    # Distinct values decide the type: a categorical column of 50k rows has a handful of them.
    values = stripped.filter(stripped.str.len_bytes() > 0).unique()
    if values.is_empty():
        return series.cast(pl.Float64), None  # all null or blank: nothing says it is text
    # "?", "N/A", "-" mark a missing value in a column of numbers, booleans or dates; a column
    # of nothing else stays text (its one category).
    present = values.filter(values.to_frame("v").select(_present(pl.col("v"))).to_series())
    values = present if present.len() else values
    if _beyond_int64(values):
        return stripped, None  # codes or identifiers: as floats, distinct ones become equal
    for logical, parse in _text_candidates(values, allow_bool=allow_bool):
        if values.to_frame("v").select(parse).to_series().null_count() == 0:
            if logical in ("int", "float"):
                # Every distinct value parsed, so the same parser converts the column in one
                # pass; convert() would also hunt for the first bad value, which cannot exist.
                blank_as_null = pl.when(_present(pl.col("v"))).then(pl.col("v"))
                column = stripped.to_frame("v").select(blank_as_null.alias("v"))
                return column.select(parse.alias(series.name)).to_series(), None
            return convert(series, logical, source=""), None
    number = detect_number_format(values)
    if number is not None:  # "$1,234.50", "12.5%": numbers, whatever signs they carry
        return convert(series, "float", source="", fmt=number), (number, "certain", values)
    found = detect_format(values)
    if found is None:
        return stripped, None  # text: "Male " is the category "Male", as conform reads it
    fmt, certainty = found
    logical = "datetime" if has_time(fmt) else "date"
    return convert(series, logical, source="", fmt=fmt), (fmt, certainty, values)


def _beyond_int64(values: pl.Series) -> bool:
    """Whether some value is whole-number digits that Int64 cannot hold (a 20-digit id)."""
    v = pl.col("v")
    digits = v.str.contains(r"^[+-]?[0-9]{19,}$") & v.str.to_integer(strict=False).is_null()
    return bool(values.to_frame("v").select(digits.any()).item())


def _text_candidates(values: pl.Series, *, allow_bool: bool) -> list[tuple[str, pl.Expr]]:
    """(logical type, strict parser) pairs worth trying on non-blank text, most specific first.

    These parsers are stricter than :func:`convert` on purpose: "1.0" is a float here and a
    datetime is not a date, so inference never loses information.
    """
    v = pl.col("v")
    candidates = [
        ("int", v.str.to_integer(strict=False)),
        ("float", v.cast(pl.Float64, strict=False)),
    ]
    if allow_bool:
        lowered = set(values.str.to_lowercase().unique().to_list())
        if any(lowered <= pair for pair in _BOOL_PAIRS):
            candidates.append(("bool", pl.lit(True)))
    if values.str.contains(_ISO_PREFIX).all():
        candidates.append(("date", v.str.to_date("%Y-%m-%d", strict=False)))
        candidates.append(("datetime", _parse_datetime(v)))
    return candidates
