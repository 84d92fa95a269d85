"""The PrepPlan as ONNX nodes: raw input columns in, the model's feature matrix out.

Graph inputs, one per column of the plan's input schema, each of shape ``[N, 1]``:

- ``float``/``int``/``bool`` columns: ``tensor(double)``, booleans as 0/1, NaN for missing;
- ``str`` columns: ``tensor(string)``, :data:`MISSING_TEXT` ("␀", U+2400) for missing.
  The empty string is a value like any other (Polars keeps ``""`` apart from null), which is
  why missing needs a sentinel of its own;
- ``date``/``datetime`` columns: ``tensor(double)`` seconds since 1970-01-01 (naive UTC), NaN
  for missing. The calendar reads ``floor(seconds)``: whole seconds are exact for any date, and
  a fraction must not round up to the next second (far from 1970 a double has no room for
  microseconds; the runtime's ``seconds_from_micros`` takes care of it).

The arithmetic is the other executors', operation for operation, so the features are
bit-identical to Polars' (the export asserts it):

- numeric steps, all in one ``[N, k]`` block: ``Min``/``Max`` to the clip fences, then
  ``(x - center) * (1 / scale)`` — ``Sub`` then ``Mul`` by the inverse, as Polars and NumPy do —
  then ``Where(IsNaN(raw), impute, value)``; the missing indicator is ``Cast(IsNaN(raw))``;
- categorical steps: ``LabelEncoder`` (string → double) for native codes (unseen/missing → NaN)
  and frequencies (→ 0.0); one-hot is ``Equal`` of the text against the ``[1, K]`` vocabulary,
  cast to double (unseen/missing → all zeros). A missing value takes the imputed category;
- date parts, all date columns in one block: civil-from-days (H. Hinnant's algorithm) in int64
  arithmetic on ``floor(seconds)``, so year, month, day, weekday (Monday = 1), day of year,
  hour and minute equal Polars' ``dt.*`` for every proleptic Gregorian date.

>>> from edgeml.spec.prep_plan import PrepPlan
>>> from edgeml.compile._onnx_graph import GraphBuilder
>>> plan = PrepPlan.from_dict({"columns": [{"name": "x", "dtype": "float", "role": "feature"}],
...     "steps": [{"kind": "numeric", "column": "x", "output": "x", "impute": 0.5}]})
>>> g = GraphBuilder()
>>> inputs, features = add_prep(g, plan, output="features")
>>> [i.name for i in inputs], [n.op_type for n in g.nodes]
(['x'], ['IsNaN', 'Where', 'Identity'])
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from edgeml.compile._onnx_graph import ML_DOMAIN, PREFIX, GraphBuilder, column_input
from edgeml.errors import ExportError
from edgeml.runtime import MISSING_TEXT
from edgeml.spec.prep_plan import CategoricalStep, DatePartsStep, NumericStep, PrepPlan, input_types

__all__ = ["MISSING_TEXT", "add_prep"]

RESERVED = ("prediction", "features")  # the graph's output names
# Beyond ±2^50 s (35 million years) a value is no date Polars can hold, and int64 arithmetic on
# it could overflow: such values (and ±inf) are treated as missing.
_DATE_LIMIT = 2.0**50

Block = tuple[str, list[str | None]]  # a [N, k] value and the feature each column is (or None)


def add_prep(
    g: GraphBuilder, plan: PrepPlan, *, output: str
) -> tuple[list[onnx.ValueInfoProto], str]:
    """Add the plan's steps to ``g``; return the graph inputs and the ``[N, F]`` feature output."""
    schema = plan.input_schema
    for name in schema:
        if not name or name.startswith(PREFIX) or name in RESERVED:
            raise ExportError(
                f"column {name!r} cannot be an ONNX graph input: the names "
                f"{', '.join(map(repr, RESERVED))}, the empty name and names starting with "
                f"{PREFIX!r} are taken by the graph (rename the column and retrain)"
            )
    features = plan.features
    if not features:
        raise ExportError("the prep plan yields no features: nothing to export")
    if len(set(features)) != len(features):
        raise ExportError(f"the prep plan's feature names are not unique: {features}")
    inputs = [
        column_input(name, TensorProto.STRING if dtype == "str" else TensorProto.DOUBLE)
        for name, dtype in schema.items()
    ]
    numeric = [s for s in plan.steps if isinstance(s, NumericStep)]
    dates = [s for s in plan.steps if isinstance(s, DatePartsStep)]
    for step in plan.steps:
        _check_type(step, schema)
    blocks: list[Block] = []
    if numeric:
        blocks += _numeric(g, numeric)
    for step in plan.steps:
        if isinstance(step, CategoricalStep):
            blocks.append(_categorical(g, step))
    if dates:
        blocks += _dates(g, dates)
    return inputs, _assemble(g, blocks, features, output)


