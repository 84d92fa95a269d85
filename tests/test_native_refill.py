"""Single rows of a narrow or compact forest walked by lanes that take the next tree as soon as
theirs is at a leaf (kernels/edgeml_forest.c, REFILL_WALK; a narrow forest's lanes as chains of
their trees, kernels/edgeml_forest_chain.c) equal LightGBM bit for bit, as the
groups of 8 trees do: trees of very different depths, single-leaf trees, fewer trees than lanes,
more outputs; through edgeml_forest_one and through the one-call path of Predictor.predict_row."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgeml.runtime
from edgeml.compile import export
from edgeml.compile._forest import parse_model
from edgeml.compile._native import core_library
from edgeml.compile._native_tables import forest_tables, pack
from edgeml.runtime import RuntimePrep
from edgeml.runtime._native_backend import NativeBackend, open_core
from edgeml.spec.prep_plan import PrepPlan
from tests.test_export_c import _train
from tests.test_export_native import lightgbm_model
from tests.test_native_narrow import COMPACT, NARROW, probe_rows

pytestmark = pytest.mark.usefixtures("private_cache")

FEATURES = 4
WALKS = ("walk-refill", "walk-groups")


@pytest.fixture(scope="module")
def core():
    return open_core(core_library()[0])


def booster_for(seed: int, rows: int, rounds: int, leaves: int, min_leaf: int, shape: str,
                classes: int) -> lgb.Booster:  # fmt: skip
    """A LightGBM forest. ``chain``: the target grows fast along one feature, so leaf-wise
    growth keeps splitting one end (deep, unbalanced trees beside shallow ones); ``noise``:
    bushy trees; ``flat``: a target with no signal beyond its first rows (single-leaf trees).
    ``classes`` > 1: multiclass with one more class than the labels use, whose trees cannot
    split (single leaves beside the others)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, FEATURES))
    x[rng.random((rows, FEATURES)) < 0.08] = np.nan
    x[:, 2] = rng.choice([-1.0, 0.0, 0.0, 1.5], rows)
    if shape == "chain":
        signal = np.exp(8 * np.nan_to_num(x[:, 0])) + rng.normal(size=rows)
    elif shape == "noise":
        signal = rng.normal(size=rows) + np.nan_to_num(x[:, 1])
    else:
        signal = np.where(np.arange(rows) < 3, 5.0, 0.0)
    params: dict[str, Any] = {
        "verbosity": -1,
        "num_threads": 1,
        "num_leaves": leaves,
        "min_data_in_leaf": min_leaf,
        "min_sum_hessian_in_leaf": 1e-9,
    }
    if classes > 1:
        edges = np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1])
        y = np.digitize(signal, edges).astype(float)
        params |= {"objective": "multiclass", "num_class": classes + 1}
    else:
        y = signal
    return lgb.train(params, lgb.Dataset(x, y, params={"verbosity": -1}), rounds)


def blob_for(booster: lgb.Booster, layout: str = "narrow") -> bytes:
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.narrow and tables.compact
    # single rows walk (no QuickScorer to choose)
    return pack(replace(tables, qs=None, narrow=layout == "narrow"))


def identity_row(engine: NativeBackend) -> Any:
    """The one-call path predict_row takes (NativeRow) with a plan that passes the features."""
    names = [f"x{i}" for i in range(FEATURES)]
    plan = PrepPlan.from_dict({
        "columns": [{"name": n, "dtype": "float", "role": "feature"} for n in names],
        "steps": [{"kind": "numeric", "column": n, "output": n} for n in names],
    })  # fmt: skip
    row = engine.row_predictor(RuntimePrep(plan))
    assert row is not None
    return lambda values: row(dict(zip(names, values.tolist(), strict=True)))


def assert_walks_exact(core: Any, booster: lgb.Booster, rows: np.ndarray, name: str) -> None:
    """Every walk of single rows equals LightGBM; a narrow forest refills as chains
    (kernels/edgeml_forest_chain.c), or with chains=False as refilling lanes."""
    truth = booster.predict(rows, num_threads=1)
    for layout, chains in (("narrow", True), ("narrow", False), ("compact", True)):
        engine = NativeBackend(core, blob_for(booster, layout), source=name, chains=chains)
        flags = struct.unpack_from("<I", blob_for(booster, layout), 48)[0]
        assert flags & (NARROW | COMPACT) == (NARROW if layout == "narrow" else COMPACT)
        assert (engine._chain is not None) == (layout == "narrow" and chains)
        one_call = identity_row(engine)
        for walk in ("walk", *WALKS):  # "walk": what edgeml_forest_open chose
            if walk != "walk":
                assert engine.set_algorithm(row=walk, batch="walk"), walk
            got = np.array([engine.predict_one(r) for r in rows]).reshape(truth.shape)
            where = f"{name} {layout} {walk} chains={chains}"
            assert np.array_equal(got, truth), f"{where}: {np.max(np.abs(got - truth))}"
            called = np.array([one_call(r) for r in rows]).reshape(truth.shape)
            assert np.array_equal(called, truth), f"{where} (one call)"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**16), rounds=st.integers(1, 30), leaves=st.integers(2, 64),
       min_leaf=st.sampled_from([1, 2, 5, 20]), shape=st.sampled_from(["chain", "noise", "flat"]),
       classes=st.sampled_from([1, 1, 2, 3]))  # fmt: skip
def test_refilling_lanes_equal_lightgbm_on_random_forests(core, seed, rounds, leaves, min_leaf,
                                                          shape, classes):  # fmt: skip
    booster = booster_for(seed, 400, rounds, leaves, min_leaf, shape, classes)
    rows = probe_rows(booster, FEATURES)[:120]
    assert_walks_exact(core, booster, rows, f"{shape} {rounds}x{leaves} K={classes}")


