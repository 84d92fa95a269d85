"""The NumPy runtime executor gives the Polars executor's numbers, row by row and in batches.

The reference is always ``to_matrix(apply_prep(plan, conform(frame, plan.input_schema)))`` on the
same rows; a value the reference refuses (SchemaError) must be refused by the runtime too.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from edgeml.config import PrepConfig
from edgeml.data import conform, read_data
from edgeml.errors import BundleError, SchemaError
from edgeml.prep import PrepPlan, apply_prep, fit_prep, to_matrix
from edgeml.runtime import RuntimePrep
from edgeml.runtime._schema import to_datetime, to_number, to_text
from edgeml.spec.manifest import Manifest
from edgeml.spec.prep_plan import PrepPlan as RuntimePlan
from tests.conftest import shared

UTC = dt.UTC
REFUSED = "SchemaError"

# -- helpers -------------------------------------------------------------------------------------


def compiled(plan: PrepPlan) -> RuntimePrep:
    """The runtime executor of ``plan`` as a bundle stores it (JSON, no NaN)."""
    stored = json.loads(json.dumps(plan.to_dict(), allow_nan=False))
    return RuntimePrep(RuntimePlan.from_dict(stored))


def reference(plan: PrepPlan, frame: pl.DataFrame) -> np.ndarray:
    return to_matrix(apply_prep(plan, conform(frame, plan.input_schema, source="test")))


def series_of(name: str, value: Any) -> pl.Series:
    """A one-value column as Polars types it (NumPy scalars through a NumPy array)."""
    if isinstance(value, np.generic):
        return pl.Series(name, np.array([value]))
    return pl.Series(name, [value])


def complete_rows(plan: PrepPlan, frame: pl.DataFrame) -> pl.DataFrame:
    """Conformed rows of ``frame`` with no missing input: the companions of a checked row.

    Polars computes ``(x - c) / s`` as ``(x - c) * (1 / s)`` on a column, but as a true division
    when the column is a scalar (one value, or all missing, or all equal), which can differ in the
    last bit. Training and batch prediction see columns, so a checked row goes in beside rows
    that make every column vary.
    """
    rows = conform(frame, plan.input_schema, source="test")
    numeric = [c for c, t in plan.input_schema.items() if t in ("float", "int", "bool")]
    complete = rows.filter(
        pl.all_horizontal(pl.all().is_not_null()),
        *[pl.col(c).cast(pl.Float64).is_not_nan() for c in numeric],
    )
    first = complete.row(0, named=True)
    companions = pl.concat(
        [complete.head(1), *[complete.filter(pl.col(c) != first[c]).head(1) for c in first]]
    )
    assert all(companions[c].n_unique() > 1 for c in companions.columns)
    return companions


def reference_row(
    plan: PrepPlan, row: Mapping[str, Any], companions: pl.DataFrame
) -> np.ndarray | str | None:
    """Polars' features for one row, REFUSED if conform refuses it, None if Polars cannot even
    hold one of the values (no reference to compare with)."""
    try:
        frame = pl.DataFrame([series_of(c, row[c]) for c in plan.input_schema])
    except (OverflowError, TypeError, ValueError):
        return None
    try:
        conformed = conform(frame, plan.input_schema, source="test")
    except SchemaError:
        return REFUSED
    return to_matrix(apply_prep(plan, pl.concat([conformed, companions]).rechunk()))[0]


def runtime_row(prep: RuntimePrep, row: Mapping[str, Any]) -> np.ndarray | str:
    try:
        return prep.transform_row(row)
    except SchemaError:
        return REFUSED


def assert_same_outcome(
    plan: PrepPlan, prep: RuntimePrep, row: Mapping[str, Any], companions: pl.DataFrame
) -> None:
    expected = reference_row(plan, row, companions)
    if expected is None:
        return
    got = runtime_row(prep, row)
    if isinstance(expected, str) or isinstance(got, str):
        assert got == expected, f"row {row!r}: runtime {got!r}, Polars {expected!r}"
    else:
        np.testing.assert_array_equal(got, expected, err_msg=f"row {row!r}")


def columns_of(frame: pl.DataFrame, how: str) -> Any:
    if how == "lists":
        return {c: frame[c].to_list() for c in frame.columns}
    if how == "arrays":
        return {c: frame[c].to_numpy() for c in frame.columns}
    # one 2-D object array in input-schema order
    return np.array(frame.rows(), dtype=object).reshape(frame.height, frame.width)


# Values that stress conversion, by the logical type of the column they are sent to.
ADVERSARIAL_COMMON = [None, "", "   ", "\t", "abc", [1], b"raw", dt.timedelta(1)]
ADVERSARIAL: dict[str, list[Any]] = {
    "float": [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 7, True,
              np.float32(0.1), np.int8(-3), np.bool_(False), " 2.5 ", "1e3", "nan", "-inf",
              "1_000", "0x10", "1,5", dt.date(2020, 1, 1), 2**64, 2**70],
    "int": [math.nan, math.inf, 1.0, 1.5, -0.0, 2.0**63, -(2.0**63), 2**63 - 1, 2**63, False,
            np.uint64(2**64 - 1), " 3 ", "1e3", "4.5", "nan", "+7", "007"],
    "bool": [True, False, 1, 0, 2, 1.0, 0.0, 0.5, math.nan, "yes", "No", " TRUE ", "t", "F",
             "1", "0", "maybe", np.bool_(True)],
    "str": [math.nan, 1.0, 1e-05, 2.5e-7, 1e16, -0.0, 7, True, np.float32(0.1), np.str_("x"),
            "unseen", " padded ", dt.date(2020, 1, 5), dt.datetime(2020, 1, 5, 3, 4, 5)],
    "date": [dt.date(2020, 2, 29), dt.datetime(2020, 1, 5, 23, 30, tzinfo=dt.timezone(
             dt.timedelta(hours=-2))), "2020-01-05", "2020-1-5", "2020-01-05T03:04:05Z",
             "2020-01-05 23:30:00-02:00", "2020-02-30", "05/01/2020", 5, 1.5, True,
             np.datetime64("2021-03-04"), np.datetime64("NaT")],
    "datetime": [dt.datetime(1969, 12, 31, 23, 59, 59, 999999), dt.date(2020, 1, 5),
                 dt.datetime(2020, 1, 5, 3, 4, tzinfo=UTC), "2020-01-05T03:04",
                 "2020-01-05 03:04:05.123456789", "2020-01-05T03:04:05+05:30",
                 "2020-12-31T23:59:60", "2020-01-05T24:00", "1e3", 3,
                 np.datetime64("2020-01-05T03:04:05.123456789"), np.datetime64("NaT", "ns")],
}  # fmt: skip


def check_adversarial(plan: PrepPlan, prep: RuntimePrep, frame: pl.DataFrame) -> None:
    """Each adversarial value in (up to three) columns of each type, the rest a complete row."""
    companions = complete_rows(plan, frame)
    base = companions.row(0, named=True)
    by_type: dict[str, list[str]] = {}
    for column, logical in plan.input_schema.items():
        by_type.setdefault(logical, []).append(column)
    for logical, columns in by_type.items():
        for column, value in itertools.product(
            columns[:3], ADVERSARIAL_COMMON + ADVERSARIAL[logical]
        ):
            assert_same_outcome(plan, prep, {**base, column: value}, companions)


# -- a synthetic frame exercising every step kind and option ------------------------------------


def synthetic(n: int = 400, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 3, n)
    x[rng.random(n) < 0.05] = np.nan
    x[:3] = [500.0, -400.0, 1e6]  # outliers beyond the fences
    k = rng.integers(0, 50, n).astype(object)
    k[rng.random(n) < 0.05] = None
    k[3] = 10_000
    flag = rng.choice([True, False], n).astype(object)
    flag[rng.random(n) < 0.1] = None
    color = rng.choice(["red", "green", "blue", "cyan", "plum"], n, p=[0.4, 0.3, 0.2, 0.07, 0.03])
    color = color.astype(object)
    color[rng.random(n) < 0.08] = None
    days = rng.integers(0, 900, n)
    day = [None if d % 17 == 0 else dt.date(2019, 1, 1) + dt.timedelta(days=int(d)) for d in days]
    stamp = [
        None if s % 13 == 0 else dt.datetime(2020, 3, 1) + dt.timedelta(minutes=int(s) * 97)
        for s in rng.integers(0, 20_000, n)
    ]
    return pl.DataFrame(
        {
            "x": x,
            "k": pl.Series(k.tolist(), dtype=pl.Int64),
            "flag": pl.Series(flag.tolist(), dtype=pl.Boolean),
            "color": pl.Series(color.tolist(), dtype=pl.String),
            "ratio": rng.uniform(0, 1, n),
            "day": pl.Series(day, dtype=pl.Date),
            "stamp": pl.Series(stamp, dtype=pl.Datetime("us")),
        }
    )


CONFIGS = {
    "default": PrepConfig(),
    "mean-indicators-standard-onehot": PrepConfig(
        impute="mean", missing_indicators=True, scaling="standard", encoding="onehot"
    ),
    "median-clip-minmax-frequency": PrepConfig(
        impute="median", outliers="clip", scaling="minmax", encoding="frequency"
    ),
    "mode-robust-native-cut": PrepConfig(impute="mode", scaling="robust", max_categories=3),
    "constant-indicators-clip-onehot-cut": PrepConfig(
        impute="constant", impute_value=-1.5, missing_indicators=True, outliers="clip",
        encoding="onehot", max_categories=2,
    ),
    "drop-frequency-indicators": PrepConfig(
        outliers="drop", encoding="frequency", missing_indicators=True
    ),
}  # fmt: skip


@pytest.fixture(scope="module", params=list(CONFIGS))
def fitted(request: pytest.FixtureRequest) -> tuple[PrepPlan, RuntimePrep, pl.DataFrame]:
    frame = synthetic()
    plan = fit_prep(frame, config=CONFIGS[request.param])
    return plan, compiled(plan), frame


def test_synthetic_plans_exercise_every_step_kind():
    kinds: set[str] = set()
    for config in CONFIGS.values():
        plan = fit_prep(synthetic(), config=config)
        # a column of whole numbers is read as float (PrepPlan.input_schema)
        assert {c.dtype for c in plan.columns if c.role == "feature"} == set(ADVERSARIAL)
        assert set(plan.input_schema.values()) == set(ADVERSARIAL) - {"int"}
        for step in plan.steps:
            kinds.add(step.kind)
            if step.kind == "numeric":
                kinds |= {f"clip={step.clip is not None}", f"impute={step.impute is not None}",
                          f"scale={step.scale is not None}",
                          f"indicator={step.missing_indicator is not None}"}  # fmt: skip
            elif step.kind == "categorical":
                kinds |= {step.encoding, f"cat-impute={step.impute is not None}"}
            else:
                kinds |= set(step.parts)
    assert kinds >= {
        "numeric", "categorical", "date_parts", "native", "onehot", "frequency",
        "clip=True", "impute=True", "scale=True", "indicator=True", "cat-impute=True",
        "year", "month", "day", "weekday", "day_of_year", "hour", "minute",
    }  # fmt: skip


@pytest.mark.parametrize("how", ["lists", "arrays", "matrix"])
def test_synthetic_batch_parity(fitted, how):
    plan, prep, frame = fitted
    rows = frame.select(list(plan.input_schema))
    got = prep.transform(columns_of(rows, how))
    assert got.dtype == np.float64 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, reference(plan, frame))


def test_synthetic_row_parity(fitted):
    plan, prep, frame = fitted
    expected = reference(plan, frame)
    for i, row in enumerate(frame.rows(named=True)):
        np.testing.assert_array_equal(prep.transform_row(row), expected[i], err_msg=f"row {i}")


def test_text_found_as_is_and_text_converted_give_the_same_batch(fitted):
    """A list of category texts is looked up as it is when every value is found so; one odd
    value (padded, unseen, missing, not text) sends the column through the conversion. Either
    way the batch equals its rows one by one, and an unhashable value is refused by its row."""
    plan, prep, frame = fitted
    rows = frame.select(list(plan.input_schema)).head(40)
    columns = columns_of(rows, "lists")
    texts = [c for c, logical in plan.input_schema.items() if logical == "str"]
    assert texts and prep._as_is >= set(texts)
    for column in texts:
        known = [v for v in columns[column] if v is not None]
        for odd in (None, f" {known[0]} ", "never seen", math.nan, 7, True, known[0]):
            batch = {**columns, column: [*columns[column][:-1], odd]}
            one_by_one = [prep.transform_row({c: batch[c][i] for c in batch}) for i in range(40)]
            np.testing.assert_array_equal(prep.transform(batch), np.vstack(one_by_one))
            as_tuple = {**batch, column: tuple(batch[column])}
            np.testing.assert_array_equal(prep.transform(as_tuple), np.vstack(one_by_one))
        with pytest.raises(SchemaError, match=rf"column '{column}' row 2: "):
            prep.transform({**columns, column: [known[0], ["a list"], *columns[column][2:]]})


def test_synthetic_adversarial_values(fitted):
    plan, prep, frame = fitted
    check_adversarial(plan, prep, frame)


def test_row_features_and_schema_follow_the_plan(fitted):
    plan, prep, _ = fitted
    assert list(prep.features) == plan.features
    assert prep.input_schema == plan.input_schema
    assert prep.transform_row(dict.fromkeys(plan.input_schema)).shape == (len(plan.features),)


# -- the real datasets ---------------------------------------------------------------------------

DATASETS = {
    "diamonds": "price",
    "telco_churn": "churn",
    "hpc_jobs": "class",
    "cells": "class",
    "chicago_ridership": "ridership",
}


@pytest.fixture(scope="module", params=list(DATASETS))
def real(request: pytest.FixtureRequest) -> tuple[PrepPlan, RuntimePrep, pl.DataFrame]:
    target = DATASETS[request.param]
    frame = read_data(shared(f"{request.param}.csv"), keep_raw=[target]).frame
    plan = fit_prep(frame, roles={target: "target"})
    return plan, compiled(plan), frame


@pytest.mark.parametrize("how", ["lists", "arrays", "matrix"])
def test_real_batch_parity(real, how):
    plan, prep, frame = real
    rows = frame.select(list(plan.input_schema))
    np.testing.assert_array_equal(prep.transform(columns_of(rows, how)), reference(plan, frame))


def test_real_row_parity_on_a_sample(real):
    plan, prep, frame = real
    sample = frame.sample(n=min(300, frame.height), seed=1)
    expected = reference(plan, sample)
    for i, row in enumerate(sample.rows(named=True)):
        np.testing.assert_array_equal(prep.transform_row(row), expected[i], err_msg=f"row {i}")


def test_real_rows_as_raw_text_match(real):
    """Rows as a service receives them (every value a string) give the typed rows' features."""
    plan, prep, frame = real
    sample = frame.select(list(plan.input_schema)).head(50)
    expected = reference(plan, sample)
    for i, row in enumerate(sample.rows(named=True)):
        text = {c: None if v is None else _as_text(v) for c, v in row.items()}
        for column, logical in plan.input_schema.items():
            if logical == "str":
                text[column] = row[column]  # text columns are kept exactly as given
        np.testing.assert_array_equal(prep.transform_row(text), expected[i], err_msg=f"row {i}")


