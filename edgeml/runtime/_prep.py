"""The NumPy executor of a PrepPlan: a row (a dict) or a batch (columns) in, model features out.

It gives the numbers the Polars executor gives (``edgeml.prep.apply_prep`` after
``edgeml.data.conform``) on the same rows — the parity tests assert equality — without Polars:

- numeric (float, int, bool as 1/0): NaN and None are missing; clip to the fences, flag missing,
  impute, then ``(x - center) * (1 / scale)`` (Polars' own rounding); still missing → NaN;
- categorical: the value as text looked up in the training vocabulary (missing → the imputed
  category if any); ``native`` → its index, ``onehot`` → 1 in its column, ``frequency`` → its
  training share; unseen or missing → NaN, all zeros, 0.0 respectively;
- date parts: year, month, day, weekday (Monday = 1), day of year, hour, minute; missing → NaN.

Values are converted as :func:`edgeml.data.conform` converts a column (see ``_schema``): a value
it would refuse raises :class:`~edgeml.errors.SchemaError` naming the column and the value.

The plan is compiled once into flat tuples and lookup dicts, so one row costs a few µs.

>>> from edgeml.spec.prep_plan import PrepPlan
>>> plan = PrepPlan.from_dict({
...     "columns": [{"name": "x", "dtype": "float", "role": "feature"},
...                 {"name": "c", "dtype": "str", "role": "feature"}],
...     "steps": [{"kind": "numeric", "column": "x", "output": "x", "impute": 0.5},
...               {"kind": "categorical", "column": "c", "encoding": "native",
...                "categories": ["a", "b"], "output_names": ["c"]}]})
>>> prep = RuntimePrep(plan)
>>> prep.transform_row({"x": None, "c": "b", "ignored": 1}).tolist()
[0.5, 1.0]
>>> prep.transform({"x": [1.0, "2"], "c": ["a", "new"]}).tolist()
[[1.0, 0.0], [2.0, nan]]
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from itertools import repeat
from typing import Any

import numpy as np

from edgeml.errors import BundleError, SchemaError
from edgeml.runtime._schema import WHITESPACE, epoch_micros, to_datetime, to_number, to_text
from edgeml.spec.manifest import Manifest
from edgeml.spec.prep_plan import CategoricalStep, DatePartsStep, NumericStep, PrepPlan, input_types

__all__ = ["RuntimePrep"]

NAN = math.nan
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_PARTS = ("year", "month", "day", "weekday", "day_of_year", "hour", "minute")
_DAY_US = 86_400_000_000


class RuntimePrep:
    """A PrepPlan compiled for NumPy: build it with :func:`edgeml.runtime.load_prep`.

    ``features`` are the output columns in order; ``input_schema`` maps each column the plan
    needs to its logical type (``float``, ``int``, ``bool``, ``str``, ``date``, ``datetime``).
    """

    def __init__(self, plan: PrepPlan) -> None:
        self.plan = plan
        self.features: tuple[str, ...] = tuple(plan.features)
        self.input_schema: dict[str, str] = dict(plan.input_schema)
        #: The date format of each input column written as non-ISO text.
        self.formats: dict[str, str] = plan.input_formats
        position = {name: i for i, name in enumerate(self.features)}
        if len(position) != len(self.features):
            raise BundleError("manifest prep plan: feature names are not unique")
        numerics: list[_NumericRow] = []
        lookups: list[tuple[str, int, dict[str | None, float], float]] = []
        onehots: list[tuple[str, dict[str | None, int]]] = []
        dates: list[tuple[str, str, tuple[tuple[int, int], ...]]] = []
        for step in plan.steps:
            logical = self._logical(step)
            if isinstance(step, NumericStep):
                numerics.append(_compile_numeric(step, logical, position))
            elif isinstance(step, CategoricalStep):
                if step.encoding == "onehot":
                    onehots.append((step.column, _onehot_index(step, position)))
                else:
                    lookups.append((step.column, _single_output(step, position),
                                    *_lookup_table(step)))  # fmt: skip
            else:
                dates.append((step.column, logical, _date_slots(step, position)))
        self._numerics = tuple(numerics)
        self._lookups = tuple(lookups)
        self._onehots = tuple(onehots)
        # Tables whose text keys are as stripping leaves them: a batch value found in one as
        # it is needs no conversion (see _found_as_is)
        tables = [(c, t) for c, _, t, _ in lookups] + onehots
        self._as_is = frozenset(
            column for column, table in tables
            if all(type(k) is not str or k.strip(WHITESPACE) == k for k in table)
        )  # fmt: skip
        self._dates = tuple(dates)
        self._template = [0.0] * len(self.features)

    @classmethod
    def from_manifest(cls, manifest: Manifest, *, source: str = "bundle") -> RuntimePrep:
        """Compile the plan stored in a bundle manifest, checking it yields the model's features."""
        try:
            prep = cls(manifest.prep)
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{source}: manifest prep plan is malformed: {exc!r}") from None
        expected = manifest.features.model
        if expected and list(expected) != list(prep.features):
            raise BundleError(
                f"{source}: the prep plan yields features {list(prep.features)} but the model "
                f"expects {list(expected)}"
            )
        return prep

    def __repr__(self) -> str:
        return f"RuntimePrep({len(self.input_schema)} columns -> {len(self.features)} features)"

    # -- one row -----------------------------------------------------------------------------

    def transform_row(self, row: Mapping[str, Any]) -> np.ndarray:
        """One row ``{column: value}`` as the model's feature vector, shape ``(n_features,)``.

        Extra keys are ignored; a missing column or a value of the wrong type raises
        :class:`~edgeml.errors.SchemaError`.
        """
        out = self._template.copy()
        try:
            for (
                column,
                fast_float,
                fast_int,
                pos,
                lo,
                hi,
                center,
                inverse,
                if_missing,
                flag,
            ) in self._numerics:
                value = row[column]
                kind = type(value)
                if kind is float and fast_float:
                    x = value
                elif kind is int and fast_int and _INT64_MIN <= value <= _INT64_MAX:
                    x = float(value)
                else:
                    x = _number(value, self.input_schema[column], column, self.formats.get(column))
                if x != x:
                    out[pos] = if_missing
                    if flag >= 0:
                        out[flag] = 1.0
                else:
                    if x < lo:
                        x = lo
                    elif x > hi:
                        x = hi
                    out[pos] = (x - center) * inverse
            for column, pos, table, default in self._lookups:
                value = row[column]
                # as to_text: "Male " is "Male"
                value = value.strip(WHITESPACE) if type(value) is str else _text(value, column)
                out[pos] = table.get(value, default)
            for column, index in self._onehots:
                value = row[column]
                # as to_text: "Male " is "Male"
                value = value.strip(WHITESPACE) if type(value) is str else _text(value, column)
                hot = index.get(value)
                if hot is not None:
                    out[hot] = 1.0
            for column, logical, slots in self._dates:
                value = row[column]
                if type(value) is not dt.datetime or value.tzinfo is not None:
                    value = _stamp(value, logical, column, self.formats.get(column))
                if value is None:
                    for _, pos in slots:
                        out[pos] = NAN
                else:
                    parts = _calendar(value)
                    for part, pos in slots:
                        out[pos] = parts[part]
        except KeyError:
            self._check_columns(row, "the row")
            raise
        return np.array(out, dtype=np.float64)

    # -- a batch -----------------------------------------------------------------------------

    def transform(self, columns: Mapping[str, Any] | np.ndarray) -> np.ndarray:
        """A batch as the model's matrix, shape ``(n_rows, n_features)``, C-ordered float64.

        ``columns`` maps each input column to a sequence (list, tuple or 1-D array) of values,
        or is a 2-D array whose columns follow ``input_schema``'s order. Extra columns are
        ignored. Numeric NumPy arrays are converted without a Python loop.
        """
        table, n = self._batch(columns)
        out = np.zeros((n, len(self.features)), dtype=np.float64)
        for column, _, _, pos, lo, hi, center, inverse, if_missing, flag in self._numerics:
            fmt = self.formats.get(column)
            x = _number_column(table[column], self.input_schema[column], column, fmt)
            missing = np.isnan(x)
            value = (np.clip(x, lo, hi) - center) * inverse
            value[missing] = if_missing
            out[:, pos] = value
            if flag >= 0:
                out[:, flag] = missing
        for column, pos, lookup, default in self._lookups:
            codes = _found_as_is(table[column], lookup, -1.0) if column in self._as_is else None
            if codes is None:
                texts = _text_column(table[column], column)
                codes = np.array([lookup.get(t, default) for t in texts], dtype=np.float64)
            out[:, pos] = codes
        for column, index in self._onehots:
            hot = _found_as_is(table[column], index, -2) if column in self._as_is else None
            if hot is None:
                texts = _text_column(table[column], column)
                hot = np.fromiter((index.get(t, -1) for t in texts), dtype=np.int64, count=n)
            rows = np.flatnonzero(hot >= 0)
            out[rows, hot[rows]] = 1.0
        for column, logical, slots in self._dates:
            fmt = self.formats.get(column)
            micros, missing = _micros_column(table[column], logical, column, fmt)
            parts = _calendar_columns(micros)
            for part, pos in slots:
                values = parts[part].astype(np.float64)
                values[missing] = NAN
                out[:, pos] = values
        return out

    def _batch(self, columns: Mapping[str, Any] | np.ndarray) -> tuple[Mapping[str, Any], int]:
        if isinstance(columns, np.ndarray):
            if columns.ndim != 2 or columns.shape[1] != len(self.input_schema):
                raise SchemaError(
                    f"a batch array must be 2-D with {len(self.input_schema)} columns "
                    f"({', '.join(self.input_schema)}); got shape {columns.shape}"
                )
            return {name: columns[:, j] for j, name in enumerate(self.input_schema)}, len(columns)
        if not isinstance(columns, Mapping):
            raise SchemaError(
                f"a batch must be a mapping of column name to values or a 2-D array, "
                f"not {type(columns).__name__}"
            )
        self._check_columns(columns, "the batch")
        lengths = {}
        for name in self.input_schema:
            values = columns[name]
            if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
                raise SchemaError(
                    f"column {name!r}: expected a sequence of values, got {type(values).__name__}"
                    " (use transform_row for a single row)"
                )
            if isinstance(values, np.ndarray) and values.ndim != 1:
                raise SchemaError(f"column {name!r}: expected 1-D values, got shape {values.shape}")
            lengths[name] = len(values)
        if len(set(lengths.values())) > 1:
            raise SchemaError(
                "columns differ in length: "
                + ", ".join(f"{name!r} has {n}" for name, n in lengths.items())
            )
        return columns, next(iter(lengths.values()), 0)

    def _check_columns(self, given: Mapping[str, Any], what: str) -> None:
        missing = [name for name in self.input_schema if name not in given]
        if missing:
            raise SchemaError(
                f"{what} lacks column(s) {', '.join(repr(c) for c in missing)}; "
                f"the model needs: {', '.join(self.input_schema)}"
            )

    def _logical(self, step: NumericStep | CategoricalStep | DatePartsStep) -> str:
        logical = self.input_schema.get(step.column)
        allowed = input_types(step)
        if logical is None or logical not in allowed:
            raise BundleError(
                f"manifest prep plan: a {step.kind} step reads column {step.column!r}, whose "
                f"type is {logical!r}; expected one of: {', '.join(allowed)}"
            )
        return logical


