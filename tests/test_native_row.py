"""predict_row through the native engine in one C call (prep plan, trees, transform) equals the
Python prep followed by the engine, bit for bit, on every kind of value a row can hold."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgeml.runtime
from edgeml.compile import export
from edgeml.errors import SchemaError
from tests.test_export_c import _train

PREPS = {
    "native": {},
    "onehot": {"impute": "median", "missing_indicators": True, "outliers": "clip",
               "scaling": "standard", "encoding": "onehot"},
    "frequency": {"encoding": "frequency", "impute": "mode"},
}  # fmt: skip

# Values each logical type is given, valid or refused (refused ones must refuse the same way).
VALUES: dict[str, list[Any]] = {
    "float": [0.5, -2.25, math.nan, math.inf, -math.inf, None, 0, -0.0, 1e-36, 7, True, "3.5",
              " 1e3 ", "", np.float32(2.5), np.int64(4), 10**30, 10**400, "x", [1.0]],
    "int": [3, -7, 2**63 - 1, 2**63, 3.0, 3.5, None, "12", math.nan, math.inf, True, "",
            np.int32(5)],
    "bool": [True, False, 1, 0, 2, "yes", "no", None, 1.0, 0.5, "maybe"],
    "str": ["north", "south", "west*/", "zzz-unseen", "", None, 7, True, 2.5, math.nan],
    "date": [dt.date(2020, 2, 29), dt.datetime(2019, 5, 1, 23, 59, 59), "2020-01-05",
             dt.datetime(2020, 1, 5, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2))),
             dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), None, "",
             "not a date", 12],
}  # fmt: skip
VALUES["datetime"] = VALUES["date"]


# Compiled cores and libraries go to a cache of this module's own, not ~/.cache/edgeml.
pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture(scope="module")
def predictors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("row")
    loaded = {}
    for name, prep in PREPS.items():
        bundle = _train(root, name, "churn", prep=prep)
        export(bundle, format="native")
        loaded[name] = edgeml.runtime.load(bundle)
    return loaded


def reference_rows(predictor: Any) -> list[dict[str, Any]]:
    data = json.loads((predictor.path / "reference_rows.json").read_text())
    return [dict(zip(data["columns"], values, strict=True)) for values in data["rows"]]


def outcome(call: Any, row: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", call(row)
    except SchemaError as exc:
        return "refused", str(exc)


def python_path(predictor: Any) -> Any:
    """The same engine after the Python prep (RuntimePrep.transform_row)."""
    return lambda row: predictor.backend.predict_one(predictor.prep.transform_row(row))


@pytest.mark.parametrize("name", list(PREPS))
def test_one_call_equals_the_python_prep_on_reference_rows(predictors, name):
    predictor = predictors[name]
    one_call = predictor.backend.row_predictor(predictor.prep)
    assert one_call is not None and predictor._row is not None
    python = python_path(predictor)
    lightgbm = edgeml.runtime.load(predictor.path, backend="lightgbm")
    for row in reference_rows(predictor)[:200]:
        assert one_call(row) == python(row)
        assert predictor.predict_row(row) == lightgbm.predict_row(row)


@pytest.mark.parametrize("name", list(PREPS))
def test_every_kind_of_value_gives_the_same_output_or_the_same_refusal(predictors, name):
    predictor = predictors[name]
    one_call, python = predictor._row, python_path(predictor)
    base = reference_rows(predictor)[0]
    refused = 0
    for column, logical in predictor.input_schema.items():
        for value in VALUES[logical]:
            row = {**base, column: value}
            got, expected = outcome(one_call, row), outcome(python, row)
            assert got == expected or _both_nan(got, expected), (column, value)
            refused += got[0] == "refused"
    assert refused > 0  # the refusals were exercised, not only accepted values


def _both_nan(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    return a[0] == b[0] == "ok" and all(
        x == y or (x != x and y != y) for x, y in zip(a[1], b[1], strict=True)
    )


def test_a_missing_key_is_refused_naming_it_and_extra_keys_are_ignored(predictors):
    predictor = predictors["native"]
    row = reference_rows(predictor)[0]
    column = next(iter(predictor.input_schema))
    short = {k: v for k, v in row.items() if k != column}
    with pytest.raises(SchemaError, match=f"lacks column.*'{column}'"):
        predictor.predict_row(short)
    assert predictor.predict_row({**row, "not_a_column": "x"}) == predictor.predict_row(row)


def test_unseen_and_missing_categories_follow_the_python_prep(predictors):
    for predictor in predictors.values():
        one_call, python = predictor._row, python_path(predictor)
        row = reference_rows(predictor)[0]
        for value in ("never seen", None, "north"):
            assert one_call({**row, "region": value}) == python({**row, "region": value})
        # an unseen category is not the imputed one (it goes as missing, without imputation)
        assert one_call({**row, "region": "never seen"}) == python({**row, "region": "??"})


def test_a_row_predictor_keeps_its_backend_alive(predictors):
    """The C call reads the forest the backend opened: dropping the backend must not free it
    (a row predictor that outlived its backend read freed memory and gave wrong outputs)."""
    import gc
    import weakref

    from edgeml.runtime._native_backend import load_backend

    predictor = predictors["native"]
    backend = load_backend(predictor.bundle)
    one_call, alive = backend.row_predictor(predictor.prep), weakref.ref(backend)
    assert one_call is not None
    del backend
    gc.collect()
    assert alive() is not None
    clutter = [np.full(4096, 7.0) for _ in range(256)]  # reuses freed memory, if any was freed
    for row in reference_rows(predictor)[:50]:
        assert one_call(row) == predictor._row(row)
    del clutter


def test_float_columns_are_read_in_c_and_other_values_take_python(predictors):
    """The float columns' tuple goes to edgeml_row_predict_floats, which reads the doubles out
    of the float objects and predicts in the same call; a value that is not exactly a float
    makes it return 1 before predicting, and the row takes the Python conversion."""
    from edgeml.runtime._native_row import float_layout

    assert float_layout() is not None  # CPython: the offsets were found and checked
    for predictor in predictors.values():
        one_call, python = predictor._row, python_path(predictor)
        assert one_call._floats is not None and len(one_call._fast_columns) > 1
        for row in reference_rows(predictor)[:50]:
            floats = {c: float(row[c]) for c in one_call._fast_columns if row[c] is not None}
            assert one_call({**row, **floats}) == python({**row, **floats})
        # the rows above may all have gone to the extension, which needs no ctypes buffers
        _, _, call = getattr(one_call._local, "buffers", None) or one_call._buffers()
        values = one_call._fast({**row, **floats})
        assert all(type(v) is float for v in values)
        assert one_call._floats(call, values) == 0
        for other in (1, True, np.float64(0.5), "0.5", None):
            assert one_call._floats(call, (*values[:-1], other)) == 1
        assert one_call._floats(None, values) == -1


def test_the_floor_call_returns_at_once(predictors):
    assert predictors["native"]._row.floor() == -1


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_rows_match_the_python_prep(predictors, data):
    name = data.draw(st.sampled_from(sorted(PREPS)))
    predictor = predictors[name]
    row = {
        column: data.draw(st.sampled_from(VALUES[logical]) | _numbers(logical))
        for column, logical in predictor.input_schema.items()
    }
    got, expected = outcome(predictor._row, row), outcome(python_path(predictor), row)
    assert got == expected or _both_nan(got, expected)


def _numbers(logical: str) -> st.SearchStrategy[Any]:
    if logical == "float":
        return st.floats(allow_nan=True, allow_infinity=True)
    if logical == "int":
        return st.integers(min_value=-(2**64), max_value=2**64)
    if logical in ("date", "datetime"):
        return st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30))
    return st.sampled_from([None])


def test_threads_each_get_their_own_buffers(predictors, tmp_path: Path):
    from concurrent.futures import ThreadPoolExecutor

    predictor = predictors["onehot"]
    rows = reference_rows(predictor)[:64]
    expected = [predictor.predict_row(r) for r in rows]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            assert list(pool.map(predictor.predict_row, rows)) == expected


@pytest.mark.parametrize("calibration", [None, {"method": "platt", "a": 1.7, "b": -0.3}])
def test_a_binary_label_follows_the_threshold_and_calibration_like_lightgbm(
    predictors, tmp_path, calibration
):
    """predict_row on the one call equals the LightGBM backend's on a binary model whose
    decision threshold is moved to where both labels occur, with and without a calibration."""
    import shutil

    from tests.conftest import reseal

    source = predictors["native"]
    rows = reference_rows(source)[:300]
    probabilities = sorted(source.predict_row(row)[source.columns[1]] for row in rows)
    bundle = tmp_path / "moved.edgeml"
    shutil.copytree(source.path, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["decision"] = {"threshold": probabilities[len(rows) // 3], "rule": "fixed"}
    if calibration is not None:
        manifest["calibration"] = calibration
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    reseal(bundle)
    native = edgeml.runtime.load(bundle, backend="native")
    lightgbm = edgeml.runtime.load(bundle, backend="lightgbm")
    assert native._row is not None
    got = [native.predict_row(row) for row in rows]
    assert got == [lightgbm.predict_row(row) for row in rows]
    labels = {r["prediction"] for r in got}
    assert len(labels) == 2  # the moved threshold splits the rows