def _as_text(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


def test_real_adversarial_values(real):
    plan, prep, frame = real
    check_adversarial(plan, prep, frame)


# -- errors --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_plan() -> tuple[PrepPlan, RuntimePrep, pl.DataFrame]:
    frame = synthetic()
    plan = fit_prep(frame)
    return plan, compiled(plan), frame


def test_wrong_type_names_column_and_value(default_plan):
    _, prep, frame = default_plan
    row = frame.row(0, named=True)
    with pytest.raises(SchemaError, match=r"column 'x': cannot convert 'abc' to float"):
        prep.transform_row({**row, "x": "abc"})
    with pytest.raises(SchemaError, match=r"column 'k': cannot convert 'many' to float"):
        prep.transform_row({**row, "k": "many"})
    with pytest.raises(SchemaError, match=r"column 'day': cannot convert 5 \(int\) to date"):
        prep.transform_row({**row, "day": 5})


def test_a_fraction_in_a_column_of_whole_numbers_is_a_number_everywhere(default_plan):
    # A split can leave every decimal of a column in the rows to predict: training saw counts,
    # and 2.5 must still be read (as plain LightGBM would), the same way by every executor.
    plan, prep, frame = default_plan
    assert {c.name: c.dtype for c in plan.columns}["k"] == "int"
    assert plan.input_schema["k"] == "float"
    rows = frame.head(3).with_columns(pl.Series("k", [2.5, -0.25, 7.75]))
    expected = reference(plan, rows)
    for i, row in enumerate(rows.iter_rows(named=True)):
        np.testing.assert_array_equal(prep.transform_row(row), expected[i])
    np.testing.assert_array_equal(prep.transform(rows.to_dict(as_series=False)), expected)
    as_text = rows.with_columns(pl.col("k").cast(pl.String))
    np.testing.assert_array_equal(reference(plan, as_text), expected)
    whole = reference(plan, rows.with_columns(pl.Series("k", [2, 0, 8])))
    assert not np.array_equal(whole, expected)


def test_missing_columns_are_all_named_and_extra_keys_ignored(default_plan):
    _, prep, frame = default_plan
    row = frame.row(0, named=True)
    partial = {k: v for k, v in row.items() if k not in ("x", "stamp")}
    with pytest.raises(SchemaError, match=r"lacks column\(s\) 'x', 'stamp'; the model needs: x,"):
        prep.transform_row(partial)
    with pytest.raises(SchemaError, match=r"lacks column\(s\) 'x', 'stamp'"):
        prep.transform({k: [v] for k, v in partial.items()})
    extra = {**row, "unused": object(), "another": "x"}
    np.testing.assert_array_equal(prep.transform_row(extra), prep.transform_row(row))


def test_batch_errors_name_column_and_row(default_plan):
    _, prep, frame = default_plan
    columns = {c: frame[c].head(4).to_list() for c in frame.columns}
    with pytest.raises(SchemaError, match=r"column 'x' row 3: cannot convert 'abc' to float"):
        prep.transform({**columns, "x": [1.0, 2.0, "abc", 4.0]})
    with pytest.raises(SchemaError, match=r"column 'k' row 2: cannot convert 'many' to float"):
        prep.transform({**columns, "k": [1, "many", 3, 4]})
    with pytest.raises(SchemaError, match=r"column 'flag' row 1: cannot convert 2 to bool"):
        prep.transform({**columns, "flag": np.array([2, 1, 0, 1])})
    with pytest.raises(SchemaError, match=r"columns differ in length: 'x' has 3"):
        prep.transform({**columns, "x": [1.0, 2.0, 3.0]})
    with pytest.raises(SchemaError, match=r"column 'x': expected a sequence of values, got float"):
        prep.transform({**columns, "x": 1.0})
    with pytest.raises(SchemaError, match=r"2-D with 7 columns"):
        prep.transform(np.zeros((2, 3)))


def test_empty_batch(default_plan):
    plan, prep, frame = default_plan
    out = prep.transform({c: [] for c in frame.columns})
    assert out.shape == (0, len(plan.features))


def test_manifest_checks(default_plan):
    plan, _, _ = default_plan
    manifest = {"schema_version": 2, "task": "regression", "target": {"name": "y"},
                "model": {"file": "model.txt"}, "prep": plan.to_dict(),
                "features": {"model": plan.features}}  # fmt: skip
    typed = Manifest.from_dict(manifest)
    assert RuntimePrep.from_manifest(typed).features == tuple(plan.features)
    with pytest.raises(BundleError, match="but the model expects"):
        RuntimePrep.from_manifest(Manifest.from_dict({**manifest, "features": {"model": ["z"]}}))
    with pytest.raises(BundleError, match="manifest has no 'prep'"):
        Manifest.from_dict({k: v for k, v in manifest.items() if k != "prep"})
    broken = plan.to_dict()
    broken["steps"][0] = {**broken["steps"][0], "kind": "mystery"}
    with pytest.raises(BundleError, match="unknown step kind 'mystery'"):
        Manifest.from_dict({**manifest, "prep": broken})
    retyped = plan.to_dict()
    retyped["columns"] = [{**c, "dtype": "date"} if c["name"] == "x" else c
                          for c in retyped["columns"]]  # fmt: skip
    with pytest.raises(BundleError, match="a numeric step reads column 'x', whose type is 'date'"):
        Manifest.from_dict({**manifest, "prep": retyped})


# -- properties: one value at a time, against conform --------------------------------------------


def polars_value(value: Any, logical: str) -> Any:
    """What conform makes of a one-row column: its physical value, REFUSED, or None (no column)."""
    try:
        frame = pl.DataFrame([series_of("v", value)])
    except (OverflowError, TypeError, ValueError):
        return None
    try:
        column = conform(frame, {"v": logical}, source="test")["v"]
    except SchemaError:
        return REFUSED
    return column.to_physical()[0] if logical in ("date", "datetime") else column[0]


def outcome(convert: Callable[[], Any]) -> Any:
    try:
        return convert()
    except ValueError:
        return REFUSED


def same_number(got: Any, expected: Any) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return isinstance(got, float) and math.isnan(got)
    return got == expected and (got != 0 or math.copysign(1, got) == math.copysign(1, expected))


NUMERIC_TEXT = st.text(alphabet="0123456789+-.eEinfatyNIFx _", max_size=8)
PADDING = st.sampled_from(["", " ", "\t", "\xa0", "\u3000", "\x1c", "\n"])


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        NUMERIC_TEXT,
        st.tuples(PADDING, NUMERIC_TEXT, PADDING).map("".join),
        st.sampled_from(["yes", "No", "TRUE", "t", "n", "Y", "f", "on", "1.0", "+.5e-3"]),
        st.floats(),
        st.integers(min_value=-(2**65), max_value=2**65),
        st.booleans(),
        st.none(),
    ),
    st.sampled_from(["float", "int", "bool"]),
)
def test_numbers_convert_as_conform_does(value, logical):
    expected = polars_value(value, logical)
    assume(expected is not None or value is None)
    got = outcome(lambda: to_number(value, logical))
    if expected == REFUSED or got == REFUSED:
        assert got == expected, f"{value!r} as {logical}: runtime {got!r}, Polars {expected!r}"
    else:
        if expected is not None:
            expected = float(expected)  # the numeric step casts to Float64
        assert same_number(got, expected), f"{value!r} as {logical}: {got!r} != {expected!r}"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(), st.floats(width=32).map(np.float32), st.integers(-(2**63), 2**63 - 1),
                 st.booleans(), st.text(max_size=5), st.dates()))  # fmt: skip
