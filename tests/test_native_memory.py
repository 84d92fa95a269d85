"""The engine's work memory: a batch share and a single row ask for what they use (the byte
lanes' tables live once in the forest, not in every thread's work memory), and never write
past it."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

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