# -- compiling the plan --------------------------------------------------------------------------

# column, fast float?, fast int?, output position, clip low, clip high, center, 1 / scale,
# output when missing, missing-indicator position (-1: none)
_NumericRow = tuple[str, bool, bool, int, float, float, float, float, float, int]


def _compile_numeric(step: NumericStep, logical: str, position: dict[str, int]) -> _NumericRow:
    # No clip is clipping to ±inf and no scaling is (x - 0.0) * 1.0: both leave every float,
    # infinities included, bit-for-bit as it is, so the hot loop has no branches for them.
    # Polars divides by a literal as a multiplication by its reciprocal; so does this, to give
    # the same last bit.
    lo, hi = step.clip if step.clip is not None else (-math.inf, math.inf)
    center, scale = step.scale if step.scale is not None else (0.0, 1.0)
    inverse = 1.0 / float(scale)
    if_missing = NAN if step.impute is None else (float(step.impute) - center) * inverse
    flag = position[step.missing_indicator] if step.missing_indicator else -1
    return (step.column, logical == "float", logical != "bool", position[step.output],
            float(lo), float(hi), float(center), inverse, if_missing, flag)  # fmt: skip


def _lookup_table(step: CategoricalStep) -> tuple[dict[str | None, float], float]:
    """Native codes or frequencies by category; ``None`` (missing) maps as the imputed value."""
    if step.encoding == "frequency":
        if len(step.frequencies) != len(step.categories):
            raise BundleError(
                f"manifest prep plan: column {step.column!r} has {len(step.categories)} "
                f"categories but {len(step.frequencies)} frequencies"
            )
        table: dict[str | None, float] = {
            c: float(f) for c, f in zip(step.categories, step.frequencies, strict=True)
        }
        default = 0.0  # Polars' replace_strict default applies to null too
    else:
        table = {c: float(i) for i, c in enumerate(step.categories)}
        default = NAN
    table[None] = table.get(step.impute, default) if step.impute is not None else default
    return table, default