def test_text_is_formatted_as_polars_casts_it(value):
    assert to_text(value) == polars_value(value, "str")


@st.composite
def iso_text(draw: st.DrawFn) -> str:
    """ISO-8601-like text: the shapes conform reads, and near misses."""
    ws = st.sampled_from(["", "", " ", "  ", "\t", "\u3000"])

    def number(low: int, high: int, widths: tuple[int, ...] = (1, 2)) -> str:
        return str(draw(st.integers(low, high))).zfill(draw(st.sampled_from(widths)))

    # Python's datetime holds years 1 to 9999 only; the runtime refuses others (Polars reads
    # year 0 and negative years), also when an offset moves a time across the edge.
    year = draw(st.sampled_from(["", "", "+"])) + number(2, 9998, (1, 3, 4, 5))
    text = f"{year}-{draw(ws)}{number(0, 13)}-{draw(ws)}{number(0, 32)}"
    if draw(st.booleans()):
        text += draw(st.sampled_from(["T", " ", "", "T ", "  ", "\t", "t", "_"]))
        text += f"{number(0, 25, (1, 2, 3))}:{draw(ws)}{number(0, 61)}"
        if draw(st.booleans()):
            text += f":{draw(ws)}{number(0, 61, (1, 2, 3))}"
            if draw(st.booleans()):
                text += "." + "".join(draw(st.lists(st.sampled_from("0123456789"), max_size=11)))
        tz = draw(st.sampled_from(["", "", "Z", "z", "+", "-", " ", "UTC"]))
        if tz in "+-" and tz:
            tz += number(0, 25, (1, 2)) + draw(st.sampled_from(["", ":", ":", "::"]))
            tz += draw(st.sampled_from(["", number(0, 61, (1, 2, 3))]))
        text += draw(ws) + tz if tz else ""
    if draw(st.integers(0, 9)) == 0:
        text += draw(st.sampled_from(["x", ".", "-", ":"]))
    return draw(ws) + text + draw(ws)


