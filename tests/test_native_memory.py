"""The engine's work memory: a batch share and a single row ask for what they use (the byte
lanes' tables live once in the forest, not in every thread's work memory), and never write
past it."""

from __future__ import annotations

import ctypes
import struct
from dataclasses import replace

import numpy as np
import pytest

from edgeml.compile._cgen import _work_words
from edgeml.compile._forest import parse_model
from edgeml.compile._native import core_library
from edgeml.compile._native_tables import forest_tables, pack
from edgeml.runtime._native_backend import NativeBackend, open_core
from tests.test_native_qs_simd import byte_lanes, model
from tests.test_native_quickscorer import probe_rows

pytestmark = pytest.mark.usefixtures("private_cache")

SENTINEL = 0xA5A5A5A5


@pytest.fixture(scope="module")
def core():
    return open_core(core_library()[0])


@pytest.fixture(scope="module")
def booster():
    return model({"objective": "binary", "num_leaves": 31}, rounds=40)


def engine(core, booster, **options) -> NativeBackend:
    return NativeBackend(core, pack(forest_tables(parse_model(booster.model_to_string()))),
                         source="memory", **options)  # fmt: skip


def test_a_batch_share_leaves_the_lane_tables_to_the_forest(core, booster):
    own, per_call = engine(core, booster), engine(core, booster, lane_tables=False)
    if byte_lanes(core, own) == 0:
        pytest.skip("no byte lanes on this CPU")
    tables = own.memory["laid_out"]
    assert own._qs8 is not None and tables >= len(own._qs8) - 64 > 0
    # without the forest's tables each share lays them out in its own work memory
    assert per_call.memory["batch_per_thread"] >= own.memory["batch_per_thread"] + len(
        own._qs8) - 64  # fmt: skip
    rows = probe_rows(booster, 6)
    rows = np.ascontiguousarray(np.resize(rows, (2100, rows.shape[1])))
    assert own.set_algorithm(row="walk", batch="quickscorer")
    assert np.array_equal(own.predict(rows), booster.predict(rows))


@pytest.mark.parametrize("algorithm", ["walk", "quickscorer"])
@pytest.mark.parametrize("chains", [True, False])
def test_a_single_row_uses_only_its_own_work_memory(core, booster, algorithm, chains):
    backend = engine(core, booster, chains=chains)
    assert backend.set_algorithm(row=algorithm, batch="walk")
    words = backend._one_work
    assert backend.memory["row"] == 4 * words
    # a batch share also keeps the lanes' leaf vectors (8 per tree): a single row does not
    assert words < int(core.edgeml_forest_work_size(backend._forest_address, 1))
    assert words >= 2 * booster.num_trees()  # a leaf value (QuickScorer: vector) per tree
    one = core.edgeml_forest_one
    out = (ctypes.c_double * 1)()
    for row in probe_rows(booster, 6)[:50]:
        arena = np.full(words + 32, SENTINEL, dtype=np.uint32)
        start = -arena.ctypes.data % 8 // 4  # 8-byte aligned, as the header asks
        features = np.ascontiguousarray(row, dtype=np.float64)
        one(backend._forest_address, features.ctypes.data, ctypes.addressof(out),
            arena.ctypes.data + 4 * start)  # fmt: skip
        assert out[0] == booster.predict(row[None, :])[0]
        assert (arena[:start] == SENTINEL).all() and (arena[start + words :] == SENTINEL).all()


# -- the true requirement (a single row's codes, not a 64-row block's) --------------------------

QS_ROW, NARROW = 8, 128  # blob header flags (kernels/edgeml_forest.h)


def counts(blob: bytes) -> tuple[int, int, int]:
    """n_slots, n_trees and flags of a blob's header."""
    n_trees, n_slots = struct.unpack_from("<I", blob, 24)[0], struct.unpack_from("<I", blob, 32)[0]
    return n_slots, n_trees, struct.unpack_from("<I", blob, 48)[0]


def even(words: int) -> int:
    return max(2, words + words % 2)


def between_sentinels(predict, words: int, rows: np.ndarray, n_out: int) -> np.ndarray:
    """Each row through predict(features, out, work) with exactly `words` uint32 of 8-byte aligned
    work memory between sentinels, which must stay untouched."""
    out, answers = (ctypes.c_double * n_out)(), []
    for row in rows:
        arena = np.full(words + 32, SENTINEL, dtype=np.uint32)
        start = -arena.ctypes.data % 8 // 4
        features = np.ascontiguousarray(row, dtype=np.float64)
        predict(features.ctypes.data, ctypes.addressof(out), arena.ctypes.data + 4 * start)
        assert (arena[:start] == SENTINEL).all() and (arena[start + words :] == SENTINEL).all()
        answers.append(list(out))
    return np.array(answers)


