"""The engine's narrow node layout (one uint32 per node: threshold, slot byte, delta to the left
child): equal to LightGBM and to the compact layout bit for bit on every shape it takes, left
for the compact or wide layout where a forest does not fit it, and checked at load."""

from __future__ import annotations

import struct
from dataclasses import replace

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeml.compile._forest import parse_model
from edgeml.compile._native import core_library
from edgeml.compile._native_tables import (
    HEADER_SIZE,
    MANY_SETS,
    NARROW_DELTA,
    NARROW_SLOTS,
    NO_CAT,
    Tables,
    forest_tables,
    pack,
)
from edgeml.compile._parity import adversarial_matrix, input_probes
from edgeml.errors import ExportError
from edgeml.runtime._native_backend import NativeBackend, open_core
from tests.test_export_native import MODELS, lightgbm_model
from tests.test_native_quickscorer import flipped_is_refused_or_safe, resealed

pytestmark = pytest.mark.usefixtures("private_cache")

NARROW, COMPACT = 128, 2  # the blob's layout flags


@pytest.fixture(scope="module")
def core():
    return open_core(core_library()[0])


def layouts(tables: Tables) -> dict[str, bytes]:
    return {"narrow": pack(tables), "compact": pack(replace(tables, narrow=False))}


def assert_exact(core, booster: lgb.Booster, rows: np.ndarray, blob: bytes, name: str) -> None:
    truth = booster.predict(rows)
    for threads in (1, 2):
        engine = NativeBackend(core, blob, threads=threads, source=name)
        got = engine.predict(rows).reshape(truth.shape)
        assert np.array_equal(got, truth), f"{name}: {np.max(np.abs(got - truth))}"
    one = np.array([engine.predict_one(row) for row in rows[:60]]).reshape(truth[:60].shape)
    assert np.array_equal(one, truth[:60]), name


def probe_rows(booster: lgb.Booster, n_features: int) -> np.ndarray:
    """Random rows (some NaN, exact zeros), every split's threshold and its neighbours, and
    the input-rule probes: 70 rows or more, so batches have full groups and a short tail."""
    forest = parse_model(booster.model_to_string())
    base = np.random.default_rng(5).normal(size=(67, n_features))
    base[::5, 0] = np.nan
    base[::3, 1] = 0.0
    return np.vstack([
        base, adversarial_matrix(booster, base, categorical=set()),
        input_probes(base, forest.split_features(), n_features),
    ])  # fmt: skip


@pytest.mark.parametrize("name", sorted(MODELS))
def test_narrow_equals_booster_predict_and_compact_on_every_objective(core, name):
    booster = lightgbm_model(MODELS[name], categorical=False)
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.narrow and tables.compact
    rows = probe_rows(booster, 4)
    for layout, blob in layouts(tables).items():
        flags = struct.unpack_from("<I", blob, 48)[0]
        assert flags & (NARROW | COMPACT) == (NARROW if layout == "narrow" else COMPACT)
        assert_exact(core, booster, rows, blob, f"{name} {layout}")


def test_narrow_nodes_are_half_the_compact_bytes(core):
    booster = lightgbm_model({"objective": "binary"}, categorical=False)
    tables = replace(forest_tables(parse_model(booster.model_to_string())), qs=None)
    blobs = layouts(tables)
    saved = len(blobs["compact"]) - len(blobs["narrow"])
    assert saved >= 4 * len(tables.nodes)  # 8 -> 4 bytes a node (plus padding)


def wide_trees() -> lgb.Booster:
    """Trees of 1,000 leaves grown on balanced data: a breadth-first level of over 128 inner
    nodes puts a left child more than 255 nodes after its parent."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20_000, 3))
    y = np.sin(3 * x[:, 0]) + np.cos(2 * x[:, 1]) * x[:, 2]
    params = {"verbosity": -1, "num_leaves": 1000, "min_data_in_leaf": 2, "num_threads": 1}
    return lgb.train(params, lgb.Dataset(x, y), 2)


def many_slots() -> lgb.Booster:
    """More than 256 (feature, missing rule) pairs in use: the slot byte cannot name them."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 300))
    y = x @ rng.normal(size=300)
    params = {"verbosity": -1, "num_leaves": 31, "min_data_in_leaf": 5, "num_threads": 1,
              "feature_fraction": 0.2}  # fmt: skip
    return lgb.train(params, lgb.Dataset(x, y), 40)


@pytest.mark.parametrize("shape", ["wide trees", "many slots", "categorical"])
def test_forests_that_do_not_fit_fall_back_and_stay_exact(core, shape):
    if shape == "wide trees":
        booster, features = wide_trees(), 3
    elif shape == "many slots":
        booster, features = many_slots(), 300
    else:
        booster, features = lightgbm_model({"objective": "binary"}, rounds=10), 4
    forest = parse_model(booster.model_to_string())  # categorical: forced wide (see below)
    tables = forest_tables(forest, category_sets=False if shape == "categorical" else None)
    assert not tables.narrow and tables.compact == (shape != "categorical")
    if shape == "many slots":
        assert len(tables.slots) > NARROW_SLOTS
    blob = pack(tables)
    assert struct.unpack_from("<I", blob, 48)[0] & NARROW == 0
    rows = np.random.default_rng(6).normal(size=(90, features))
    rows[::4, 0] = np.nan
    if shape == "categorical":
        rows = np.vstack([rows, adversarial_matrix(booster, rows, categorical={3})])
    assert_exact(core, booster, rows, blob, shape)
    if tables.compact:  # a wide forest stays wide whatever narrow says
        with pytest.raises(ExportError, match="narrow node layout cannot hold"):
            pack(replace(tables, narrow=True))
    else:
        assert pack(replace(tables, narrow=True)) == blob