def _check_type(
    step: NumericStep | CategoricalStep | DatePartsStep, schema: dict[str, str]
) -> None:
    allowed = input_types(step)
    if schema.get(step.column) not in allowed:
        raise ExportError(
            f"prep plan: a {step.kind} step reads column {step.column!r} of type "
            f"{schema.get(step.column)!r}; expected one of: {', '.join(allowed)}"
        )


def _concat(g: GraphBuilder, columns: list[str], hint: str) -> str:
    return columns[0] if len(columns) == 1 else g.op("Concat", columns, hint, axis=1)


def _row(values: list[float] | list[bool], dtype: type) -> np.ndarray:
    return np.array(values, dtype=dtype).reshape(1, -1)


def _numeric(g: GraphBuilder, steps: list[NumericStep]) -> list[Block]:
    x = _concat(g, [s.column for s in steps], "numeric_raw")
    missing = g.op("IsNaN", [x], "numeric_missing")
    value = x
    clips = [s.clip if s.clip is not None else (-np.inf, np.inf) for s in steps]
    if any(s.clip is not None for s in steps):
        # No clip is clipping to ±inf: every float, infinities included, stays as it is.
        hi = g.const(_row([float(c[1]) for c in clips], np.float64), "clip_hi")
        lo = g.const(_row([float(c[0]) for c in clips], np.float64), "clip_lo")
        value = g.op("Max", [g.op("Min", [value, hi], "clip_min"), lo], "clipped")
    scales = [s.scale if s.scale is not None else (0.0, 1.0) for s in steps]
    inverses = [1.0 / float(scale) for _, scale in scales]
    if any(s.scale is not None for s in steps):
        # (x - center) * (1 / scale): the multiplication by the inverse that Polars, NumPy and
        # C do; (x - 0.0) * 1.0 leaves an unscaled column bit-for-bit as it is.
        center = g.const(_row([float(c) for c, _ in scales], np.float64), "center")
        inverse = g.const(_row(inverses, np.float64), "inverse")
        value = g.op("Mul", [g.op("Sub", [value, center], "centered"), inverse], "scaled")
    if any(s.clip is not None or s.impute is not None for s in steps):
        # After Min/Max a NaN may have become a fence: restore missing (or the imputed value,
        # scaled as the other executors scale it) from the raw value's mask.
        if_missing = [
            np.nan if s.impute is None else (float(s.impute) - float(c)) * inv
            for s, (c, _), inv in zip(steps, scales, inverses, strict=True)
        ]
        fill = g.const(_row(if_missing, np.float64), "if_missing")
        value = g.op("Where", [missing, fill, value], "numeric")
    blocks: list[Block] = [(value, [s.output for s in steps])]
    flagged = [i for i, s in enumerate(steps) if s.missing_indicator]
    if flagged:
        picked = g.op(
            "Gather",
            [missing, g.const(np.array(flagged, dtype=np.int64), "flagged")],
            "flags",
            axis=1,
        )
        flags = g.op("Cast", [picked], "indicators", to=TensorProto.DOUBLE)
        blocks.append((flags, [steps[i].missing_indicator for i in flagged]))
    return blocks


