"""The native export's CPython extension (edgeml/compile/_native_pyrow.c): a dict of numbers and
categories goes to the engine in one builtin call, and Predictor.predict_row's answer is built
there. The only correct answer is the ctypes path's (and so LightGBM's): the same dict, key for
key and bit for bit, or the same refusal."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import sysconfig
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgeml
import edgeml.runtime
from edgeml.compile import export
from edgeml.compile._native import ROW_EXTENSION
from edgeml.compile._toolchain import compile_shared
from edgeml.errors import SchemaError
from edgeml.runtime._native import load_extension, load_library
from tests.conftest import churn_like, reseal
from tests.test_native_row import PREPS, VALUES, _both_nan
from tests.test_native_row import outcome as outputs_or_refusal

pytestmark = pytest.mark.usefixtures("private_cache")

COLUMNS = [f"x{i}" for i in range(6)]
TARGETS = {
    "binary": lambda s: (s > 0).astype(int),
    "multiclass": lambda s: np.array(["low", "mid", "high"])[np.digitize(s, [-0.5, 0.5])],
    "regression": lambda s: s * 10.0,
}
ODD = [math.nan, math.inf, -math.inf, -0.0, 0.0, 1e-36, -1e-36, 1e300, -1e300, 5e-324]


def _frame(task: str, rows: int = 1500) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(rows, len(COLUMNS)))
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values: the default directions matter
    signal = np.nan_to_num(x[:, 0]) - 0.7 * np.nan_to_num(x[:, 1]) + 0.3 * rng.normal(size=rows)
    return pl.DataFrame({c: x[:, i] for i, c in enumerate(COLUMNS)}).with_columns(
        pl.Series("y", TARGETS[task](signal))
    )


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pyrow")
    made = {}
    for task in TARGETS:
        config = edgeml.Config.from_dict(
            {"train": {"num_boost_round": 40, "early_stopping_rounds": 0, "num_leaves": 15}}
        )
        bundle = edgeml.train(_frame(task), target="y", out=root / f"{task}.edgeml", cv_folds=0,
                              config=config, task=task).bundle  # fmt: skip
        export(bundle, format="native")
        made[task] = bundle
    return made


def _rows(count: int = 400) -> list[dict[str, Any]]:
    frame = _frame("binary", rows=count).drop("y")
    rows = frame.to_dicts()
    for i, value in enumerate(ODD):  # every odd value in every column, once
        rows.append(dict.fromkeys(COLUMNS, value))
        rows.append({c: (value if j == i % len(COLUMNS) else 0.25) for j, c in enumerate(COLUMNS)})
    return rows


def _ctypes_path(bundle: Path) -> Any:
    """The same bundle's predictor with the extension switched off: the path it must equal."""
    predictor = edgeml.runtime.load(bundle, backend="native")
    predictor._answer = None
    predictor._row._direct = None
    return predictor


def _outcome(call: Any, row: Any) -> tuple[str, Any]:
    try:
        return "ok", list(call(row).items())  # the keys' order too (JSON answers keep it)
    except (SchemaError, KeyError) as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("task", list(TARGETS))
def test_the_bundle_ships_the_extension_and_predict_row_takes_it(bundles, task):
    manifest = json.loads((bundles[task] / "manifest.json").read_text())
    entry = manifest["backends"]["native"]
    assert entry["row_extension"] == ROW_EXTENSION
    assert ROW_EXTENSION in entry["files"]
    assert (bundles[task] / ROW_EXTENSION).read_bytes()[:4] == b"\x7fELF"
    predictor = edgeml.runtime.load(bundles[task], backend="native")
    assert predictor._answer is not None and predictor._row._direct is not None


@pytest.mark.parametrize("task", list(TARGETS))
def test_answers_equal_the_ctypes_path_key_for_key_and_lightgbm(bundles, task):
    fast = edgeml.runtime.load(bundles[task], backend="native")
    slow = _ctypes_path(bundles[task])
    lightgbm = edgeml.runtime.load(bundles[task], backend="lightgbm")
    rows = _rows()
    got = [list(fast.predict_row(r).items()) for r in rows]
    assert got == [list(slow.predict_row(r).items()) for r in rows]
    assert [fast._row(r) for r in rows] == [slow._row(r) for r in rows]  # the outputs alone
    reference = [lightgbm.predict_row(r) for r in rows]
    assert [dict(g)["prediction"] for g in got] == [r["prediction"] for r in reference]
    gaps = [abs(value - ref[key]) for g, ref in zip(got, reference, strict=True)
            for key, value in g if key != "prediction"]  # fmt: skip
    worst = max(gaps, default=0.0)
    assert worst <= 1e-12
    assert len({dict(g)["prediction"] for g in got}) > 1  # the rows reach more than one answer


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=6, max_size=6))
def test_random_float_rows_equal_the_ctypes_path(bundles, values):
    for task in TARGETS:
        fast = edgeml.runtime.load(bundles[task], backend="native")
        slow = _ctypes_path(bundles[task])
        row = dict(zip(COLUMNS, values, strict=True))
        assert list(fast.predict_row(row).items()) == list(slow.predict_row(row).items())


