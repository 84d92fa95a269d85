"""``edgeml export --format onnx``: one graph for prep + trees, equal to Polars + LightGBM."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import onnx
import polars as pl
import pytest

import edgeml
from edgeml.bundle import read_bundle_files, read_manifest, write_bundle
from edgeml.compile import ExportRequest, _forest, export
from edgeml.compile._forest import parse_model
from edgeml.compile._onnx import build, frame_feeds, prep_model
from edgeml.compile._onnx_graph import GraphBuilder
from edgeml.compile._onnx_prep import add_prep
from edgeml.compile._onnx_trees import K_ZERO_THRESHOLD, ensemble_model
from edgeml.errors import ExportError
from edgeml.prep import apply_prep, to_matrix
from edgeml.runtime import load_prep
from edgeml.runtime._onnx_backend import MISSING_TEXT, OnnxBackend, feeds_for, load_session
from edgeml.spec.manifest import Manifest
from edgeml.spec.prep_plan import PrepPlan
from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[1]
# One LightGBM thread: the test machine is small and shared, and OpenMP spins when oversubscribed.
FEW_ROUNDS = {"num_boost_round": 25, "early_stopping_rounds": 0}
ONE_THREAD = {"num_threads": 1}


def mixed_frame(task: str, n: int = 600, seed: int = 0) -> pl.DataFrame:
    """Every input type, with NaN, exact zeros and negatives, missing and empty strings, dates."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    z = rng.choice([-1.0, 0.0, 0.0, 1.0, 2.5], n)
    k = rng.integers(0, 50, n)
    flag = rng.random(n) < 0.4
    color = rng.choice(["red", "green", "blue", "teal", ""], n).astype(object)
    color[rng.random(n) < 0.05] = None
    day = [dt.date(2015, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 3000, n)]
    stamp = [
        dt.datetime(2018, 1, 1) + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 10**8, n)
    ]
    month = np.array([d.month for d in day])
    hour = np.array([s.hour for s in stamp])
    score = (np.nan_to_num(x) + (z == 0) * 1.5 + 0.03 * k + np.isin(color, ["red", "teal"])
             + (month > 6) + (hour > 12) * 0.7 + flag)  # fmt: skip
    noisy = score + rng.normal(0, 0.5, n)
    if task == "binary":
        y: np.ndarray = np.where(noisy > 2.0, "yes", "no")
    elif task == "multiclass":
        y = np.array(["a", "b", "c"])[np.digitize(noisy, [1.5, 2.5])]
    else:
        y = 1000 * noisy
    return pl.DataFrame({
        "x": x, "z": z, "k": k, "flag": flag,
        "color": pl.Series(list(color), dtype=pl.String), "day": day, "stamp": stamp, "y": y,
    })  # fmt: skip


def train_bundle(
    path: Path, task: str, prep: dict | None = None, params: dict | None = None
) -> Path:
    config = edgeml.Config.from_dict(
        {"prep": prep or {}, "train": {**FEW_ROUNDS, "params": {**ONE_THREAD, **(params or {})}}}
    )
    frame = mixed_frame(task)
    return edgeml.train(frame, target="y", config=config, cv_folds=0, out=path).bundle


def exported(bundle: Path) -> tuple[edgeml.compile.ExportResult, OnnxBackend]:
    result = export(bundle, format="onnx")
    return result, OnnxBackend.from_bundle(bundle)


def probe_columns(n: int = 40) -> dict[str, list]:
    """Raw rows a user might send: unseen, empty and missing text, NaN, inf, 0, -0, tiny."""
    rng = np.random.default_rng(7)
    numbers = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, K_ZERO_THRESHOLD, None]
    texts = ["red", "blue", "", None, "violet", " red", "teal"]
    return {
        "x": [numbers[i % len(numbers)] if i % 3 else float(rng.normal()) for i in range(n)],
        "z": [numbers[i % len(numbers)] if i % 2 else -1.0 for i in range(n)],
        "k": [None if i % 5 == 0 else i for i in range(n)],
        "flag": [None if i % 4 == 0 else bool(i % 2) for i in range(n)],
        "color": [texts[i % len(texts)] for i in range(n)],
        "day": [None if i % 6 == 0 else dt.date(1999 + i, 1 + i % 12, 28) for i in range(n)],
        "stamp": [None if i % 7 == 0 else dt.datetime(2000, 2, 29, i % 24, i) for i in range(n)],
    }