def runtime_physical(value: Any, logical: str) -> Any:
    stamp = to_datetime(value, logical)
    if stamp is None:
        return None
    micros = (stamp - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
    return micros // 86_400_000_000 if logical == "date" else micros


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(iso_text(), st.sampled_from(["date", "datetime"]))
def test_iso_text_parses_as_conform_does(text, logical):
    expected = polars_value(text, logical)
    got = outcome(lambda: runtime_physical(text, logical))
    assert got == expected, f"{text!r} as {logical}: runtime {got!r}, Polars {expected!r}"


TIMEZONES = st.sampled_from([None, UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                             dt.timezone(dt.timedelta(hours=-8))])  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.dates(),
        st.datetimes(
            min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=TIMEZONES
        ),
    ),
    st.sampled_from(["date", "datetime"]),
)
def test_dates_convert_as_conform_does(value, logical):
    assert runtime_physical(value, logical) == polars_value(value, logical)


# -- properties: whole rows and batches ----------------------------------------------------------

ANY_VALUE = st.one_of(
    st.none(),
    st.floats(),
    st.integers(-(2**64), 2**64),
    st.booleans(),
    NUMERIC_TEXT,
    st.sampled_from(["red", "plum", "unseen", "", " ", "Yes", "no", "2020-02-29", "2021-7-4 8:15"]),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
)


