"""``edgeml export --format native``: edgeml's tree engine equals LightGBM; bad tables refused."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import edgeml
import edgeml.runtime
from edgeml.bundle import read_bundle_files
from edgeml.cli import cli
from edgeml.compile import _native_tables, export
from edgeml.compile._forest import Forest, parse_model
from edgeml.compile._native import core_library
from edgeml.compile._native_pyrow import python_headers
from edgeml.compile._native_tables import (
    IN_SET,
    LEAF,
    Tables,
    forest_blob,
    forest_tables,
    pack,
)
from edgeml.compile._parity import adversarial_matrix, input_probes
from edgeml.errors import ExportError, ParityError
from edgeml.runtime._native_backend import NativeBackend, open_core
from tests.test_export_treelite import copy, train

# Compiled cores and libraries go to a cache of this module's own, not ~/.cache/edgeml.
pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture(scope="module")
def core():
    return open_core(core_library()[0])


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("native")
    return {
        "binary": train(root / "binary.edgeml", "binary"),
        "multiclass": train(root / "multiclass.edgeml", "multiclass"),
        "regression": train(root / "regression.edgeml", "regression"),
        "zero_as_missing": train(root / "zero.edgeml", "binary", zero_as_missing=True),
    }


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression", "zero_as_missing"])
def test_parity_is_exact_on_every_task_and_load_picks_native(bundles, tmp_path, task):
    bundle = copy(bundles[task], tmp_path)
    result = export(bundle, format="native")
    assert result.parity["passed"] and result.parity["max_abs_diff"] == 0.0
    reference_rows = len(json.loads((bundle / "reference_rows.json").read_text())["rows"])
    assert result.parity["rows"] > reference_rows  # adversarial and input-rule probes too
    manifest, files = read_bundle_files(bundle)
    entry = manifest["backends"]["native"]
    # the CPython extension for single rows where this Python has its headers (test_native_pyrow)
    extension = ["native/edgeml_pyrow.abi3.so"] if python_headers() else []
    tables = ["native/forest.bin", "native/model.json"]
    assert entry["files"] == ["native/core.so", *extension, *tables]
    assert entry["num_output"] == (3 if task == "multiclass" else 1)
    assert entry["size_bytes"] == len(files["native/forest.bin"])
    predictor = edgeml.runtime.load(bundle)
    assert predictor.backend_name == "native"
    fallback = edgeml.runtime.load(bundle, backend="lightgbm")
    rows = json.loads((bundle / "reference_rows.json").read_text())
    columns = rows["columns"]
    for values in rows["rows"][:20]:
        row = dict(zip(columns, values, strict=True))
        assert predictor.predict_row(row) == fallback.predict_row(row)


def lightgbm_model(
    params: dict, n: int = 1500, rounds: int = 20, categorical: bool = True
) -> lgb.Booster:
    """NaN, exact zeros, a categorical feature (column 3) with many codes (a numeric one when
    not ``categorical``: the engine then lays nodes out compact)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4))
    x[rng.random((n, 4)) < 0.1] = np.nan
    x[:, 1] = rng.choice([-1.0, 0.0, 0.0, 2.0], n)
    x[:, 3] = rng.integers(0, 70, n)
    signal = np.nan_to_num(x[:, 0]) + (x[:, 1] == 0) + np.isin(x[:, 3], [3, 40, 65])
    objective = params.get("objective", "regression")
    if objective in ("binary", "cross_entropy"):
        y = (signal > 0.8).astype(float)
    elif "num_class" in params:
        y = np.digitize(signal, [0.3, 1.2]).astype(float)
    elif objective == "poisson":
        y = np.exp(signal / 2)
    else:
        y = signal + rng.normal(0, 0.2, n)
    base = {"verbosity": -1, "num_leaves": 12, "min_data_per_group": 5, "cat_smooth": 1,
            "num_threads": 1}  # fmt: skip
    data = lgb.Dataset(x, y, categorical_feature=[3] if categorical else [],
                       params={"verbosity": -1})  # fmt: skip
    return lgb.train({**base, **params}, data, rounds)