def depths(booster: lgb.Booster) -> list[int]:
    def depth(node: dict[str, Any]) -> int:
        if "left_child" not in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    return [depth(t["tree_structure"]) for t in booster.dump_model()["tree_info"]]


@pytest.mark.parametrize("trees", [1, 3, 7, 8, 9, 17])
def test_fewer_trees_than_lanes_and_ragged_last_trees(core, trees):
    """A forest of 1-17 deep, unbalanced trees: lanes that never get a tree, a last round
    where fewer trees are left than lanes."""
    booster = booster_for(trees, 600, trees, 48, 1, "chain", 1)
    assert booster.num_trees() == trees
    assert min(depths(booster)) >= 10  # a balanced tree of 48 leaves has depth 6
    rows = probe_rows(booster, FEATURES)[:150]
    assert_walks_exact(core, booster, rows, f"{trees} chain trees")


def test_single_leaf_trees_beside_deep_ones(core):
    booster = booster_for(4, 500, 12, 40, 1, "chain", 3)  # the fourth class's trees: 1 leaf
    shapes = depths(booster)
    assert 0 in shapes and max(shapes) >= 14
    assert_walks_exact(core, booster, probe_rows(booster, FEATURES)[:150], "single leaves")


def test_a_forest_of_single_leaves(core):
    booster = booster_for(5, 300, 3, 8, 400, "noise", 1)  # no leaf can hold 400 of 300 rows
    assert set(depths(booster)) == {0}
    assert_walks_exact(core, booster, probe_rows(booster, FEATURES)[:40], "one leaf")


def test_the_walks_are_asked_for_narrow_and_compact_forests_only(core):
    booster = lightgbm_model({"objective": "binary"}, rounds=10)  # a categorical split
    forest = parse_model(booster.model_to_string())
    wide = NativeBackend(core, pack(forest_tables(forest, category_sets=False)), source="wide")
    assert not wide.set_algorithm(row="walk-refill", batch="walk")
    assert not wide.set_algorithm(row="walk-groups", batch="walk")
    assert wide.set_algorithm(row="walk", batch="walk")
    booster = booster_for(6, 400, 5, 16, 5, "noise", 1)
    for layout in ("narrow", "compact"):
        engine = NativeBackend(core, blob_for(booster, layout), source=layout)
        assert engine.set_algorithm(row="walk-refill", batch="walk")
        # batches walk 8 rows through a tree, whatever single rows do
        rows = probe_rows(booster, FEATURES)
        assert np.array_equal(engine.predict(rows), booster.predict(rows, num_threads=1))


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory) -> Any:
    bundle = _train(tmp_path_factory.mktemp("refill"), "refill", "churn",
                    train={"num_leaves": 63, "params": {"min_data_in_leaf": 2}})  # fmt: skip
    export(bundle, format="native")
    return edgeml.runtime.load(bundle)


def test_predict_row_with_refilling_lanes_equals_lightgbm(predictor):
    lightgbm = edgeml.runtime.load(predictor.path, backend="lightgbm")
    data = json.loads((Path(predictor.path) / "reference_rows.json").read_text())
    rows = [dict(zip(data["columns"], values, strict=True)) for values in data["rows"]][:200]
    for walk in WALKS:
        assert predictor.backend.set_algorithm(row=walk, batch="walk"), walk
        for row in rows:
            assert predictor.predict_row(row) == lightgbm.predict_row(row), walk


def test_trees_of_256_node_regions_step_to_their_next_root_where_no_copy_fits(core):
    """Trees of 65-100 leaves take regions of 256 nodes, and every root's left child is a leaf
    (the rows with x0 < -1.5 have one target): such a leaf is 256 nodes from the next tree's
    first child, beyond a word's 255, so it steps to that root instead of copying its first
    step (the other leaves copy it); both ways equal LightGBM."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, FEATURES))
    y = np.where(x[:, 0] < -1.5, 50.0, rng.normal(size=3000) + x[:, 1])
    params = {"verbosity": -1, "num_threads": 1, "num_leaves": 100, "min_data_in_leaf": 1,
              "min_sum_hessian_in_leaf": 1e-9}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(x, y), 12)
    trees = booster.dump_model()["tree_info"]
    assert max(t["num_leaves"] for t in trees) > 64
    assert all("leaf_index" in t["tree_structure"]["left_child"] for t in trees)
    rows = np.vstack([probe_rows(booster, FEATURES)[:150], x[x[:, 0] < -1.5][:20]])
    assert_walks_exact(core, booster, rows, "256-node regions")


def test_a_threshold_index_beyond_a_byte_keeps_the_refilling_lanes(core):
    """The chains keep thresholds in one byte: a forest with a feature of 255 or more thresholds
    (max_bin above 256) is refused by edgeml_forest_chain and walks with the refilling lanes,
    equal to LightGBM."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(6000, FEATURES))
    y = np.sin(4 * x[:, 0]) + rng.normal(size=6000) * 0.1
    params = {"verbosity": -1, "num_threads": 1, "num_leaves": 64, "min_data_in_leaf": 1,
              "max_bin": 1023}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(x, y, params={"max_bin": 1023}), 40)
    forest = parse_model(booster.model_to_string())
    assert max(len(v) for v in forest.split_values().values()) >= 256
    engine = NativeBackend(core, blob_for(booster), source="max_bin 1023")
    assert engine._chain is None  # the chains refused it
    rows = probe_rows(booster, FEATURES)[:150]
    truth = booster.predict(rows, num_threads=1)
    assert np.array_equal(np.array([engine.predict_one(r) for r in rows]).ravel(), truth)
    assert np.array_equal(np.array([identity_row(engine)(r) for r in rows]).ravel(), truth)