@pytest.mark.parametrize("config", ["mean-indicators-standard-onehot", "mode-robust-native-cut",
                                    "median-clip-minmax-frequency"])  # fmt: skip
def test_any_row_matches_or_is_refused_alike(config):
    frame = synthetic()
    plan = fit_prep(frame, config=CONFIGS[config])
    prep = compiled(plan)
    companions = complete_rows(plan, frame)
    base = frame.row(1, named=True)

    @settings(max_examples=150, deadline=None)
    @given(st.dictionaries(st.sampled_from(list(plan.input_schema)), ANY_VALUE))
    def check(changes: dict[str, Any]) -> None:
        assert_same_outcome(plan, prep, {**base, **changes}, companions)

    check()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(), st.integers(-1000, 1000)),
            st.one_of(st.none(), st.sampled_from(["red", "green", "blue", "cyan", "plum", "?"])),
            st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1700, 1, 1),
                                              max_value=dt.datetime(2300, 1, 1))),
        ),
        max_size=30,
    )
)  # fmt: skip
def test_any_batch_matches_polars(rows):
    frame = synthetic()
    plan = fit_prep(frame, config=CONFIGS["constant-indicators-clip-onehot-cut"])
    prep = compiled(plan)
    n = len(rows)
    base = frame.row(2, named=True)
    batch = pl.DataFrame(
        {
            "x": pl.Series([r[0] for r in rows], dtype=pl.Float64),
            "k": pl.Series([base["k"]] * n, dtype=pl.Int64),
            "flag": pl.Series([base["flag"]] * n, dtype=pl.Boolean),
            "color": pl.Series([r[1] for r in rows], dtype=pl.String),
            "ratio": pl.Series([base["ratio"]] * n, dtype=pl.Float64),
            "day": pl.Series([None if r[2] is None else r[2].date() for r in rows], dtype=pl.Date),
            "stamp": pl.Series([r[2] for r in rows], dtype=pl.Datetime("us")),
        }
    )
    expected = reference(plan, batch)
    np.testing.assert_array_equal(prep.transform(columns_of(batch, "lists")), expected)
    np.testing.assert_array_equal(prep.transform(columns_of(batch, "arrays")), expected)