def _categorical(g: GraphBuilder, step: CategoricalStep) -> Block:
    if MISSING_TEXT in step.categories:
        raise ExportError(
            f"column {step.column!r}: a category equals the ONNX missing-value marker "
            f"{MISSING_TEXT!r}, so missing and that category could not be told apart"
        )
    if step.encoding == "onehot":
        if len(step.output_names) != len(step.categories):
            raise ExportError(
                f"prep plan: column {step.column!r} has {len(step.categories)} categories but "
                f"{len(step.output_names)} one-hot outputs"
            )
        text = step.column
        if step.impute is not None:
            is_missing = g.op(
                "Equal",
                [text, g.const(np.array(MISSING_TEXT, dtype=object), "missing")],
                "is_missing",
            )
            imputed = g.const(np.array(step.impute, dtype=object), "imputed")
            text = g.op("Where", [is_missing, imputed, text], "text")
        vocabulary = g.const(np.array(step.categories, dtype=object).reshape(1, -1), "vocabulary")
        hot = g.op("Equal", [text, vocabulary], "hot")
        return g.op("Cast", [hot], "onehot", to=TensorProto.DOUBLE), list(step.output_names)
    if len(step.output_names) != 1:
        raise ExportError(
            f"prep plan: column {step.column!r} ({step.encoding}) needs one output, "
            f"has {step.output_names}"
        )
    if step.encoding == "frequency":
        if len(step.frequencies) != len(step.categories):
            raise ExportError(
                f"prep plan: column {step.column!r} has {len(step.categories)} categories but "
                f"{len(step.frequencies)} frequencies"
            )
        table = {c: float(f) for c, f in zip(step.categories, step.frequencies, strict=True)}
        default = 0.0  # Polars' replace_strict default, for unseen and missing alike
    else:
        # A dict, as Polars and NumPy build it: a repeated category keeps its last index.
        table = {c: float(i) for i, c in enumerate(step.categories)}
        default = np.nan
    # The marker is always a key, which also keeps the key list non-empty.
    table[MISSING_TEXT] = table.get(step.impute, default) if step.impute is not None else default
    encoded = g.op(
        "LabelEncoder",
        [step.column],
        step.encoding,
        domain=ML_DOMAIN,
        keys_strings=list(table),
        values_tensor=helper.make_tensor(
            "values", TensorProto.DOUBLE, [len(table)], list(table.values())
        ),
        default_tensor=helper.make_tensor("default", TensorProto.DOUBLE, [1], [default]),
    )
    return encoded, list(step.output_names)


_PARTS = ("year", "month", "day", "weekday", "day_of_year", "hour", "minute")
# Seconds are shifted by OFFSET_DAYS whole days before any division, so every dividend is
# non-negative and ONNX's truncating integer Div is a floor division. The shift is a whole
# number of 400-year eras (146097 days, itself a whole number of weeks), so month, day, weekday
# and time of day do not move, and the year moves by exactly 400 * _OFFSET_ERAS. It exceeds
# _DATE_LIMIT, so every accepted date stays non-negative; the largest shifted value (~2.4e15)
# is far inside int64.
_OFFSET_ERAS = 100_000
_OFFSET_DAYS = 146_097 * _OFFSET_ERAS


def _dates(g: GraphBuilder, steps: list[DatePartsStep]) -> list[Block]:
    for step in steps:
        unknown = [p for p in step.parts if p not in _PARTS]
        if unknown or len(step.parts) != len(step.output_names):
            raise ExportError(
                f"prep plan: column {step.column!r} has date parts {step.parts} for outputs "
                f"{step.output_names}; parts must be among: {', '.join(_PARTS)}"
            )
    stamps = _concat(g, [s.column for s in steps], "dates_raw")
    limit = g.const(np.array(_DATE_LIMIT), "date_limit")
    known = g.op("Less", [g.op("Abs", [stamps], "abs_seconds"), limit], "date_known")
    safe = g.op("Where", [known, stamps, g.const(np.array(0.0), "zero")], "safe_seconds")
    seconds = g.op(
        "Cast", [g.op("Floor", [safe], "floor_seconds")], "seconds", to=TensorProto.INT64
    )
    shifted = g.op(
        "Add", [seconds, g.const(np.array(_OFFSET_DAYS * 86_400), "offset")], "shifted_seconds"
    )
    wanted = [p for p in _PARTS if any(p in s.parts for s in steps)]
    parts = _calendar(g, shifted, set(wanted))
    # One Concat, Cast and Add for all parts: + 0.0 keeps a part, + NaN marks it missing.
    values = _concat(g, [parts[p] for p in wanted], "date_parts_int")
    as_double = g.op("Cast", [values], "date_parts_double", to=TensorProto.DOUBLE)
    nan = g.const(np.array(np.nan), "nan")
    blank = g.op("Where", [known, g.const(np.array(0.0), "zero"), nan], "date_blank")
    blanks = _concat(g, [blank] * len(wanted), "date_blanks")
    block = g.op("Add", [as_double, blanks], "date_parts")
    names: list[str | None] = [
        s.output_names[s.parts.index(part)] if part in s.parts else None
        for part in wanted
        for s in steps
    ]
    return [(block, names)]