def lightgbm_on(bundle: Path, columns: dict[str, list]) -> np.ndarray:
    """LightGBM on the NumPy runtime's prep (itself parity-tested against Polars)."""
    booster = lgb.Booster(model_file=str(bundle / "model.txt"))
    return np.asarray(booster.predict(load_prep(bundle).transform(columns)))


@pytest.fixture(scope="module")
def binary_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_bundle(tmp_path_factory.mktemp("onnx") / "bin.edgeml", "binary")


def test_binary_pipeline_equals_lightgbm_and_is_recorded(binary_bundle: Path) -> None:
    result, backend = exported(binary_bundle)
    assert result.files == ["onnx/model.onnx"]
    parity = result.parity
    assert parity["passed"] and parity["max_abs_diff"] <= 1e-6 and parity["features_exact"]
    assert set(parity["suites"]) == {"reference", "raw_adversarial", "feature_adversarial"}
    manifest = read_manifest(binary_bundle)
    assert manifest["backends"]["onnx"]["parity"]["passed"]
    model = onnx.load(str(binary_bundle / "onnx/model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert {i.name for i in model.graph.input} == set(load_prep(binary_bundle).input_schema)
    assert [o.name for o in model.graph.output] == ["prediction", "features", "label"]
    tree = next(n for n in model.graph.node if n.op_type == "TreeEnsemble")
    splits = next(a for a in tree.attribute if a.name == "nodes_splits")
    assert splits.t.data_type == onnx.TensorProto.DOUBLE  # thresholds kept in double

    columns = probe_columns()
    expected = lightgbm_on(binary_bundle, columns)
    np.testing.assert_allclose(backend.predict(columns), expected, rtol=0, atol=1e-9)
    rows = [{c: v[i] for c, v in columns.items()} for i in range(len(expected))]
    single = np.concatenate([backend.predict_row(row) for row in rows])
    np.testing.assert_allclose(single, expected, rtol=0, atol=1e-9)
    # the graph's prep alone equals the runtime's (and so Polars'), bit for bit
    np.testing.assert_array_equal(
        backend.features(columns), load_prep(binary_bundle).transform(columns)
    )


def test_multiclass_and_regression(tmp_path: Path) -> None:
    for task, width in (("multiclass", 3), ("regression", None)):
        bundle = train_bundle(tmp_path / f"{task}.edgeml", task)
        result, backend = exported(bundle)
        assert result.parity["passed"] and result.info["output"] == (
            "multiclass" if width else "value"
        )
        columns = probe_columns()
        ours = backend.predict(columns)
        assert ours.shape == ((40, width) if width else (40,))
        np.testing.assert_allclose(ours, lightgbm_on(bundle, columns), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "prep",
    [
        {"encoding": "onehot", "impute": "mode"},
        {"encoding": "frequency", "impute": "mode"},
        {"impute": "median", "missing_indicators": True, "outliers": "clip", "outlier_k": 0.5,
         "scaling": "standard"},
        {"scaling": "robust", "outliers": "clip", "outlier_k": 1.0},
    ],
    ids=["onehot", "frequency", "impute-indicator-clip-standard", "clip-robust"],
)  # fmt: skip
def test_prep_configurations(tmp_path: Path, prep: dict) -> None:
    bundle = train_bundle(tmp_path / "b.edgeml", "binary", prep=prep)
    result, backend = exported(bundle)
    assert result.parity["passed"]
    columns = probe_columns()
    np.testing.assert_array_equal(backend.features(columns), load_prep(bundle).transform(columns))
    np.testing.assert_allclose(
        backend.predict(columns), lightgbm_on(bundle, columns), rtol=0, atol=1e-9
    )


def test_zero_as_missing(tmp_path: Path) -> None:
    bundle = train_bundle(tmp_path / "z.edgeml", "regression", params={"zero_as_missing": True})
    dump = lgb.Booster(model_file=str(bundle / "model.txt")).dump_model()
    kinds = set()

    def walk(node: dict) -> None:
        if "split_feature" in node:
            kinds.add(node["missing_type"])
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in dump["tree_info"]:
        walk(tree["tree_structure"])
    assert "Zero" in kinds  # the case under test is really there
    result, backend = exported(bundle)
    assert result.parity["passed"]
    columns = probe_columns()
    np.testing.assert_allclose(
        backend.predict(columns), lightgbm_on(bundle, columns), rtol=0, atol=1e-6
    )


def test_date_parts_equal_polars_across_the_calendar() -> None:
    plan = PrepPlan.from_dict({
        "columns": [{"name": "d", "dtype": "date", "role": "feature"},
                    {"name": "t", "dtype": "datetime", "role": "feature"}],
        "steps": [
            {"kind": "date_parts", "column": "d", "parts": ["year", "month", "day", "weekday",
             "day_of_year"], "output_names": ["dy", "dm", "dd", "dw", "dj"]},
            {"kind": "date_parts", "column": "t", "parts": ["minute", "year", "day_of_year",
             "hour", "weekday", "month", "day"],
             "output_names": ["tmin", "ty", "tj", "th", "tw", "tm", "td"]},
        ],
    })  # fmt: skip
    rng = np.random.default_rng(3)
    micros = rng.integers(-(2**55), 2**55, 3000)  # years ~ -1140 .. 3110
    edges = [dt.datetime(y, m, d) - dt.timedelta(microseconds=u)
             for y in (1, 1600, 1900, 1969, 1970, 2000, 2100, 2400, 9999)
             for m, d in ((1, 1), (3, 1), (12, 31)) for u in (0, 1, 60_000_000)
             if (y, m, d) != (1, 1, 1)]  # fmt: skip
    stamps = pl.concat([
        pl.Series("t", micros, dtype=pl.Int64).cast(pl.Datetime("us")),
        pl.Series("t", [*edges, None], dtype=pl.Datetime("us")),
    ])  # fmt: skip
    frame = pl.DataFrame({"d": stamps.cast(pl.Date), "t": stamps})
    session = load_session(prep_model(plan).SerializeToString())
    ours = session.run(["features"], frame_feeds(frame, plan))[0]
    np.testing.assert_array_equal(ours, to_matrix(apply_prep(plan, frame)))
    # the runtime backend's conversion of Python datetimes gives the same seconds
    feeds = feeds_for(plan.input_schema, {"d": frame["d"].to_list(),
                                                     "t": frame["t"].to_list()})  # fmt: skip
    np.testing.assert_array_equal(session.run(["features"], feeds)[0], ours)


def _lightgbm_rule_booster(objective: str, **params: object) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(1)
    n = 1500
    x = np.column_stack([
        rng.choice([-2.0, -1.0, 0.0, 1.0, 2.0], n),  # thresholds at ±1e-35 around zero
        np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        rng.integers(0, 40, n).astype(float),  # categorical, sets beyond 30 (big-set lookup)
    ])  # fmt: skip
    signal = (x[:, 0] == 0) * 2 + np.nan_to_num(x[:, 1], nan=1.0) + np.isin(x[:, 2], [0, 3, 33])
    if objective in ("multiclass", "multiclassova"):
        y = np.digitize(signal, [0.5, 1.5]).astype(float)
        params = {"num_class": 3, **params}
    elif objective == "binary":
        y = (signal > 1).astype(float)
    elif objective == "poisson":
        y = rng.poisson(np.exp(signal / 2)).astype(float)
    else:
        y = signal
    data = lgb.Dataset(x, y, categorical_feature=[2])
    base = {"objective": objective, "verbosity": -1, "num_leaves": 8, "min_data_in_leaf": 5,
            "min_data_per_group": 5, "cat_smooth": 1, "max_cat_to_onehot": 1}  # fmt: skip
    return lgb.train({**base, **ONE_THREAD, **params}, data, 15), x


@pytest.mark.parametrize(
    ("objective", "params"),
    [
        ("binary", {"sigmoid": 0.7}),
        ("multiclass", {}),
        ("multiclassova", {}),
        ("regression", {"reg_sqrt": True}),
        ("poisson", {}),
        ("regression", {"boosting": "rf", "bagging_fraction": 0.5, "bagging_freq": 1}),
        ("regression", {"zero_as_missing": True}),
    ],
    ids=["binary-sigmoid", "multiclass", "ova", "sqrt", "poisson", "rf-average", "zero"],
)
def test_trees_follow_lightgbm_rules(objective: str, params: dict) -> None:
    booster, x = _lightgbm_rule_booster(objective, **params)
    tiny = [0.0, -0.0, K_ZERO_THRESHOLD, -K_ZERO_THRESHOLD, 1e-36, -1e-40, np.nan, 2e-35]
    odd_codes = [-0.5, -0.99, 2.7, 3.2, 33.0, -1.0, np.nan, 2.0**31, 1e300, 40.0]
    odd_codes += [np.nextafter(1e300, np.inf), -np.nextafter(1e300, np.inf), np.inf, -np.inf]
    probes = np.array([[a, b, c] for a in tiny for b in (np.nan, 0.3) for c in odd_codes])
    rows = np.vstack([x[:200], probes])
    session = load_session(
        ensemble_model(parse_model(booster.model_to_string())).SerializeToString()
    )
    ours = session.run(["prediction"], {"features": rows})[0]
    expected = np.asarray(booster.predict(rows))
    if expected.ndim == 1:
        kind = session.get_modelmeta().custom_metadata_map["edgeml.output"]
        ours = ours[:, 1] if kind == "binary" else ours[:, 0]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)


def test_float32_thresholds_would_flip_a_decision_ours_does_not() -> None:
    """The off-the-shelf converter's float32 thresholds (and input) send a row the wrong way."""
    booster, x = _lightgbm_rule_booster("regression")
    forest = parse_model(booster.model_to_string())
    tree = next(
        t for t in forest.trees
        if t.num_leaves > 1 and not t.is_categorical(0)
        and float(np.float32(t.threshold[0])) != t.threshold[0]
    )  # fmt: skip
    threshold = float(tree.threshold[0])
    feature = int(tree.split_feature[0])
    row = x[:1].copy()
    row[0, feature] = np.nextafter(threshold, np.inf)  # just above: LightGBM goes right
    # float32 emulation: the input and every threshold rounded to float32, as onnxmltools does
    numeric = [(t.decision_type & _forest.CATEGORICAL) == 0 for t in forest.trees]
    as32 = dataclasses.replace(
        forest,
        trees=[
            dataclasses.replace(
                t, threshold=np.where(m, t.threshold.astype(np.float32), t.threshold)
            )
            for t, m in zip(forest.trees, numeric, strict=True)
        ],
    )
    assert np.float32(row[0, feature]) <= np.float32(threshold)  # float32 says: go left
    float32_way = load_session(ensemble_model(as32).SerializeToString()).run(
        ["prediction"], {"features": row.astype(np.float32).astype(np.float64)}
    )[0][:, 0]
    ours = load_session(ensemble_model(forest).SerializeToString()).run(
        ["prediction"], {"features": row}
    )[0][:, 0]
    truth = booster.predict(row)
    assert abs(float32_way[0] - truth[0]) > 1e-6
    assert abs(ours[0] - truth[0]) <= 1e-12


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "target"), [("telco_churn.csv", "churn"), ("diamonds.csv", "price")]
)
def test_real_datasets(tmp_path: Path, name: str, target: str) -> None:
    config = edgeml.Config.from_dict(
        {"train": {**FEW_ROUNDS, "num_boost_round": 50, "params": ONE_THREAD}}
    )
    bundle = edgeml.train(
        shared(name), target=target, config=config, cv_folds=0, out=tmp_path / "real.edgeml"
    ).bundle
    result, backend = exported(bundle)
    assert result.parity["passed"] and result.parity["rows"] > 500
    rows = json.loads((bundle / "reference_rows.json").read_bytes())
    columns = {c: [r[i] for r in rows["rows"]] for i, c in enumerate(rows["columns"])}
    np.testing.assert_allclose(
        backend.predict(columns), lightgbm_on(bundle, columns), rtol=0, atol=1e-6
    )