@pytest.mark.parametrize(
    "change",
    [
        {"x0": 3},  # an int: float(3), in C
        {"x1": True},
        {"x2": np.float64(0.7)},  # a float subclass is not exactly a float
        {"x3": "2.5"},
        {"x4": None},
        {"x5": "not a number"},  # refused, naming the column
        {"x0": 10**400},  # an int beyond a double: refused
        {"extra": "ignored"},
    ],
)
def test_rows_it_does_not_take_as_is_get_the_python_answer_or_refusal(bundles, change):
    fast = edgeml.runtime.load(bundles["binary"], backend="native")
    slow = _ctypes_path(bundles["binary"])
    row = {**dict.fromkeys(COLUMNS, 0.5), **change}
    assert _outcome(fast.predict_row, row) == _outcome(slow.predict_row, row)


def test_a_missing_column_and_a_mapping_that_is_not_a_dict(bundles):
    fast = edgeml.runtime.load(bundles["binary"], backend="native")
    slow = _ctypes_path(bundles["binary"])
    row = dict.fromkeys(COLUMNS, 0.5)
    missing = {c: v for c, v in row.items() if c != "x3"}
    assert _outcome(fast.predict_row, missing) == _outcome(slow.predict_row, missing)
    assert "x3" in _outcome(fast.predict_row, missing)[1]
    proxy = types.MappingProxyType(row)
    assert fast._answer(proxy) is None  # not exactly a dict: the Python path reads it
    assert fast.predict_row(proxy) == slow.predict_row(row)


def test_threads_at_once_get_the_serial_answers(bundles):
    predictor = edgeml.runtime.load(bundles["multiclass"], backend="native")
    rows = _rows(200)
    expected = [predictor.predict_row(r) for r in rows]
    with ThreadPoolExecutor(4) as pool:  # calls that find the shared buffer busy take their own
        for _ in range(10):
            assert list(pool.map(predictor.predict_row, rows)) == expected


