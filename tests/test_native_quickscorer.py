"""The engine's second algorithm, QuickScorer over the codes: equal to LightGBM and to the walk
bit for bit, on every executor (batch and single row, both algorithms), and its blob section
checked at load like the rest."""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import replace

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeml.bundle import read_bundle_files
from edgeml.compile import export
from edgeml.compile._forest import parse_model
from edgeml.compile._native import core_library
from edgeml.compile._native_choice import pick
from edgeml.compile._native_tables import HEADER_SIZE, QS_BATCH, QS_ROW, forest_tables, pack
from edgeml.compile._parity import adversarial_matrix, input_probes
from edgeml.errors import ExportError
from edgeml.runtime._native_backend import NativeBackend, open_core
from tests.test_export_native import MODELS, lightgbm_model
from tests.test_export_treelite import train

pytestmark = pytest.mark.usefixtures("private_cache")

ALGORITHMS = ("walk", "quickscorer")


@pytest.fixture(scope="module")
def core():
    return open_core(core_library()[0])


def every_executor(core, booster: lgb.Booster, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The model's output on ``rows`` by each algorithm, as a batch and row by row."""
    engine = NativeBackend(core, pack(forest_tables(parse_model(booster.model_to_string()))),
                           source="qs")  # fmt: skip
    out = {}
    for name in ALGORITHMS:
        assert engine.set_algorithm(row=name, batch=name)
        out[f"{name} batch"] = engine.predict(rows).reshape(len(rows), -1)
        out[f"{name} row"] = np.array([engine.predict_one(r) for r in rows]).reshape(len(rows), -1)
    return out


def assert_all_equal(core, booster: lgb.Booster, rows: np.ndarray) -> None:
    truth = booster.predict(rows).reshape(len(rows), -1)
    for name, values in every_executor(core, booster, rows).items():
        assert np.array_equal(values, truth), name


def probe_rows(
    booster: lgb.Booster, n_features: int, seed: int = 2, categorical: set[int] | None = None
) -> np.ndarray:
    """Random rows, every threshold and its neighbours, NaN, 0, ±inf, huge and tiny values
    (and, for ``categorical`` columns, every category and the values around them)."""
    forest = parse_model(booster.model_to_string())
    base = np.random.default_rng(seed).normal(size=(40, n_features))
    special = np.array([np.nan, 0.0, -0.0, np.inf, -np.inf, 1e300, -1e300, 1e-36, -1e-36, -1.0])
    rows = [base, adversarial_matrix(booster, base, categorical=categorical or set()),
            input_probes(base, forest.split_features(), n_features)]  # fmt: skip
    rows.append(np.repeat(special[:, None], n_features, axis=1))
    return np.vstack(rows)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_both_algorithms_equal_booster_predict_on_every_objective(core, name):
    booster = lightgbm_model(MODELS[name], categorical=False)
    assert_all_equal(core, booster, probe_rows(booster, 4))


def test_one_tree_and_one_leaf_trees(core):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 3))
    one = lgb.train({"verbosity": -1, "num_leaves": 8}, lgb.Dataset(x, x[:, 0]), 1)
    assert_all_equal(core, one, probe_rows(one, 3))
    # a constant target: every tree is a single leaf
    flat = lgb.train({"verbosity": -1}, lgb.Dataset(x, np.ones(300)), 3)
    assert all(t.num_leaves == 1 for t in parse_model(flat.model_to_string()).trees)
    assert_all_equal(core, flat, probe_rows(flat, 3))
    # the trees after the first add 0.0: left out of the tables, the sums unchanged
    assert len(forest_tables(parse_model(flat.model_to_string())).trees) == 1
    # a model whose every tree adds 0.0 has no trees left at all, and predicts 0.0
    forest = parse_model(flat.model_to_string())
    zero = replace(forest, trees=[replace(t, leaf_value=np.zeros(1)) for t in forest.trees])
    assert len(forest_tables(zero).trees) == 0
    engine = NativeBackend(core, pack(forest_tables(zero)), source="no trees")
    for name in ALGORITHMS:
        assert engine.set_algorithm(row=name, batch=name)
        assert not engine.predict(probe_rows(flat, 3)).any()
        assert engine.predict_one([1.0, np.nan, 0.0]) == [0.0]