def _single_output(step: CategoricalStep, position: dict[str, int]) -> int:
    if len(step.output_names) != 1:
        raise BundleError(
            f"manifest prep plan: column {step.column!r} ({step.encoding}) needs one output, "
            f"has {step.output_names}"
        )
    return position[step.output_names[0]]


def _onehot_index(step: CategoricalStep, position: dict[str, int]) -> dict[str | None, int]:
    if len(step.output_names) != len(step.categories):
        raise BundleError(
            f"manifest prep plan: column {step.column!r} has {len(step.categories)} categories "
            f"but {len(step.output_names)} one-hot outputs"
        )
    index: dict[str | None, int] = {}
    for category, name in zip(step.categories, step.output_names, strict=True):
        index.setdefault(category, position[name])
    if step.impute is not None and step.impute in index:
        index[None] = index[step.impute]
    return index


def _date_slots(step: DatePartsStep, position: dict[str, int]) -> tuple[tuple[int, int], ...]:
    unknown = [p for p in step.parts if p not in _PARTS]
    if unknown or len(step.parts) != len(step.output_names):
        raise BundleError(
            f"manifest prep plan: column {step.column!r} has date parts {step.parts} for outputs "
            f"{step.output_names}; parts must be among: {', '.join(_PARTS)}"
        )
    return tuple(
        (_PARTS.index(part), position[name])
        for part, name in zip(step.parts, step.output_names, strict=True)
    )


