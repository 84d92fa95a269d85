"""The C package's raw inputs: one double per input column, and how Python rows map to them.

A device has no strings or date types to spare, so the C API takes every input column as a
double, in ``input_schema`` order:

- numeric (float, int, bool): the value (bool 0/1); NaN is missing;
- categorical: the category's code, its index in the training vocabulary (listed in the
  generated header); NaN is missing; any other number (e.g. -1) is an unseen category;
- date/datetime: Unix seconds, UTC (fractions are floored); NaN is missing.

:func:`encode` turns conformed rows into that matrix (how the parity gate feeds the reference
rows to the C code), :func:`decode` turns such a matrix back into typed rows for the Polars
executor (how LightGBM's numbers for raw adversarial rows are computed), and
:func:`adversarial_raw` builds those rows: the split values of the model mapped back through
the prep plan, plus missing, infinite, unseen and out-of-range values for every column.

>>> from edgeml.spec.prep_plan import PrepPlan
>>> plan = PrepPlan.from_dict({
...     "columns": [{"name": "c", "dtype": "str", "role": "feature"}],
...     "steps": [{"kind": "categorical", "column": "c", "encoding": "native",
...                "categories": ["a", "b"], "output_names": ["c"]}]})
>>> inputs = raw_inputs(plan)
>>> encode(pl.DataFrame({"c": ["b", None, "z"]}), inputs).ravel().tolist()
[1.0, nan, -1.0]
>>> decode(np.array([[1.0], [-1.0]]), inputs)["c"].to_list()
['b', '\\x00unseen']
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from edgeml.compile._parity import probe_values
from edgeml.errors import ExportError
from edgeml.spec.prep_plan import CategoricalStep, DatePartsStep, NumericStep, PrepPlan, Step

__all__ = ["RawInput", "adversarial_features", "adversarial_raw", "decode", "encode", "raw_inputs"]

Kind = Literal["number", "category", "date", "unused"]
UNSEEN = "\x00unseen"  # decodes a code outside the vocabulary: never a training category
MAX_SECONDS = 9.2e12  # |seconds| beyond this are missing (EDGEML_MAX_SECONDS in edgeml_core.c)
_EPOCH = dt.datetime(1970, 1, 1)
_SECOND = dt.timedelta(seconds=1)
_DEFAULT_STAMP = 1592224200.0  # 2020-06-15 12:30 UTC: the base of date probes without a value
_FIXED_DATES = (0.0, -1.0, -0.5, 86399.5, -2208988800.0, 951782400.0, 253402300799.0,
                -62135596800.0, 1e13, math.inf, -math.inf, math.nan)  # fmt: skip
_K_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold: its predictor reads less as 0
_CATEGORY_FEATURES = (-0.5, -0.999, -1.0, 0.5, 1.5, 2.0**24, 2.0**31, 1e10, -1e-36, math.inf,
                      -math.inf)  # fmt: skip
_NUMERIC_FEATURES = (1e-36, -1e-36, _K_ZERO, -_K_ZERO, float(np.nextafter(_K_ZERO, 1.0)),
                     float(np.nextafter(-_K_ZERO, -1.0)), 5e-324, -0.0)  # fmt: skip
_FIXED_NUMBERS = (0.0, -0.0, 1e-36, -1e-36, 1e300, -1e300, math.inf, -math.inf, math.nan)


@dataclass(frozen=True, kw_only=True)
class RawInput:
    """One input column of the C API: its name, logical dtype, kind and vocabulary."""

    name: str
    dtype: str
    kind: Kind
    categories: tuple[str, ...] = ()


def raw_inputs(plan: PrepPlan) -> list[RawInput]:
    """The C API's inputs in ``input_schema`` order; refuses a column the C core cannot take."""
    steps: dict[str, list[Step]] = {}
    for step in plan.steps:
        steps.setdefault(step.column, []).append(step)
    unknown = sorted(set(steps) - set(plan.input_schema))
    if unknown:
        raise ExportError(f"c export: the prep plan reads {unknown} which are not model inputs")
    inputs = []
    for name, dtype in plan.input_schema.items():
        kinds = {_kind(step) for step in steps.get(name, [])}
        if len(kinds) > 1:
            raise ExportError(f"c export: column {name!r} is both {' and '.join(sorted(kinds))}")
        kind: Kind = kinds.pop() if kinds else "unused"
        vocabularies = {
            tuple(s.categories) for s in steps.get(name, []) if isinstance(s, CategoricalStep)
        }
        if len(vocabularies) > 1:
            raise ExportError(f"c export: column {name!r} has two category vocabularies")
        categories = vocabularies.pop() if vocabularies else ()
        inputs.append(RawInput(name=name, dtype=dtype, kind=kind, categories=categories))
    return inputs