def _calendar(g: GraphBuilder, shifted: str, wanted: set[str]) -> dict[str, str]:
    """Int64 calendar parts of whole seconds since 1970 plus ``_OFFSET_DAYS`` days.

    Days to civil date is H. Hinnant's ``civil_from_days``: 400-year eras of 146097 days
    counted from 0000-03-01, so that the leap day ends the (March-based) year.
    """

    def k(value: int) -> str:
        return g.const(np.array(value, dtype=np.int64), "k")

    def op(op_type: str, a: str, b: str) -> str:
        return g.op(op_type, [a, b], op_type.lower())

    parts: dict[str, str] = {}
    if "hour" in wanted:
        parts["hour"] = op("Div", op("Mod", shifted, k(86_400)), k(3_600))
    if "minute" in wanted:
        parts["minute"] = op("Div", op("Mod", shifted, k(3_600)), k(60))
    if not wanted & {"year", "month", "day", "weekday", "day_of_year"}:
        return parts
    days = op("Div", shifted, k(86_400))
    if "weekday" in wanted:
        # 1970-01-01 was a Thursday (4 with Monday = 1)
        parts["weekday"] = op("Add", op("Mod", op("Add", days, k(3)), k(7)), k(1))
    z = op("Add", days, k(719_468))  # days since 0000-03-01 (+ the offset)
    era = op("Div", z, k(146_097))
    doe = op("Mod", z, k(146_097))  # day of era, [0, 146096]
    yoe = op(  # year of era, [0, 399]: (doe - doe/1460 + doe/36524 - doe/146096) / 365
        "Div",
        op(
            "Sub",
            op("Add", op("Sub", doe, op("Div", doe, k(1_460))), op("Div", doe, k(36_524))),
            op("Div", doe, k(146_096)),
        ),
        k(365),
    )
    year_days = op(
        "Sub", op("Add", op("Mul", yoe, k(365)), op("Div", yoe, k(4))), op("Div", yoe, k(100))
    )
    doy = op("Sub", doe, year_days)  # day of the year starting 1 March, [0, 365]
    mp = op("Div", op("Add", op("Mul", doy, k(5)), k(2)), k(153))  # month from March, [0, 11]
    january_or_february = g.op("GreaterOrEqual", [mp, k(10)], "jan_feb")
    march_year = op("Add", op("Mul", era, k(400)), k(-400 * _OFFSET_ERAS))
    year = op(
        "Add",
        op("Add", yoe, march_year),
        g.op("Cast", [january_or_february], "jan_feb_int", to=TensorProto.INT64),
    )
    parts["year"] = year
    parts["month"] = op("Add", op("Mod", op("Add", mp, k(2)), k(12)), k(1))
    parts["day"] = op(
        "Add", op("Sub", doy, op("Div", op("Add", op("Mul", mp, k(153)), k(2)), k(5))), k(1)
    )
    if "day_of_year" in wanted:
        zero = k(0)

        def divisible(by: int) -> str:
            # Mod takes the divisor's sign, so this holds for years before 0 too
            return g.op("Equal", [op("Mod", year, k(by)), zero], f"by_{by}")

        leap = g.op(
            "Or",
            [
                g.op(
                    "And", [divisible(4), g.op("Not", [divisible(100)], "not_100")], "by_4_not_100"
                ),
                divisible(400),
            ],
            "leap",
        )
        leap_day = g.op("Cast", [leap], "leap_int", to=TensorProto.INT64)
        # 1 March is day 60 (61 in a leap year); January and February end the March year
        from_march = op("Add", op("Add", doy, k(60)), leap_day)
        parts["day_of_year"] = g.op(
            "Where", [january_or_february, op("Sub", doy, k(305)), from_march], "day_of_year"
        )
    return parts


def _assemble(g: GraphBuilder, blocks: list[Block], features: list[str], output: str) -> str:
    names: list[str | None] = [name for _, columns in blocks for name in columns]
    matrix = _concat(g, [value for value, _ in blocks], "all_features")
    position: dict[str, int] = {}
    for i, name in enumerate(names):
        if name is not None:
            position.setdefault(name, i)
    missing = [f for f in features if f not in position]
    if missing:
        raise ExportError(f"prep plan: no step yields feature(s) {missing}")
    order = [position[f] for f in features]
    if order == list(range(len(names))):
        return g.op("Identity", [matrix], "features", output=output)
    index = g.const(np.array(order, dtype=np.int64), "feature_order")
    return g.op("Gather", [matrix, index], "features", output=output, axis=1)