def test_a_forest_of_many_category_sets_keeps_them_in_its_nodes(core):
    """More distinct category sets than MANY_SETS and 4 per tree: a row would look each up
    while its codes are computed, so the nodes test them where rows reach them (wide)."""
    rng = np.random.default_rng(7)
    x = np.column_stack([rng.integers(0, 400, 6000), rng.normal(size=6000)])
    y = np.sin(x[:, 0]) + x[:, 1]
    params = {"verbosity": -1, "num_leaves": 63, "min_data_per_group": 2, "cat_smooth": 1,
              "max_cat_threshold": 200, "num_threads": 1}  # fmt: skip
    data = lgb.Dataset(x, y, categorical_feature=[0], params={"verbosity": -1})
    booster = lgb.train(params, data, 20)
    forest = parse_model(booster.model_to_string())
    sets = forest_tables(forest, category_sets=True)
    assert len(sets.slots) > max(MANY_SETS, 4 * len(forest.trees))
    tables = forest_tables(forest)
    assert not tables.compact and tables.nodes[:, 3].min() != NO_CAT
    rows = np.vstack([x[:200], adversarial_matrix(booster, x[:200], categorical={0})])
    assert_exact(core, booster, rows, pack(tables), "many sets")
    assert_exact(core, booster, rows, pack(sets), "many sets as slots")


def test_a_wide_tree_left_child_is_more_than_a_byte_away():
    tables = forest_tables(parse_model(wide_trees().model_to_string()))
    internal = np.flatnonzero(tables.nodes[:, 0] != 0xFFFFFFFF)
    assert int((tables.nodes[internal, 2].astype(np.int64) - internal).max()) > NARROW_DELTA


@pytest.fixture(scope="module")
def narrow_tables() -> Tables:
    booster = lightgbm_model({"objective": "binary", "num_leaves": 20}, rounds=6,
                             categorical=False)  # fmt: skip
    tables = replace(forest_tables(parse_model(booster.model_to_string())), qs=None)
    assert tables.narrow
    return tables


def node_offset(tables: Tables) -> int:
    """Where the narrow node words start (edgeml_forest_open.c's lay_out)."""
    features = 4 * (tables.num_feature + 1)
    features += -features % 8
    return (
        HEADER_SIZE
        + features
        + 8 * (len(tables.thresholds) + len(tables.slots))
        + 32 * len(tables.trees)
    )


def with_node(tables: Tables, index: int, word: int) -> bytes:
    blob = bytearray(pack(tables))
    struct.pack_into("<I", blob, node_offset(tables) + 4 * index, word)
    return resealed(blob)


def test_node_offset_finds_the_narrow_nodes(narrow_tables):
    blob = pack(narrow_tables)
    at = node_offset(narrow_tables)
    words = np.frombuffer(blob, "<u4", len(narrow_tables.nodes), at)
    leaves = narrow_tables.nodes[:, 0] == 0xFFFFFFFF
    assert (words[leaves] == 0xFFFF0000).all() and (words[~leaves] & 0xFF > 0).all()


def test_narrow_nodes_with_bad_indices_are_refused(core, narrow_tables):
    nodes = narrow_tables.nodes
    last_inner = int(np.flatnonzero(nodes[:, 0] != 0xFFFFFFFF)[-1])
    leaf = int(np.flatnonzero(nodes[:, 0] == 0xFFFFFFFF)[0])
    n_slots, n_nodes = len(narrow_tables.slots), len(nodes)
    word = struct.unpack_from(
        "<I", pack(narrow_tables), node_offset(narrow_tables) + 4 * last_inner
    )[0]
    cases = {
        "slot past the slots": (last_inner, word & ~0xFF00 | n_slots << 8),
        "right child past the end": (last_inner, word & ~0xFF | min(255, n_nodes - last_inner - 1)),
        "an inner node that stays": (last_inner, word & ~0xFF),
        "a leaf that moves": (leaf, 0xFFFF0000 | 1),
        "a leaf with a slot": (leaf, 0xFFFF0000 | 1 << 8),
    }
    for name, (index, bad) in cases.items():
        with pytest.raises(ExportError, match=rf"corrupted node {index}\b"):
            NativeBackend(core, with_node(narrow_tables, index, bad), source=name)


def test_narrow_and_compact_flags_together_are_refused(core, narrow_tables):
    blob = bytearray(pack(narrow_tables))
    flags = struct.unpack_from("<I", blob, 48)[0]
    struct.pack_into("<I", blob, 48, flags | COMPACT)
    with pytest.raises(ExportError, match="corrupted header"):
        NativeBackend(core, resealed(blob), source="both layouts")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_a_resealed_blob_with_flipped_node_bytes_is_refused_or_safe(core, narrow_tables, data):
    start = node_offset(narrow_tables)
    end = start + 4 * len(narrow_tables.nodes)
    flipped_is_refused_or_safe(core, bytearray(pack(narrow_tables)), start, end, data)