def test_an_onnx_file_that_fails_to_load_is_a_clear_error(
    binary_bundle: Path, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match="cannot load the ONNX model"):
        OnnxBackend(b"not an onnx model", {"x": "float"}, source="broken.onnx")
    copy = shutil.copytree(binary_bundle, tmp_path / "copy.edgeml")
    export(copy, format="onnx")
    manifest, files = read_bundle_files(copy)  # garbage recorded with its own checksum
    write_bundle(copy, manifest, {**files, "onnx/model.onnx": b"\x08\x07garbage"})
    with pytest.raises(ExportError, match=r"model\.onnx: onnxruntime cannot load"):
        OnnxBackend.from_bundle(copy)


def test_refusals() -> None:
    plan = PrepPlan.from_dict({
        "columns": [{"name": "c", "dtype": "str", "role": "feature"}],
        "steps": [{"kind": "categorical", "column": "c", "encoding": "native",
                   "categories": ["a", MISSING_TEXT], "output_names": ["c"]}],
    })  # fmt: skip
    with pytest.raises(ExportError, match="missing-value marker"):
        add_prep(GraphBuilder(), plan, output="features")
    manifest = Manifest.from_dict({
        "schema_version": 2, "task": "regression", "target": {"name": "y"},
        "model": {"file": "model.txt"}, "prep": plan.to_dict(),
        "features": {"model": ["c", "c_lag_1"]},
    })  # fmt: skip
    with pytest.raises(ExportError, match="engineered"):
        build(ExportRequest(bundle=Path("b"), manifest=manifest, files={}))