def _kind(step: Step) -> Kind:
    if isinstance(step, NumericStep):
        return "number"
    if isinstance(step, CategoricalStep):
        return "category"
    return "date"


def encode(frame: pl.DataFrame, inputs: list[RawInput]) -> np.ndarray:
    """Conformed rows (``edgeml.data.conform``) as the C API's raw matrix (module docstring)."""
    out = np.full((frame.height, len(inputs)), np.nan)
    for j, spec in enumerate(inputs):
        column = frame[spec.name]
        if spec.kind == "category":
            codes = {c: float(i) for i, c in enumerate(spec.categories)}
            texts = column.cast(pl.String).to_list()
            out[:, j] = [math.nan if t is None else codes.get(t, -1.0) for t in texts]
        elif spec.kind == "date":
            if column.dtype == pl.Date:
                seconds = column.cast(pl.Int64) * 86_400
            else:  # floored to whole seconds: a double holds them exactly
                seconds = column.dt.epoch("us") // 1_000_000
            out[:, j] = seconds.cast(pl.Float64).fill_null(math.nan).to_numpy()
        elif spec.kind == "number":
            out[:, j] = column.cast(pl.Float64).fill_null(math.nan).to_numpy()
    return out


def decode(raw: np.ndarray, inputs: list[RawInput]) -> pl.DataFrame:
    """The C API's raw matrix as typed rows the Polars executor reads as the C core does."""
    columns = []
    for j, spec in enumerate(inputs):
        values = raw[:, j]
        if spec.kind == "category":
            texts = [_category(spec.categories, x) for x in values.tolist()]
            columns.append(pl.Series(spec.name, texts, dtype=pl.String))
        elif spec.kind == "date":
            seconds = [
                math.floor(x) if math.isfinite(x) and abs(x) <= MAX_SECONDS else None
                for x in values.tolist()
            ]
            if spec.dtype == "date":
                days = [None if s is None else s // 86_400 for s in seconds]
                columns.append(pl.Series(spec.name, days, dtype=pl.Int32).cast(pl.Date))
            else:
                micros = [None if s is None else s * 1_000_000 for s in seconds]
                series = pl.Series(spec.name, micros, dtype=pl.Int64)
                columns.append(series.cast(pl.Datetime("us")))
        else:
            columns.append(pl.Series(spec.name, values, dtype=pl.Float64))
    return pl.DataFrame(columns)


def _category(categories: tuple[str, ...], code: float) -> str | None:
    """The category of a code as the C core reads it: NaN missing, a non-code unseen."""
    if code != code:
        return None
    if 0 <= code < len(categories) and code == int(code):
        return categories[int(code)]
    return UNSEEN


def adversarial_raw(
    plan: PrepPlan, inputs: list[RawInput], splits: dict[int, set[float]], base: np.ndarray
) -> np.ndarray:
    """Raw rows probing every split through the prep plan, planted into copies of ``base`` rows.

    ``splits`` maps a feature index to its split values (``_parity.split_values``). Each
    feature-space value is mapped back to the raw value that produces it where the plan can be
    inverted (a scaled value approximately); every column also gets missing, infinite, unseen,
    fractional and out-of-range values, and two rows are all NaN and all 0.
    """
    n_inputs = len(inputs)
    if base.ndim != 2 or not len(base):
        base = np.full((1, n_inputs), np.nan)
    position = {spec.name: j for j, spec in enumerate(inputs)}
    owner: dict[int, tuple[Step, int]] = {}
    index = {name: i for i, name in enumerate(plan.features)}
    for step in plan.steps:
        for k, name in enumerate(step.outputs):
            owner[index[name]] = (step, k)
    probes: list[tuple[int, float]] = []
    for feature, values in sorted(splits.items()):
        if feature in owner:
            step, k = owner[feature]
            column = position[step.column]
            probes += [(column, v) for v in _probes(step, k, sorted(values), base[:, column])]
    for j, spec in enumerate(inputs):
        probes += [(j, v) for v in _fixed(spec)]
    rows = np.repeat(base, math.ceil(len(probes) / len(base)), axis=0)[: len(probes)].copy()
    for r, (column, value) in enumerate(probes):
        rows[r, column] = value
    return np.vstack([rows, np.full((1, n_inputs), np.nan), np.zeros((1, n_inputs))])


def adversarial_features(base: np.ndarray, categorical: set[int]) -> np.ndarray:
    """Feature rows for what prep never produces but the C API's feature entry point accepts.

    Categorical features get fractional, negative, huge and infinite codes (LightGBM truncates
    toward zero: -0.5 is category 0); numeric features get values at and around LightGBM's
    zero threshold. Planted one at a time into copies of ``base`` rows.

    >>> adversarial_features(np.zeros((1, 2)), {1}).shape
    (19, 2)
    """
    n_features = base.shape[1] if base.ndim == 2 else 0
    if base.ndim != 2 or not len(base):
        base = np.zeros((1, n_features))
    probes = [
        (j, value)
        for j in range(n_features)
        for value in (_CATEGORY_FEATURES if j in categorical else _NUMERIC_FEATURES)
    ]
    rows = np.repeat(base, math.ceil(len(probes) / len(base)), axis=0)[: len(probes)].copy()
    for r, (column, value) in enumerate(probes):
        rows[r, column] = value
    return rows


def _probes(step: Step, output: int, values: list[float], column: np.ndarray) -> list[float]:
    """Raw values that land on or beside each split value of one step output."""
    if isinstance(step, NumericStep):
        if output == 1:  # the missing indicator: missing and present
            return [math.nan, 0.0]
        feature = [v for t in values for v in (*probe_values(t), _low_bits_set(t))]
        if step.scale is None:
            return feature
        center, scale = step.scale
        return [v * scale + center for v in feature]
    if isinstance(step, CategoricalStep):
        if step.encoding == "native":
            return values
        if step.encoding == "onehot":
            return [float(output)]
        return [float(c) for c in range(min(len(step.categories), 256))]
    if not isinstance(step, DatePartsStep):
        raise TypeError(f"unknown prep step {step!r}")
    part = step.parts[output]
    known = column[np.isfinite(column) & (np.abs(column) <= MAX_SECONDS)]
    start = float(known[0]) if len(known) else _DEFAULT_STAMP
    found = [_date_with(start, part, math.floor(t) + d) for t in values for d in (0, 1)]
    return [s for s in found if s is not None]


def _low_bits_set(value: float) -> float:
    """``value`` with its low 32 bits all ones: what TL2cgen's ``union Entry`` reads as missing."""
    bits = np.array([value], dtype=np.float64).view(np.uint64) | np.uint64(0xFFFFFFFF)
    return float(bits.view(np.float64)[0])


def _fixed(spec: RawInput) -> tuple[float, ...]:
    if spec.kind == "category":
        n = float(len(spec.categories))
        return (math.nan, -1.0, n, n - 1, 0.0, 0.5, -0.5, 1e10, math.inf, -math.inf)
    if spec.kind == "date":
        return _FIXED_DATES
    return _FIXED_NUMBERS


def _date_with(seconds: float, part: str, value: int) -> float | None:
    """Unix seconds of ``seconds`` with one calendar part set to ``value`` (None if invalid)."""
    stamp = _EPOCH + math.floor(seconds) * _SECOND
    try:
        if part == "year":
            stamp = stamp.replace(year=value)
        elif part == "month":
            stamp = stamp.replace(month=value)
        elif part == "day":
            stamp = stamp.replace(day=value)
        elif part == "hour":
            stamp = stamp.replace(hour=value)
        elif part == "minute":
            stamp = stamp.replace(minute=value)
        elif part == "weekday":
            stamp += (value - stamp.isoweekday()) * dt.timedelta(days=1)
        else:  # day_of_year
            stamp = stamp.replace(month=1, day=1) + (value - 1) * dt.timedelta(days=1)
    except (ValueError, OverflowError):
        return None
    return float((stamp - _EPOCH) // _SECOND)