# -- values: the slow paths of one row -----------------------------------------------------------


def _number(value: Any, logical: str, column: str, fmt: str | None = None) -> float:
    try:
        return to_number(value, logical, fmt)
    except ValueError as exc:
        raise SchemaError(f"column {column!r}: {exc}") from None


def _text(value: Any, column: str) -> str | None:
    try:
        return to_text(value)
    except ValueError as exc:
        raise SchemaError(f"column {column!r}: {exc}") from None


def _stamp(value: Any, logical: str, column: str, fmt: str | None) -> dt.datetime | None:
    try:
        return to_datetime(value, logical, fmt)
    except ValueError as exc:
        raise SchemaError(f"column {column!r}: {exc}") from None


def _calendar(stamp: dt.datetime) -> tuple[float, ...]:
    """The parts of ``_PARTS``, in that order, of one naive datetime."""
    year = stamp.year
    day_of_year = stamp.toordinal() - dt.date(year, 1, 1).toordinal() + 1
    return (float(year), float(stamp.month), float(stamp.day), float(stamp.isoweekday()),
            float(day_of_year), float(stamp.hour), float(stamp.minute))  # fmt: skip


# -- columns: the batch path ---------------------------------------------------------------------


def _each(values: Any) -> Iterable[Any]:
    """The values of a column one by one, as Python objects where NumPy would change them."""
    if isinstance(values, np.ndarray):
        # tolist() turns datetime64[ns] into ints and float32 into float64 reprs: keep scalars
        return iter(values) if values.dtype.kind in "Mmf" else values.tolist()
    return values


def _convert_each(values: Any, convert: Callable[[Any], Any], column: str) -> list[Any]:
    items = _each(values)
    try:
        return [convert(value) for value in items]
    except ValueError:
        pass
    for row, value in enumerate(_each(values)):  # again, one by one, to name the row at fault
        try:
            convert(value)
        except ValueError as exc:
            raise SchemaError(f"column {column!r} row {row + 1}: {exc}") from None
    raise AssertionError("unreachable: a conversion failed only once")  # pragma: no cover


def _as_array(values: Any) -> np.ndarray | None:
    """``values`` as a numeric or boolean array if NumPy reads it as one without loss."""
    if isinstance(values, np.ndarray):
        array = values
    else:
        try:
            array = np.asarray(values)
        except (ValueError, TypeError, OverflowError):
            return None
    return array if array.ndim == 1 and array.dtype.kind in "fiub" else None