MODELS = {
    "binary": {"objective": "binary"},
    "multiclass": {"objective": "multiclass", "num_class": 3},
    "multiclassova": {"objective": "multiclassova", "num_class": 3},
    "zero_as_missing": {"objective": "binary", "zero_as_missing": True},
    "no_missing": {"objective": "regression", "use_missing": False},
    "rf": {"objective": "binary", "boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.7},
    "dart": {"objective": "regression", "boosting": "dart"},
    "goss": {"objective": "regression", "data_sample_strategy": "goss"},
    "poisson": {"objective": "poisson"},
    "sqrt": {"objective": "regression", "reg_sqrt": True},
    "cross_entropy": {"objective": "cross_entropy"},
}


def laid_out(forest: Forest, layout: str) -> Tables:
    """The forest's tables in ``layout``: ``wide`` (categorical nodes test their own bitsets),
    ``sets`` (they read category-set slots) or ``compact`` (a forest without categories)."""
    tables = forest_tables(forest, category_sets=layout != "wide")
    split = any((tree.decision_type & 1).any() for tree in forest.trees)
    assert split == (len(tables.words) > 0)  # (a random forest here never splits it)
    assert tables.compact == (layout != "wide" or not split)
    return tables


LAYOUTS = ["wide", "sets", "compact"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_engine_equals_booster_predict_bit_for_bit(core, name, layout):
    booster = lightgbm_model(MODELS[name], categorical=layout != "compact")
    forest = parse_model(booster.model_to_string())
    blob = pack(laid_out(forest, layout))
    base = np.random.default_rng(2).normal(size=(40, 4))
    rows = np.vstack([
        base, adversarial_matrix(booster, base, categorical={3}),
        input_probes(base, forest.split_features(), 4),
    ])  # fmt: skip
    truth = booster.predict(rows)
    for threads in (1, 2):
        engine = NativeBackend(core, blob, threads=threads, source=name)
        assert np.array_equal(engine.predict(rows).reshape(truth.shape), truth)
    one = np.array([engine.predict_one(row) for row in rows[:50]])
    assert np.array_equal(one.reshape(truth[:50].shape), truth[:50])


@pytest.mark.parametrize("categorical", [True, False])
def test_a_large_batch_on_threads_equals_one_thread(core, categorical):
    booster = lightgbm_model({"objective": "multiclass", "num_class": 3}, rounds=10,
                             categorical=categorical)  # fmt: skip
    blob = forest_blob(booster.model_to_string())
    rows = np.random.default_rng(3).normal(size=(5000, 4))
    one = NativeBackend(core, blob, threads=1, source="one").predict(rows)
    two = NativeBackend(core, blob, threads=2, source="two").predict(rows)
    assert np.array_equal(one, two) and np.array_equal(one, booster.predict(rows))


def test_the_ir_reads_what_lightgbm_dumps():
    booster = lightgbm_model({"objective": "multiclass", "num_class": 3}, rounds=4)
    forest = parse_model(booster.model_to_string())
    dump = booster.dump_model()
    assert (forest.num_feature, forest.num_class) == (4, 3)
    assert forest.link.function == "softmax" and len(forest.trees) == len(dump["tree_info"])
    for tree, info in zip(forest.trees, dump["tree_info"], strict=True):
        assert tree.num_leaves == info["num_leaves"]
        root = info["tree_structure"]
        if "split_feature" in root:
            assert tree.split_feature[0] == root["split_feature"]
            if root["decision_type"] == "==":
                expected = [int(c) for c in str(root["threshold"]).split("||")]
                assert tree.categories(0) == expected
            else:
                assert tree.threshold[0] == root["threshold"]
                assert tree.default_left(0) == root["default_left"]


def test_linear_trees_are_refused_naming_the_tree():
    booster = lightgbm_model({"objective": "regression", "linear_tree": True}, rounds=2)
    with pytest.raises(ExportError, match=r"tree 0: a linear tree"):
        parse_model(booster.model_to_string())


@pytest.fixture(scope="module", params=LAYOUTS)
def small_blob(request: pytest.FixtureRequest) -> bytes:
    categorical = request.param != "compact"  # 10 rounds split the category
    booster = lightgbm_model({"objective": "binary"}, rounds=10 if categorical else 3,
                             categorical=categorical)  # fmt: skip
    return pack(laid_out(parse_model(booster.model_to_string()), request.param))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_corrupted_or_truncated_blob_is_refused_never_read_out_of_range(core, small_blob, data):
    blob = bytearray(small_blob)
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(blob) - 1))
            blob[at] ^= data.draw(st.integers(1, 255))
        assume(bytes(blob) != small_blob)  # two flips of one byte can cancel out
    with pytest.raises(ExportError, match="forest table is"):
        NativeBackend(core, bytes(blob), source="fuzzed")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_blob_with_a_valid_checksum_but_bad_indices_is_refused(core, layout):
    booster = lightgbm_model({"objective": "binary"}, rounds=10, categorical=layout != "compact")
    tables = laid_out(parse_model(booster.model_to_string()), layout)
    internal = int(np.flatnonzero(tables.nodes[:, 0] != LEAF)[-1])
    bad = tables.nodes.copy()
    bad[internal, 2] = len(bad) - 1  # its right child (left + 1) would be past the end
    with pytest.raises(ExportError, match=rf"corrupted node {internal}\b"):
        NativeBackend(core, pack(replace(tables, nodes=bad)), source="bad index")
    bad = tables.slots.copy()
    bad[0, 0] = 99  # a feature the rows do not have
    with pytest.raises(ExportError, match="corrupted slot 0"):
        NativeBackend(core, pack(replace(tables, slots=bad)), source="bad slot")
    if tables.compact:  # a compact forest cannot hold a categorical split (its codes are 16-bit)
        bad = tables.slots.copy()
        bad[0, 1] = 5
        with pytest.raises(ExportError, match="corrupted slot 0"):
            NativeBackend(core, pack(replace(tables, slots=bad)), source="compact category")
    if layout == "sets":  # a set (its count of words, then the words) lies inside words[]
        at = int(np.flatnonzero(tables.slots[:, 1] & 0xFF == IN_SET)[-1])
        last = len(tables.words) - 1
        bad = tables.slots.copy()
        bad[at, 1] = IN_SET | last << 8  # a set counted at the last word: its one word is past
        words = tables.words.copy()
        words[last] = 1
        with pytest.raises(ExportError, match=f"corrupted slot {at}"):
            NativeBackend(core, pack(replace(tables, slots=bad, words=words)), source="set")
        bad[at, 1] = IN_SET | (last + 1) << 8  # the set's offset itself past the end
        with pytest.raises(ExportError, match=f"corrupted slot {at}"):
            NativeBackend(core, pack(replace(tables, slots=bad)), source="set offset")