DEVICE_SCRIPT = """
import json, sys, importlib.abc
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("polars", "lightgbm", "numba", "onnx", "treelite"):
            raise ImportError(name)
sys.meta_path.insert(0, Refuse())
import edgeml.runtime, edgeml.runtime._onnx_backend as b
before = "onnxruntime" in sys.modules
backend = b.OnnxBackend.from_bundle(sys.argv[1])
value = backend.predict_row(json.loads(sys.argv[2]))
print(json.dumps([before, "onnxruntime" in sys.modules, value.tolist()]))
"""


def test_runtime_imports_onnxruntime_only_for_this_backend(binary_bundle: Path) -> None:
    export(binary_bundle, format="onnx")
    row = {"x": 0.5, "z": 0.0, "k": 3, "flag": True, "color": "red", "day": "2020-01-02",
           "stamp": "2021-03-04T05:06:07"}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", DEVICE_SCRIPT, str(binary_bundle), json.dumps(row)],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    before, after, value = json.loads(out.stdout)
    assert (before, after) == (False, True)
    assert value == pytest.approx(lightgbm_on(binary_bundle, {c: [v] for c, v in row.items()}))


def test_runtime_picks_the_onnx_export_when_it_is_the_only_one(tmp_path):
    import edgeml.runtime
    from tests.conftest import churn_like

    frame = churn_like(n=300)
    result = edgeml.train(frame, target="churn", cv_folds=0, out=tmp_path / "m.edgeml")
    export(result.bundle, format="onnx")
    predictor = edgeml.runtime.load(result.bundle)
    assert predictor.backend.name == "onnx"
    rows = frame.head(20).drop("churn")
    expected = edgeml.load(result.bundle).predict(rows)["proba_Yes"].to_numpy()
    got = predictor.predict(rows.to_dict(as_series=False))["proba_Yes"]
    np.testing.assert_allclose(got, expected, atol=1e-9)