def _number_column(values: Any, logical: str, column: str, fmt: str | None = None) -> np.ndarray:
    array = _as_array(values)
    if array is None:
        fast = logical == "float"

        def convert(v: Any) -> float:
            return v if fast and type(v) is float else to_number(v, logical, fmt)

        return np.array(_convert_each(values, convert, column), dtype=np.float64)
    kind = array.dtype.kind
    x = array.astype(np.float64)
    if kind == "b" or logical == "float":
        return x
    if logical == "bool":
        bad = ~np.isnan(x) & (x != 0.0) & (x != 1.0)
    elif kind == "f":
        whole = np.isfinite(x) & (x == np.floor(x)) & (np.abs(x) < 2.0**63)
        bad = ~np.isnan(x) & ~whole
    elif kind == "u":
        bad = array > _INT64_MAX
    else:
        bad = np.zeros(len(x), dtype=bool)
    if bad.any():
        row = int(np.argmax(bad))
        raise SchemaError(
            f"column {column!r} row {row + 1}: cannot convert {array[row].item()!r} to {logical}"
        )
    return x + 0.0  # -0.0 -> 0.0, as the whole number or boolean it stands for


def _found_as_is(values: Any, table: Mapping[str | None, Any], miss: float) -> np.ndarray | None:
    """``table``'s entry for each value of a list or tuple looked up as it is, where every
    value is found so (text already stripped, or missing as the table's None): for a table
    whose text keys are as stripping leaves them, what ``table.get(to_text(value))`` gives, at
    one dictionary lookup a value. None where a value is not found as it is (unseen, padded
    with whitespace, not text, unhashable): the caller converts the column value by value.
    ``miss`` is a number no entry holds (the codes, positions and frequencies are >= 0, a
    missing value's entry NaN at worst), so one vectorised compare finds the misses."""
    if type(values) is not list and type(values) is not tuple:
        return None
    kind = np.float64 if isinstance(miss, float) else np.int64
    try:
        found = np.fromiter(map(table.get, values, repeat(miss)), dtype=kind, count=len(values))
    except TypeError:  # unhashable: refused by the conversion, naming its row
        return None
    return None if bool((found == miss).any()) else found


def _text_column(values: Any, column: str) -> list[str | None]:
    if isinstance(values, np.ndarray) and values.dtype.kind == "U":
        return [v.strip(WHITESPACE) for v in values.tolist()]
    try:  # the common case inline, without a call per value
        return [v.strip(WHITESPACE) if type(v) is str else to_text(v) for v in _each(values)]
    except ValueError:
        return _convert_each(values, to_text, column)  # raises, naming the row


def _micros_column(
    values: Any, logical: str, column: str, fmt: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch (naive UTC, midnight for a date column) and a missing mask."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        stamps = values.astype("datetime64[us]")
        missing = np.isnat(stamps)
        micros = stamps.astype(np.int64)
        micros[missing] = 0
        if logical == "date":
            micros = micros // _DAY_US * _DAY_US
        return micros, missing

    def convert(value: Any) -> int | None:
        stamp = to_datetime(value, logical, fmt)
        return None if stamp is None else epoch_micros(stamp)

    converted = _convert_each(values, convert, column)
    missing = np.array([m is None for m in converted], dtype=bool)
    micros = np.array([0 if m is None else m for m in converted], dtype=np.int64)
    return micros, missing


def _calendar_columns(micros: np.ndarray) -> list[np.ndarray]:
    """The parts of ``_PARTS``, in that order, of microseconds since 1970-01-01 (naive)."""
    days = micros // _DAY_US
    day = days.astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    year_start = day.astype("datetime64[Y]")
    within_day = micros - days * _DAY_US
    return [
        year_start.astype(np.int64) + 1970,
        month_start.astype(np.int64) % 12 + 1,
        (day - month_start.astype("datetime64[D]")).astype(np.int64) + 1,
        (days + 3) % 7 + 1,  # 1970-01-01 was a Thursday (4)
        (day - year_start.astype("datetime64[D]")).astype(np.int64) + 1,
        within_day // 3_600_000_000,
        within_day // 60_000_000 % 60,
    ]