def test_a_calibrated_binary_model_answers_in_python_from_the_extensions_outputs(bundles, tmp_path):
    bundle = tmp_path / "calibrated.edgeml"
    shutil.copytree(bundles["binary"], bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["calibration"] = {"method": "platt", "a": 1.7, "b": -0.3}
    manifest["decision"] = {"threshold": 0.35, "rule": "fixed"}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    reseal(bundle)
    native = edgeml.runtime.load(bundle, backend="native")
    lightgbm = edgeml.runtime.load(bundle, backend="lightgbm")
    assert native._answer is None and native._row._direct is not None
    rows = _rows(200)
    got = [native.predict_row(r) for r in rows]
    assert [g["prediction"] for g in got] == [lightgbm.predict_row(r)["prediction"] for r in rows]
    assert got == [_ctypes_path(bundle).predict_row(r) for r in rows]


def test_without_python_headers_the_export_keeps_the_ctypes_path(bundles, tmp_path, monkeypatch):
    bundle = tmp_path / "plain.edgeml"
    shutil.copytree(bundles["regression"], bundle)
    paths = {"include": str(tmp_path / "none"), "platinclude": str(tmp_path / "none")}
    monkeypatch.setattr(sysconfig, "get_paths", lambda: paths)
    export(bundle, format="native")
    entry = json.loads((bundle / "manifest.json").read_text())["backends"]["native"]
    assert "row_extension" not in entry and ROW_EXTENSION not in entry["files"]
    predictor = edgeml.runtime.load(bundle, backend="native")
    assert predictor._answer is None and predictor._row is not None
    rows = _rows(100)
    fast = edgeml.runtime.load(bundles["regression"], backend="native")
    assert [predictor.predict_row(r) for r in rows] == [fast.predict_row(r) for r in rows]


def test_a_library_that_is_no_python_module_loads_as_none(bundles, tmp_path):
    core = (bundles["binary"] / "native" / "core.so").read_bytes()  # an ELF without PyInit_
    assert load_extension(core, source="core.so", name="edgeml_pyrow") is None
    # the failed import had dlopen'ed /proc/self/fd/N: had N been closed and reused by the
    # next library, glibc would have handed back core.so in its place
    (tmp_path / "answer.c").write_text("int edgeml_test_answer(void) { return 42; }\n")
    other = compile_shared([tmp_path / "answer.c"], tmp_path / "answer.so", flags=("-fPIC",),
                           link_flags=())  # fmt: skip
    assert load_library(other.read_bytes(), source="answer.so").edgeml_test_answer() == 42


def test_a_tampered_extension_refuses_the_bundle(bundles, tmp_path):
    bundle = tmp_path / "tampered.edgeml"
    shutil.copytree(bundles["binary"], bundle)
    data = bytearray((bundle / ROW_EXTENSION).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / ROW_EXTENSION).write_bytes(bytes(data))
    with pytest.raises(edgeml.errors.EdgeMLError, match="edgeml_pyrow"):
        edgeml.runtime.load(bundle, backend="native")


def test_bind_refuses_a_spec_it_does_not_know(bundles):
    predictor = edgeml.runtime.load(bundles["binary"], backend="native")
    with pytest.raises(ValueError, match="answer spec"):
        predictor._row.answering(("median",))
    with pytest.raises(ValueError, match="do not fit"):
        predictor._row.answering(("binary", 0.5, ("a",), ("proba_a",)))


def test_a_function_keeps_its_forest_alive_and_nothing_leaks(bundles):
    import gc
    import weakref

    predictor = edgeml.runtime.load(bundles["binary"], backend="native")
    answer, row = predictor._answer, dict.fromkeys(COLUMNS, 0.5)
    expected = answer(row)
    native_row = weakref.ref(predictor._row)
    del predictor
    gc.collect()
    assert native_row() is None  # no cycle through the extension's capsule
    assert answer(row) == expected  # the plan and forest it points into are still there


# -- rows of numbers, flags and categories ---------------------------------------------------------


def _mixed_frame(n: int = 800) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    return churn_like(n, seed=3).with_columns(
        pl.Series("region", rng.choice(["north", "south", "east", "west", "mid"], n)),
        pl.Series("flag", rng.random(n) < 0.4),
    )


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Bundles whose rows hold ints, floats, bools and text categories, one per encoding."""
    root = tmp_path_factory.mktemp("mixed")
    made = {}
    for name, prep in PREPS.items():
        config = edgeml.Config.from_dict(
            {"prep": prep, "train": {"num_boost_round": 30, "early_stopping_rounds": 0}}
        )
        out = root / f"{name}.edgeml"
        bundle = edgeml.train(_mixed_frame(), target="churn", out=out, cv_folds=0, config=config,
                              id_cols=["customer_id"]).bundle  # fmt: skip
        export(bundle, format="native")
        made[name] = bundle
    return made


def _mixed_rows(predictor: Any, count: int = 300) -> list[dict[str, Any]]:
    data = json.loads((predictor.path / "reference_rows.json").read_text())
    return [dict(zip(data["columns"], values, strict=True)) for values in data["rows"][:count]]


def _same(got: tuple[str, Any], expected: tuple[str, Any]) -> bool:
    if got == expected:
        return True
    # NaN != NaN in the probabilities of a row whose outputs are NaN
    pairs = zip(got[1], expected[1], strict=True) if got[0] == expected[0] == "ok" else ()
    return bool(pairs) and all(
        k == j and (a == b or (a != a and b != b)) for (k, a), (j, b) in pairs
    )


@pytest.mark.parametrize("name", list(PREPS))
def test_rows_with_ints_flags_and_categories_are_read_in_c(mixed, name):
    fast = edgeml.runtime.load(mixed[name], backend="native")
    slow = _ctypes_path(mixed[name])
    schema = fast.input_schema
    assert {"bool", "str", "float"} <= set(schema.values())  # an int column is read as float
    assert fast._answer is not None and fast._row._direct is not None
    lightgbm = edgeml.runtime.load(mixed[name], backend="lightgbm")
    rows = _mixed_rows(fast)
    # whole numbers as ints, as JSON clients send them
    rows += [{c: int(v) if type(v) is float and v.is_integer() else v for c, v in r.items()}
             for r in rows[:50]]  # fmt: skip
    taken = [fast._answer(r) is not None for r in rows]
    assert sum(taken) > len(rows) // 2  # most rows never reach Python
    got = [list(fast.predict_row(r).items()) for r in rows]
    assert got == [list(slow.predict_row(r).items()) for r in rows]
    assert [fast._row(r) for r in rows] == [slow._row(r) for r in rows]
    assert [dict(g)["prediction"] for g in got] == [lightgbm.predict_row(r)["prediction"]
                                                     for r in rows]  # fmt: skip


@pytest.mark.parametrize("name", list(PREPS))
def test_every_kind_of_value_gives_the_ctypes_answer_or_refusal(mixed, name):
    fast = edgeml.runtime.load(mixed[name], backend="native")
    slow = _ctypes_path(mixed[name])
    base = _mixed_rows(fast, 1)[0]
    extra = {"str": ["north", " north ", "North", "\u3000west", "", "zzz"],
             "bool": [np.bool_(True), -0.0, 1, 0.0, 1.0]}  # fmt: skip
    in_c = refused = 0
    for column, logical in fast.input_schema.items():
        for value in [*VALUES[logical], *extra.get(logical, [])]:
            row = {**base, column: value}
            got, expected = _outcome(fast.predict_row, row), _outcome(slow.predict_row, row)
            assert _same(got, expected), (column, value, got, expected)
            output = outputs_or_refusal(fast._row, row), outputs_or_refusal(slow._row, row)
            assert output[0] == output[1] or _both_nan(*output), (column, value)
            in_c += fast._answer(row) is not None
            refused += got[0] != "ok"
    assert in_c > 20 and refused > 5


def test_padded_unseen_and_missing_categories_take_python_or_nan(mixed):
    fast = edgeml.runtime.load(mixed["native"], backend="native")
    slow = _ctypes_path(mixed["native"])
    base = _mixed_rows(fast, 1)[0]
    answered = {v: fast._answer({**base, "region": v}) for v in ("west", None, " west", "zzz")}
    assert answered["west"] is not None and answered[None] is not None  # known, missing: in C
    assert answered[" west"] is None and answered["zzz"] is None  # Python strips, or unseen
    for value in answered:
        row = {**base, "region": value}
        assert fast.predict_row(row) == slow.predict_row(row)
    assert fast.predict_row({**base, "region": " west"}) == fast.predict_row(
        {**base, "region": "west"}
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_mixed_rows_equal_the_ctypes_path(mixed, data):
    name = data.draw(st.sampled_from(sorted(PREPS)))
    fast = edgeml.runtime.load(mixed[name], backend="native")
    slow = _ctypes_path(mixed[name])
    numbers = {
        "float": st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70),
        "int": st.integers(-(2**64), 2**64) | st.floats(allow_nan=True, allow_infinity=True),
        "bool": st.booleans() | st.sampled_from([0, 1, 2, 0.0, 1.0, -0.0, 0.5, math.nan]),
        "str": st.sampled_from(["north", "south", "east", "west", "mid", "month", "year",
                                "two_year", "Yes", "No"]) | st.text(max_size=3),
    }  # fmt: skip
    row = {
        column: data.draw(st.sampled_from(VALUES[logical]) | numbers[logical] | st.none())
        for column, logical in fast.input_schema.items()
    }
    assert _same(_outcome(fast.predict_row, row), _outcome(slow.predict_row, row))


def test_a_first_version_extension_binds_float_columns_only(mixed, bundles):
    """Bundles exported before slots carry a module without VERSION whose bind takes a tuple
    of float columns: a mixed plan keeps ctypes with it, a float plan still binds."""
    fast = edgeml.runtime.load(mixed["native"], backend="native")
    row = fast._row
    old = _build_row(fast, bind_version=1)
    assert old is not None and old._direct is None and old._bind is None
    floats = edgeml.runtime.load(bundles["binary"], backend="native")
    one = _build_row(floats, bind_version=1)
    assert one is not None and one._direct is not None
    sample = dict.fromkeys(COLUMNS, 0.5)
    assert one._direct(sample) == floats._row(sample)
    # the module itself still takes the first version's keys: str columns, raw slots 0..n-1
    bind = floats._row._bind
    assert bind is not None
    direct = bind.func(tuple(floats._row._fast_columns), *bind.args[1:], None, (floats,))
    assert direct(sample) == floats._row(sample)
    assert row._direct is not None


def _build_row(predictor: Any, *, bind_version: int) -> Any:
    backend = predictor.backend
    return type(predictor._row).build(
        backend._lib.edgeml_row_predict, backend._forest_address, backend, predictor.prep,
        num_output=backend.num_output, work_size=backend._one_work,
        floats_function=backend._lib.edgeml_row_predict_floats,
        bind=backend.row_extension.bind, bind_version=bind_version,
    )  # fmt: skip


def test_bind_refuses_slots_it_cannot_read(mixed):
    predictor = edgeml.runtime.load(mixed["native"], backend="native")
    bind = predictor._row._bind
    assert bind is not None and predictor.backend.row_extension.VERSION == 3
    rest = bind.args[1:]
    for slots, message in [
        ((("tenure", 99, 0, None),), "out of range"),
        ((("tenure", 0, 7, None),), "out of range"),
        ((("region", 0, 3, None),), "codes amiss"),
        ((("tenure", 0, 0, {"a": 1.0}),), "codes amiss"),
        ((("tenure", 0, 0),), "slot is"),
        (((5, 0, 0, None),), "must be str"),
    ]:
        with pytest.raises((ValueError, TypeError), match=message):
            bind.func(slots, *rest)


# -- dates as ISO text ---------------------------------------------------------------------------

DATE_TEXTS = [
    "2020-01-05", "2020-02-29", "2019-02-29", "1900-02-29", "2000-02-29", "2021-04-31",
    "0001-01-01", "9999-12-31", "0000-01-01", "1969-12-31 23:59:59", "1970-01-01T00:00",
    "2020-01-05 10:30", "2020-01-05T10:30:15", "2020-01-05 10:30:15.999999999",
    "1965-07-04T03:02:01.5Z", "2020-01-05T10:30:15z", "2020-01-05 10:30:15 UTC",
    "2020-01-05 10:30:15UTC", "2024-03-15 14:05:07.25 UTC", "9999-12-31T23:59:59.999999",
    # shapes that take Python's parser (or its refusal)
    "2020-1-5", "2020-01-05 10:30Z", "2020-01-05 10:30:15+02:00", "2020-01-05 10:30:15 Z",
    "2020-01-05  10:30:15", "2020-01-05 23:59:60", "2020-01-05 24:00", "2020-01-05 10:60",
    "2020-01-05t10:30", " 2020-01-05", "2020-01-05 ", "2020-01-05 10:30:15.", "2020-01-05 10:3",
    "2020-01-05 10:30:1", "2020-13-01", "2020-00-10", "2020-01-00", "+2020-01-05", "NA", "",
    "２０２０-01-05", "2020-01-05\ud800", "not a date", "2020-01-05 10:30:15  UTC",
]  # fmt: skip


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle with a date and a datetime column beside numbers and categories."""
    from tests.test_export_c import _train

    bundle = _train(tmp_path_factory.mktemp("dated"), "dated", "churn")
    export(bundle, format="native")
    return bundle


def test_iso_dates_are_read_in_c_and_other_shapes_take_python(dated):
    fast = edgeml.runtime.load(dated, backend="native")
    slow = _ctypes_path(dated)
    schema = fast.input_schema
    assert {"date", "datetime"} <= set(schema.values())
    assert fast._answer is not None
    base = _mixed_rows(fast, 1)[0]
    in_c = set()
    for column in [c for c, logical in schema.items() if logical in ("date", "datetime")]:
        for text in DATE_TEXTS:
            row = {**base, column: text}
            assert _same(_outcome(fast.predict_row, row), _outcome(slow.predict_row, row)), text
            assert outputs_or_refusal(fast._row, row) == outputs_or_refusal(slow._row, row), text
            if fast._answer(row) is not None:
                in_c.add(text)
    no_such_day = {"2019-02-29", "1900-02-29", "2021-04-31", "0000-01-01"}
    assert set(DATE_TEXTS[:20]) - no_such_day == in_c  # the plain shapes of real days, in C


ISO_SHAPES = ["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
              "%Y-%m-%dT%H:%M:%S.%fZ"]  # fmt: skip


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stamp=st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    shape=st.sampled_from(ISO_SHAPES),
    noise=st.text(alphabet="0123456789-:T .Zz+", max_size=4),
)
def test_random_iso_dates_equal_the_ctypes_path(dated, stamp, shape, noise):
    fast = edgeml.runtime.load(dated, backend="native")
    slow = _ctypes_path(dated)
    base = _mixed_rows(fast, 1)[0]
    text = f"{stamp.year:04d}" + stamp.strftime(shape)[4:]  # strftime pads no year below 1000
    for value in (text, text + noise, text[: len(text) - len(noise)]):
        for column in ("signup", "seen"):
            row = {**base, column: value}
            assert _same(_outcome(fast.predict_row, row), _outcome(slow.predict_row, row)), value
