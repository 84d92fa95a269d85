"""The native export's CPython extension (edgeml/compile/_native_pyrow.c): a dict of floats goes
to the engine in one builtin call, and Predictor.predict_row's answer is built there. The only
correct answer is the ctypes path's (and so LightGBM's): the same dict, key for key and bit
for bit, or the same refusal."""

from __future__ import annotations

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
from tests.conftest import reseal

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
        {"x0": 3},  # an int: converted in Python
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


def test_a_calibrated_binary_model_answers_in_python_from_the_extensions_outputs(
    bundles, tmp_path
):
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