def test_sixty_four_leaves_take_quickscorer_and_more_do_not(core):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(5000, 5))
    y = np.sin(3 * x[:, 0]) + x[:, 1] * x[:, 2]
    full = lgb.train({"verbosity": -1, "num_leaves": 64, "min_data_in_leaf": 2},
                     lgb.Dataset(x, y), 3)  # fmt: skip
    tables = forest_tables(parse_model(full.model_to_string()))
    assert tables.qs is not None and max(np.diff(tables.qs.leaf_start)) == 64
    assert_all_equal(core, full, probe_rows(full, 5))
    big = lgb.train({"verbosity": -1, "num_leaves": 65, "min_data_in_leaf": 2},
                    lgb.Dataset(x, y), 2)  # fmt: skip
    assert forest_tables(parse_model(big.model_to_string())).qs is None
    engine = NativeBackend(core, pack(forest_tables(parse_model(big.model_to_string()))),
                           source="65 leaves")  # fmt: skip
    assert not engine.set_algorithm(row="quickscorer", batch="quickscorer")
    assert engine.set_algorithm(row="walk", batch="walk")


def test_categorical_splits_read_as_category_sets_take_quickscorer(core):
    booster = lightgbm_model({"objective": "binary"}, rounds=10, categorical=True)
    forest = parse_model(booster.model_to_string())
    assert forest_tables(forest).qs is not None
    assert_all_equal(core, booster, probe_rows(booster, 4, categorical={3}))
    # categorical nodes that test their own bitsets (the wide layout) have no QuickScorer rule
    assert forest_tables(forest, category_sets=False).qs is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    leaves=st.integers(2, 64),
    rounds=st.integers(1, 8),
    missing=st.sampled_from(["nan", "zero", "none"]),
    classes=st.sampled_from([1, 3]),
    categorical=st.booleans(),
)
def test_every_executor_agrees_on_random_models(
    core, seed, leaves, rounds, missing, classes, categorical
):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 4)) * rng.choice([1.0, 100.0], 4)
    if categorical:  # column 2: categories 0..39, LightGBM splits them by sets
        x[:, 2] = rng.integers(0, 40, len(x))
    x[rng.random(x.shape) < 0.15] = np.nan
    x[rng.random(x.shape) < 0.15] = 0.0
    signal = np.nan_to_num(x[:, 0]) - np.nan_to_num(x[:, 1]) * (x[:, 2] == 0)
    params = {"verbosity": -1, "num_leaves": leaves, "min_data_in_leaf": 3, "seed": seed,
              "zero_as_missing": missing == "zero", "use_missing": missing != "none"}  # fmt: skip
    if classes > 1:
        params.update(objective="multiclass", num_class=classes)
        y = np.digitize(signal, np.quantile(signal, [0.33, 0.66])).astype(float)
    else:
        y = signal
    data = lgb.Dataset(x, y, categorical_feature=[2] if categorical else [],
                       params={"verbosity": -1, "min_data_per_group": 3})  # fmt: skip
    booster = lgb.train({**params, "min_data_per_group": 3, "cat_smooth": 1}, data, rounds)
    rows = probe_rows(booster, 4, seed, categorical={2} if categorical else None)
    assert_all_equal(core, booster, rows)


def qs_offset(blob: bytes) -> int:
    return blob.index(b"EDGEMLQS", HEADER_SIZE)


def resealed(blob: bytearray) -> bytes:
    """The blob with its CRC-32 recomputed: only the loader's index checks stand in the way."""
    blob[64:72] = b"\0" * 8
    blob[64:72] = struct.pack("<Q", zlib.crc32(bytes(blob)))
    return bytes(blob)


def flipped_is_refused_or_safe(core, blob: bytearray, start: int, end: int, data) -> None:
    """Flip 1-3 random bytes of ``blob[start:end]``, reseal it: the loader refuses it as a
    corrupted table, or it predicts without a fault (a flip no check can tell: a leaf value, a
    mask bit, a threshold or a delta that stays in range)."""
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(start, end - 1))
        blob[at] ^= data.draw(st.integers(1, 255))
    rows = np.random.default_rng(0).normal(size=(70, 4))
    rows[::7] = np.nan
    try:
        engine = NativeBackend(core, resealed(blob), source="flipped")
    except ExportError as exc:
        assert "forest table is" in str(exc)
        return
    assert engine.predict(rows).shape == (70,)
    engine.predict_one(rows[0])
    if engine.set_algorithm(row="quickscorer", batch="quickscorer"):
        # from 1,024 rows the lanes lay out their descriptors from the (checked) section
        assert engine.predict(np.vstack([rows] * 16)).shape == (1120,)


@pytest.fixture(scope="module", params=[32, 64])
def qs_tables(request: pytest.FixtureRequest):
    """A QuickScorer section of each width: trees of at most 32 leaves pack tree and mask in
    one uint64, larger ones keep a uint64 mask and a tree index."""
    leaves = 12 if request.param == 32 else 40
    booster = lightgbm_model({"objective": "binary", "num_leaves": leaves, "min_data_in_leaf": 2},
                             n=3000, rounds=4, categorical=False)  # fmt: skip
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.qs is not None and tables.qs.width == request.param
    return tables