@pytest.fixture(scope="module")
def five_hundred():
    """A forest shaped like bench_engine's 500x63 (500 trees of up to 63 leaves, 20 features)."""
    return model({"objective": "binary", "num_leaves": 63}, n_features=20, rounds=500)


@pytest.mark.parametrize("row", ["quickscorer", "walk-refill", "walk-groups", "chains"])
def test_a_single_row_of_500x63_asks_for_its_codes_and_leaf_vectors_only(core, five_hundred, row):
    tables = forest_tables(parse_model(five_hundred.model_to_string()))
    assert tables.narrow and tables.qs is not None
    blob = pack(tables)
    n_slots, n_trees, _ = counts(blob)
    backend = NativeBackend(core, blob, source="memory", chains=row == "chains")
    assert (backend._chain is not None) == (row == "chains")
    words = backend._one_work
    # the codes at a stride of 8 and a 64-bit leaf vector per tree (QuickScorer) or the dense
    # codes and an exit per chain region (8 lanes of ceil(500 / 8) + 1 regions): the most
    bound = even(max(8 * n_slots + 2 * n_trees, n_slots + 8 * ((n_trees + 7) // 8 + 1)))
    assert words == bound and backend.memory["row"] == 4 * bound
    assert words < 64 * n_slots  # a 64-row block's codes alone, what every row reserved before
    assert backend.set_algorithm(row="walk" if row == "chains" else row, batch="walk")
    rows = probe_rows(five_hundred, 20)[::3]
    address = backend._forest_address
    got = between_sentinels(lambda *a: core.edgeml_forest_one(address, *a), words, rows, 1)
    assert np.array_equal(got[:, 0], five_hundred.predict(rows))


@pytest.mark.parametrize("layout", ["narrow", "compact", "wide"])
@pytest.mark.parametrize("quickscorer", [False, True])
def test_a_mapped_blob_predicts_in_the_c_packages_work_memory(core, booster, layout, quickscorer):
    # a C package maps its blob (no chains, walks in groups) and keeps EDGEML_FOREST_ONE_WORDS
    # of its flags on the stack, the figure _cgen writes (EDGEML_WORK_BYTES) and reports
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.narrow and tables.qs is not None
    tables = replace(tables, narrow=layout == "narrow", compact=layout != "wide",
                     qs_use=QS_ROW if quickscorer else 0)  # fmt: skip
    blob = pack(tables)
    n_slots, n_trees, flags = counts(blob)
    assert bool(flags & NARROW) == (layout == "narrow") and bool(flags & QS_ROW) == quickscorer
    words = _work_words(n_slots, n_trees, flags)
    codes = n_slots if layout == "narrow" else 8 * n_slots  # dense, or one every 8 words
    assert words == even(8 * n_slots + 2 * n_trees if quickscorer else codes)
    data = np.frombuffer(blob, dtype=np.uint8).copy()  # 8-byte aligned (NumPy: 16 or more)
    forest = (ctypes.c_uint64 * (int(core.edgeml_forest_sizeof()) // 8 + 1))()
    core.edgeml_forest_map.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    assert core.edgeml_forest_map(data.ctypes.data, len(blob), ctypes.addressof(forest)) == 0
    rows = probe_rows(booster, 6)
    address = ctypes.addressof(forest)
    got = between_sentinels(lambda *a: core.edgeml_forest_one(address, *a), words, rows, 1)
    assert np.array_equal(got[:, 0], booster.predict(rows))


def test_a_walk_batch_share_holds_a_blocks_codes_only(core, booster):
    # without a QuickScorer section a batch share needs a 64-row block's codes, no leaf values
    tables = replace(forest_tables(parse_model(booster.model_to_string())), qs=None)
    blob = pack(tables)
    n_slots, _, _ = counts(blob)
    backend = NativeBackend(core, blob, source="memory", threads=2)
    share = (64 * n_slots + 15) & ~15
    assert int(core.edgeml_forest_work_size(backend._forest_address, 1)) == share + 16
    words = int(core.edgeml_forest_work_size(backend._forest_address, 2))
    assert words == 2 * share + 16
    rows = probe_rows(booster, 6)
    rows = np.ascontiguousarray(np.resize(rows, (1100, rows.shape[1])))
    out = np.empty(len(rows))
    arena = np.full(words + 32, SENTINEL, dtype=np.uint32)
    core.edgeml_forest_predict(backend._forest_address, rows.ctypes.data, len(rows),
                               out.ctypes.data, 2, arena.ctypes.data + 64)  # fmt: skip
    assert (arena[:16] == SENTINEL).all() and (arena[16 + words :] == SENTINEL).all()
    assert np.array_equal(out, booster.predict(rows))