def test_a_blob_of_the_previous_layout_is_refused_by_version(core, monkeypatch):
    booster = lightgbm_model({"objective": "binary"}, rounds=2, categorical=False)
    monkeypatch.setattr(_native_tables, "VERSION", _native_tables.VERSION - 1)
    old = forest_blob(booster.model_to_string())
    with pytest.raises(ExportError, match="written by another version of edgeml's engine"):
        NativeBackend(core, old, source="old")


def test_a_tampered_engine_is_refused_by_the_gate(bundles, tmp_path, monkeypatch):
    honest = NativeBackend.predict

    def tampered(self, inputs):
        out = honest(self, inputs)
        out[3] += 1e-3
        return out

    monkeypatch.setattr(NativeBackend, "predict", tampered)
    with pytest.raises(ParityError, match=r"native export refused: row 3 "):
        export(copy(bundles["regression"], tmp_path), format="native")


def test_single_rows_are_gated_one_by_one_through_their_own_walk(bundles, tmp_path, monkeypatch):
    # single rows run other code than batches (the chains): a wrong single row is refused too
    honest, calls = NativeBackend.predict_one, [0]

    def tampered(self, features):
        out = honest(self, features)
        calls[0] += self.source != "choice"  # not export's timing of the algorithms
        return [v + 1e-3 for v in out] if calls[0] == 3 and self.source != "choice" else out

    monkeypatch.setattr(NativeBackend, "predict_one", tampered)
    with pytest.raises(ParityError, match=r"native \(single rows: chains\) export refused: row 2 "):
        export(copy(bundles["regression"], tmp_path), format="native")


def test_cli_export_native_and_a_missing_table_is_a_clear_error(bundles, tmp_path):
    bundle = copy(bundles["binary"], tmp_path)
    result = CliRunner().invoke(cli, ["export", str(bundle), "--format", "native", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["parity"]["max_abs_diff"] == 0.0
    (bundle / "native" / "forest.bin").unlink()
    with pytest.raises(edgeml.EdgeMLError):
        edgeml.runtime.load(bundle, backend="native", verify=False)