def test_a_quickscorer_section_with_bad_indices_is_refused(core, qs_tables):
    qs = qs_tables.qs
    cases = {
        "bound past its slot": replace(qs, bound=qs.bound + np.uint32(len(qs.masks) + 1)),
        "tree out of range": replace(qs, trees=qs.trees + np.uint32(len(qs_tables.trees))),
        "mask clears the last leaf": replace(qs, masks=np.zeros_like(qs.masks)),
        "a tree of 65 leaves": replace(
            qs, leaf_start=np.concatenate([[0], qs.leaf_start[1:] + np.uint32(65)])
        ),
    }
    for name, bad in cases.items():
        with pytest.raises(ExportError, match="corrupted QuickScorer section"):
            NativeBackend(core, pack(replace(qs_tables, qs=bad)), source=name)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_a_resealed_blob_with_a_flipped_quickscorer_byte_is_refused_or_safe(core, qs_tables, data):
    good = pack(replace(qs_tables, qs_use=QS_ROW | QS_BATCH))
    flipped_is_refused_or_safe(core, bytearray(good), qs_offset(good), len(good), data)


def test_flags_without_a_section_are_refused(core, qs_tables):
    blob = bytearray(pack(replace(qs_tables, qs=None)))
    flags = struct.unpack_from("<I", blob, 48)[0]
    struct.pack_into("<I", blob, 48, flags | QS_ROW)
    with pytest.raises(ExportError, match="corrupted header"):
        NativeBackend(core, resealed(blob), source="flags")


def test_pick_needs_a_clear_margin():
    assert pick({"walk": 10.0, "quickscorer": 9.6}) == "walk"
    assert pick({"walk": 10.0, "quickscorer": 9.4}) == "quickscorer"
    assert pick({"walk": 10.0}) == "walk"


def test_export_measures_both_and_records_the_choice_in_manifest_and_blob(tmp_path):
    bundle = train(tmp_path / "src.edgeml", "binary")
    result = export(bundle, format="native")
    assert result.parity["max_abs_diff"] == 0.0
    manifest, files = read_bundle_files(bundle)
    algorithm = manifest["backends"]["native"]["algorithm"]
    blob = files["native/forest.bin"]
    flags = struct.unpack_from("<I", blob, 48)[0]
    assert algorithm["row"] in ALGORITHMS and algorithm["batch"] in ALGORITHMS
    assert bool(flags & QS_ROW) == (algorithm["row"] == "quickscorer")
    assert bool(flags & QS_BATCH) == (algorithm["batch"] == "quickscorer")
    if "reason" not in algorithm:  # both were timed
        assert set(algorithm["row_us"]) == set(ALGORITHMS) == set(algorithm["batch_us_per_row"])
    description = json.loads(files["native/model.json"])
    assert description["algorithm"] == {"row": algorithm["row"], "batch": algorithm["batch"]}
    # the RAM a prediction needs: a single row's work memory is less than a batch thread's
    memory = manifest["backends"]["native"]["memory_bytes"]
    assert 0 < memory["row"] < memory["batch_per_thread"] and memory["laid_out"] >= 0


def test_the_row_flag_governs_single_rows_and_the_batch_flag_batches(core, qs_tables):
    # QuickScorer's own copy of the leaf values, doubled (the loader cannot tell): whichever
    # path reads them shows which algorithm ran
    marked = replace(qs_tables, qs=replace(qs_tables.qs, values=qs_tables.qs.values * 2))
    rows = np.random.default_rng(8).normal(size=(20, 4))
    walk = NativeBackend(core, pack(replace(marked, qs_use=0)), source="walk")
    expected = walk.predict(rows)
    row_only = NativeBackend(core, pack(replace(marked, qs_use=QS_ROW)), source="row")
    assert np.array_equal(row_only.predict(rows), expected)
    singles = np.array([row_only.predict_one(r)[0] for r in rows])
    assert not np.array_equal(singles, expected)
    batch_only = NativeBackend(core, pack(replace(marked, qs_use=QS_BATCH)), source="batch")
    # batches take QuickScorer in SIMD lanes; a CPU without them walks (as scalar QuickScorer
    # never beat the walk on batches)
    lanes = batch_only.simd != "scalar"
    assert np.array_equal(batch_only.predict(rows), expected) != lanes
    assert np.array_equal([batch_only.predict_one(r)[0] for r in rows], expected)
