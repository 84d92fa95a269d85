"""QuickScorer's batches in SIMD lanes (kernels/edgeml_forest_qs_simd.c): equal to
``Booster.predict`` and to the scalar QuickScorer bit for bit, whatever the row count (groups of
8 rows, the last one short), width (32- and 64-bit leaf vectors), layout and missing rule."""

from __future__ import annotations

import ctypes
import functools
import platform
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from edgeml.compile._cpackage import find_tools, kernels_dir
from edgeml.compile._forest import parse_model
from edgeml.compile._native import CORE_FLAGS, CORE_SOURCES, core_library
from edgeml.compile._native_choice import _paired, choose, pick
from edgeml.compile._native_tables import QS_BATCH, forest_tables, pack
from edgeml.compile._toolchain import compile_shared
from edgeml.errors import ExportError, ToolchainError
from edgeml.runtime._native_backend import NativeBackend, open_core
from tests.test_export_native import lightgbm_model
from tests.test_native_quickscorer import probe_rows, resealed

pytestmark = pytest.mark.usefixtures("private_cache")

ROW_COUNTS = (0, 1, 7, 8, 9, 15, 63, 64, 65, 127, 200)


@pytest.fixture(scope="module")
def core():
    return open_core(core_library()[0])


def cpu_has_avx2() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return platform.machine() == "x86_64" and cpuinfo.is_file() and " avx2" in cpuinfo.read_text()


def model(params: dict, *, n_features: int = 6, rounds: int = 12, seed: int = 3) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3000, n_features)) * rng.choice([1.0, 50.0], n_features)
    x[rng.random(x.shape) < 0.12] = np.nan
    x[rng.random(x.shape) < 0.12] = 0.0
    signal = np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) * (x[:, 2] == 0)
    if "num_class" in params:
        y = np.digitize(signal, np.quantile(signal, [0.3, 0.6])).astype(float)
    elif params.get("objective") == "binary":
        y = (signal > np.median(signal)).astype(float)
    else:
        y = signal
    settings = {"verbosity": -1, "min_data_in_leaf": 3, "seed": seed, **params}
    return lgb.train(settings, lgb.Dataset(x, y), rounds)


SHAPES = {
    "binary nan, width 32": {"objective": "binary", "num_leaves": 31},
    "regression zero-missing, width 64": {"num_leaves": 50, "zero_as_missing": True},
    "multiclass, width 32": {"objective": "multiclass", "num_class": 3, "num_leaves": 12},
    "no missing, 64 leaves": {"num_leaves": 64, "use_missing": False},
    "stumps": {"num_leaves": 2},
}


def engine_for(core, booster: lgb.Booster) -> NativeBackend:
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.qs is not None
    return NativeBackend(core, pack(tables), source="simd")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_lanes_equal_booster_and_scalar_at_every_row_count(core, shape):
    booster = model(SHAPES[shape])
    engine = engine_for(core, booster)
    probes = probe_rows(booster, 6)
    rng = np.random.default_rng(11)
    outputs = booster.num_model_per_iteration()
    for count in ROW_COUNTS:
        rows = probes[rng.integers(0, len(probes), count)]
        truth = booster.predict(rows).reshape(count, outputs)
        assert engine.set_algorithm(row="walk", batch="quickscorer")
        lanes = engine.predict(rows).reshape(count, outputs)
        assert engine.set_algorithm(row="walk", batch="quickscorer-scalar")
        scalar = engine.predict(rows).reshape(count, outputs)
        assert np.array_equal(lanes, truth), (shape, count)
        assert np.array_equal(scalar, lanes), (shape, count)


def test_every_probe_row_in_one_batch_and_on_two_threads(core):
    # the full probe set (thresholds and their neighbours, NaN, ±0, ±inf, 1e±300, 1e-36) in
    # one batch: many 64-row blocks, each ending in a short group on a thread's share
    booster = model({"objective": "multiclass", "num_class": 4, "num_leaves": 20}, rounds=20)
    rows = probe_rows(booster, 6)
    tables = forest_tables(parse_model(booster.model_to_string()))
    engine = NativeBackend(core, pack(replace(tables, qs_use=QS_BATCH)), threads=2,
                           source="two threads")  # fmt: skip
    assert np.array_equal(engine.predict(np.vstack([rows] * 9)),
                          booster.predict(np.vstack([rows] * 9)))  # fmt: skip


@pytest.mark.parametrize("compact", [True, False])
def test_both_node_layouts_feed_the_lanes(core, compact):
    # a compact forest keeps its codes shifted left by 16, a wide one does not: the lanes
    # read both
    booster = lightgbm_model({"objective": "binary", "num_leaves": 24}, rounds=15,
                             categorical=False)  # fmt: skip
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.compact
    wide = {} if compact else {"compact": False, "flags": tables.flags & ~2}  # _COMPACT
    engine = NativeBackend(core, pack(replace(tables, **wide)), source="layout")
    rows = probe_rows(booster, 4)
    assert engine.set_algorithm(row="quickscorer", batch="quickscorer")
    assert np.array_equal(engine.predict(rows), booster.predict(rows))


def test_the_core_reports_its_lanes(core):
    booster = model({"num_leaves": 8}, rounds=2)
    expected = "avx2" if cpu_has_avx2() else "scalar"
    assert engine_for(core, booster).simd == expected


def test_the_scalar_switch_is_not_a_blob_flag(core):
    booster = model({"num_leaves": 8}, rounds=2)
    tables = forest_tables(parse_model(booster.model_to_string()))
    blob = bytearray(pack(replace(tables, qs_use=QS_BATCH)))
    flags = struct.unpack_from("<I", blob, 48)[0]
    struct.pack_into("<I", blob, 48, flags | 64)  # EDGEML_FOREST_QS_SCALAR
    with pytest.raises(ExportError, match="corrupted header"):
        NativeBackend(core, resealed(blob), source="scalar flag")
    # and asking a blob without a section for scalar QuickScorer changes nothing
    walk_only = NativeBackend(core, pack(replace(tables, qs=None)), source="no section")
    assert not walk_only.set_algorithm(row="walk", batch="quickscorer-scalar")


@pytest.mark.parametrize("leaves", [12, 40])
def test_float32_leaf_values_lanes_equal_scalar(core, leaves):
    # float leaf values (devices' smaller tables) go through the lanes' other load
    booster = model({"objective": "binary", "num_leaves": leaves}, rounds=10)
    tables = replace(forest_tables(parse_model(booster.model_to_string())), float32=True)
    engine = NativeBackend(core, pack(tables), source="float32")
    rows = probe_rows(booster, 6)
    assert engine.set_algorithm(row="walk", batch="quickscorer-scalar")
    scalar = engine.predict(rows)
    assert engine.set_algorithm(row="walk", batch="quickscorer")
    assert np.array_equal(engine.predict(rows), scalar)
    assert np.max(np.abs(scalar - booster.predict(rows))) < 1e-6


def test_one_disturbed_pass_does_not_flip_the_choice():
    # pass 2's QuickScorer ran during a busy spell: its paired ratio is an outlier, the median
    # of the paired ratios is not (the ratio of the two medians, 30/10, would have flipped it)
    times = {"walk": [10.0, 10.0, 10.0], "quickscorer": [9.0, 30.0, 30.0]}
    assert _paired(times) == 3.0
    times = {"walk": [10.0, 40.0, 10.0], "quickscorer": [9.0, 36.0, 30.0]}
    assert _paired(times) == pytest.approx(0.9)
    assert pick({"walk": 1.0, "quickscorer": _paired(times)}) == "quickscorer"


def test_the_choice_times_the_lanes_and_records_them(core):
    booster = model({"objective": "binary", "num_leaves": 16}, rounds=40)
    tables = forest_tables(parse_model(booster.model_to_string()))
    rows = probe_rows(booster, 6)
    chosen, info = choose(core, tables, rows)
    assert info["lanes"] == ("avx2" if cpu_has_avx2() else "scalar")
    assert set(info["ratio"]) == {"row", "batch"}
    assert info["batch"] == pick({"walk": 1.0, "quickscorer": info["ratio"]["batch"]})
    assert bool(chosen.qs_use & QS_BATCH) == (info["batch"] == "quickscorer")


def test_categorical_models_run_their_category_sets_in_lanes(core):
    # a categorical split reads its category set's slot (code 0 in the set, 1 not): one
    # threshold, so QuickScorer's prefix rule holds and the lanes compute the set's codes
    booster = lightgbm_model({"objective": "multiclass", "num_class": 3}, rounds=10)
    forest = parse_model(booster.model_to_string())
    rows = np.random.default_rng(4).normal(size=(77, 4))
    rows[:, 3] = np.random.default_rng(5).integers(-2, 80, 77)
    rows[::5] = np.nan
    rows = np.vstack([rows, probe_rows(booster, 4, categorical={3})])
    truth = booster.predict(rows)
    engine = NativeBackend(core, pack(forest_tables(forest)), source="category sets")
    for batch in ("walk", "quickscorer"):
        assert engine.set_algorithm(row="walk", batch=batch)
        assert np.array_equal(engine.predict(rows), truth), batch
    big = np.vstack([rows] * (1100 // len(rows) + 1))  # from 1,024 rows: the byte lanes
    assert (byte_lanes(core, engine) > 0) == cpu_has_avx2()
    assert np.array_equal(engine.predict(big), booster.predict(big))
    # categorical nodes that test their own bitsets (the wide layout): no section, no lanes
    wide = forest_tables(forest, category_sets=False)
    assert wide.qs is None
    engine = NativeBackend(core, pack(wide), source="categorical")
    assert not engine.set_algorithm(row="walk", batch="quickscorer")
    assert np.array_equal(engine.predict(rows), truth)


def test_without_lanes_quickscorer_batches_walk(core, tmp_path):
    # the same core built without its SIMD lanes (as on a CPU without AVX2, or aarch64): a blob
    # whose batches chose QuickScorer walks them; scalar QuickScorer only when asked. The
    # QuickScorer leaf values are doubled (the loader cannot tell) to show which code ran.
    kernels = kernels_dir()
    library = compile_shared([kernels / name for name in CORE_SOURCES], tmp_path / "core.so",
                             flags=(*CORE_FLAGS, "-DEDGEML_NO_SIMD", f"-I{kernels}"))  # fmt: skip
    plain = open_core(library)
    booster = model({"objective": "binary", "num_leaves": 16}, rounds=8)
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.qs is not None
    marked = replace(tables, qs=replace(tables.qs, values=tables.qs.values * 2))
    rows = probe_rows(booster, 6)
    walk = NativeBackend(plain, pack(replace(marked, qs_use=0)), source="walk").predict(rows)
    engine = NativeBackend(plain, pack(replace(marked, qs_use=QS_BATCH)), source="no lanes")
    assert engine.simd == "scalar"
    assert np.array_equal(engine.predict(rows), walk)
    assert engine.set_algorithm(row="walk", batch="quickscorer-scalar")
    assert not np.array_equal(engine.predict(rows), walk)
    lanes = NativeBackend(core, pack(replace(marked, qs_use=QS_BATCH)), source="lanes")
    assert np.array_equal(lanes.predict(rows), walk) == (lanes.simd == "scalar")


DRIVER = r"""
#include "edgeml_forest.h"
#include <stdio.h>
#include <stdlib.h>

static void *slurp(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    void *data;
    if (file == NULL || fseek(file, 0, SEEK_END) != 0) {
        exit(3);
    }
    *size = (size_t)ftell(file);
    rewind(file);
    data = malloc(*size + 8); /* malloc's alignment: at least the 8 bytes a blob needs */
    if (data == NULL || fread(data, 1, *size, file) != *size) {
        exit(3);
    }
    fclose(file);
    return data;
}

/* driver BLOB ROWS N OUT: the batch with QuickScorer in lanes, then scalar, to OUT */
int main(int argc, char **argv)
{
    size_t blob_size, rows_size, where, n;
    edgeml_forest forest;
    void *blob, *rows;
    uint32_t *work;
    double *out;
    FILE *file;
    int i;
    if (argc != 5) {
        return 2;
    }
    blob = slurp(argv[1], &blob_size);
    rows = slurp(argv[2], &rows_size);
    n = (size_t)strtoul(argv[3], NULL, 10);
    if (edgeml_forest_open(blob, blob_size, &forest, &where) != 0) {
        return 4;
    }
    work = malloc(4 * edgeml_forest_work_size(&forest, 1) + 64);
    out = malloc(8 * (n + 1) * forest.n_outputs);
    file = fopen(argv[4], "wb");
    for (i = 0; i < 2; ++i) {
        uint32_t use = EDGEML_FOREST_QS_BATCH | (i ? EDGEML_FOREST_QS_SCALAR : 0u);
        if (edgeml_forest_set_algorithm(&forest, use) != 0) {
            return 5;
        }
        edgeml_forest_predict(&forest, (const double *)rows, n, out, 1, work);
        fwrite(out, 8, n * forest.n_outputs, file);
    }
    fclose(file);
    printf("%d\n", edgeml_forest_simd());
    return 0;
}
"""


@pytest.mark.slow
def test_neon_lanes_equal_scalar_and_booster_under_qemu(tmp_path):
    try:
        tools = find_tools("aarch64-linux-gnu")
    except ToolchainError as exc:
        pytest.skip(str(exc))
    kernels = kernels_dir()
    (tmp_path / "driver.c").write_text(DRIVER)
    driver = tmp_path / "driver"
    sources = [str(kernels / name) for name in CORE_SOURCES]
    subprocess.run([tools.compiler, "-O2", "-std=c99", "-ffp-contract=off", f"-I{kernels}",
                    *sources, str(tmp_path / "driver.c"), "-lm", "-pthread", "-o", str(driver)],
                   check=True, capture_output=True)  # fmt: skip
    for params in (SHAPES["binary nan, width 32"], SHAPES["regression zero-missing, width 64"],
                   SHAPES["multiclass, width 32"]):  # fmt: skip
        booster = model(params)
        outputs = booster.num_model_per_iteration()
        tables = forest_tables(parse_model(booster.model_to_string()))
        (tmp_path / "forest.bin").write_bytes(pack(tables))
        for count in (9, 131):
            rows = np.ascontiguousarray(probe_rows(booster, 6)[:count])
            rows.tofile(tmp_path / "rows.bin")
            result = subprocess.run(
                [*tools.runner, str(driver), str(tmp_path / "forest.bin"),
                 str(tmp_path / "rows.bin"), str(count), str(tmp_path / "out.bin")],
                check=True, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert result.stdout.strip() == "1"  # NEON
            lanes, scalar = np.fromfile(tmp_path / "out.bin").reshape(2, count, outputs)
            assert np.array_equal(lanes, scalar), (params, count)
            assert np.array_equal(lanes, booster.predict(rows).reshape(count, outputs))


def byte_lanes(core, engine: NativeBackend) -> int:
    """edgeml_qs8_count of an opened forest: the byte lanes' descriptors (0: not used)."""
    function = core.edgeml_qs8_count
    function.argtypes = [ctypes.c_void_p]
    function.restype = ctypes.c_uint32
    return int(function(engine._forest_address))


@pytest.mark.parametrize(
    "shape",
    ["binary nan, width 32", "multiclass, width 32", "stumps", "float32",
     "regression zero-missing, width 64", "no missing, 64 leaves", "float32, width 64"],
)  # fmt: skip
@pytest.mark.parametrize("count", [1024, 1029, 1055, 1100, 1153])
def test_byte_lanes_equal_booster_and_scalar(core, shape, count):
    # batches of at least 1,024 rows prepare the byte lanes (32 rows per vector) on AVX2:
    # passes of 128 rows (two blocks of 64), the last one short of a block, a group of 32 or 8;
    # width-64 forests (trees of 33-64 leaves) take up to 8 byte slices a tree
    default = {"objective": "binary", "num_leaves": 60 if "64" in shape else 20}
    booster = model(SHAPES.get(shape, default))
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.qs is not None and tables.qs.width == (64 if "64" in shape else 32)
    tables = replace(tables, float32=shape.startswith("float32"))
    engine = NativeBackend(core, pack(tables), source="bytes")
    assert (byte_lanes(core, engine) > 0) == cpu_has_avx2()
    probes = probe_rows(booster, 6)
    rows = probes[np.random.default_rng(count).integers(0, len(probes), count)]
    outputs = booster.num_model_per_iteration()
    assert engine.set_algorithm(row="walk", batch="quickscorer")
    lanes = engine.predict(rows).reshape(count, outputs)
    assert engine.set_algorithm(row="walk", batch="quickscorer-scalar")
    scalar = engine.predict(rows).reshape(count, outputs)
    assert np.array_equal(lanes, scalar), shape
    if not shape.startswith("float32"):
        assert np.array_equal(lanes, booster.predict(rows).reshape(count, outputs)), shape


@pytest.mark.parametrize("compact", [True, False])
def test_byte_lanes_read_both_node_layouts_on_two_threads(core, compact):
    booster = model({"objective": "multiclass", "num_class": 4, "num_leaves": 20}, rounds=20)
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.compact
    wide = {} if compact else {"compact": False, "flags": tables.flags & ~2}  # _COMPACT
    engine = NativeBackend(core, pack(replace(tables, qs_use=QS_BATCH, **wide)), threads=2,
                           source="layout")  # fmt: skip
    rows = np.vstack([probe_rows(booster, 6)] * 12)
    assert len(rows) >= 2048  # each thread's share prepares the byte lanes
    assert np.array_equal(engine.predict(rows), booster.predict(rows))


def test_byte_lanes_only_where_codes_fit_a_byte(core):
    # a feature with more than 254 thresholds keeps the 32-bit lanes, still exact
    rng = np.random.default_rng(8)
    x = rng.normal(size=(20000, 2))
    booster = lgb.train({"verbosity": -1, "num_leaves": 31, "max_bin": 1023, "min_data_in_leaf": 2},
                        lgb.Dataset(x, x[:, 0] * 3 + np.sin(x[:, 1] * 40)), 150)  # fmt: skip
    forest = parse_model(booster.model_to_string())
    assert len(forest.split_values()[0]) > 254
    engine = NativeBackend(core, pack(replace(forest_tables(forest), qs_use=QS_BATCH)),
                           source="many thresholds")  # fmt: skip
    assert byte_lanes(core, engine) == 0
    rows = rng.normal(size=(1500, 2))
    assert np.array_equal(engine.predict(rows), booster.predict(rows))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("count", [200, 2100])
def test_batches_align_their_work_memory_inside_the_size_they_ask_for(core, threads, count):
    # a caller's buffer may start anywhere 4-byte aligned (malloc gives 16): the core moves to
    # the next 64-byte boundary inside edgeml_forest_work_size's slack, never past its end
    booster = model({"objective": "multiclass", "num_class": 3, "num_leaves": 12}, rounds=20)
    tables = forest_tables(parse_model(booster.model_to_string()))
    engine = NativeBackend(core, pack(replace(tables, qs_use=QS_BATCH)), threads=threads,
                           source="aligned")  # fmt: skip
    probes = probe_rows(booster, 6)
    rows = np.ascontiguousarray(probes[np.random.default_rng(count).integers(0, len(probes),
                                                                          count)])  # fmt: skip
    truth = booster.predict(rows)
    words = engine._work_size
    for offset in range(0, 64, 4):
        arena = np.full(words + 64, 0xA5A5A5A5, dtype=np.uint32)
        start = (-arena.ctypes.data % 64 + offset) // 4
        out = np.empty_like(truth)
        engine._predict(engine._forest_address, rows.ctypes.data, count, out.ctypes.data,
                        threads, arena.ctypes.data + 4 * start)  # fmt: skip
        assert np.array_equal(out, truth), offset
        untouched = np.r_[arena[:start], arena[start + words :]]
        assert (untouched == 0xA5A5A5A5).all(), offset


@functools.cache
def varied_leaf_counts() -> lgb.Booster:
    """A multiclass model whose trees have 1 to 32 leaves: the byte lanes' exits in registers
    (at most 4 leaves, 5-8) and by loads (1-4 byte slices), in one forest."""
    rng = np.random.default_rng(13)
    x = rng.normal(size=(2500, 6))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = np.digitize(x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=2500) * 0.5, [-1.0, 0.0, 1.0])
    settings = {"objective": "multiclass", "num_class": 4, "num_leaves": 32, "verbosity": -1,
                "min_data_in_leaf": 5, "min_gain_to_split": 0.5, "seed": 13}  # fmt: skip
    return lgb.train(settings, lgb.Dataset(x, y.astype(float)), 40)


# the byte lanes' passes are 128 rows: the last pass full (1,152), of one block (1,088) or
# short of one (1,055), of one block and a row (1,089), of 3 or 3.5 groups of 32 (1,120,
# 1,135); on two threads each share's own last pass (2,177: 1,089 + 1,088; 2,305)
PASS_COUNTS = [1024, 1025, 1055, 1056, 1087, 1088, 1089, 1120, 1135, 1151, 1152, 1153, 1200,
               2100, 2177, 2305]  # fmt: skip


def _lanes_equal_scalar_and_lightgbm(core, booster, tables, count, threads, source):
    """``count`` probe rows through the byte lanes (where the CPU has AVX2): the same outputs
    as the scalar QuickScorer, float32 leaves or not, and LightGBM's with float64 leaves."""
    probes = probe_rows(booster, 6)
    rows = probes[np.random.default_rng(count).integers(0, len(probes), count)]
    truth = booster.predict(rows)
    for float32 in (False, True):
        engine = NativeBackend(core, pack(replace(tables, float32=float32, qs_use=QS_BATCH)),
                               threads=threads, source=source)  # fmt: skip
        assert (byte_lanes(core, engine) > 0) == cpu_has_avx2()
        lanes = engine.predict(rows)
        assert engine.set_algorithm(row="walk", batch="quickscorer-scalar")
        assert np.array_equal(lanes, engine.predict(rows)), float32
        if not float32:
            assert np.array_equal(lanes, truth)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("count", PASS_COUNTS)
def test_byte_lanes_exits_for_every_tree_size(core, count, threads):
    booster = varied_leaf_counts()
    tables = forest_tables(parse_model(booster.model_to_string()))
    leaves = np.diff(tables.qs.leaf_start)
    for low, high in ((1, 4), (5, 8), (9, 16), (17, 24), (25, 32)):  # each kind of exit
        assert np.any((leaves >= low) & (leaves <= high)), (low, high)
    _lanes_equal_scalar_and_lightgbm(core, booster, tables, count, threads, "tree sizes")


@functools.cache
def varied_wide_trees() -> lgb.Booster:
    """A regression model whose trees have up to 64 leaves (width 64): the byte lanes' exits over
    1-8 byte slices a tree, in one forest."""
    rng = np.random.default_rng(17)
    x = rng.normal(size=(4000, 6))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = np.nan_to_num(x[:, 0]) * np.nan_to_num(x[:, 1]) + np.sin(np.nan_to_num(x[:, 2]) * 3)
    settings = {"num_leaves": 64, "verbosity": -1, "min_data_in_leaf": 5,
                "min_gain_to_split": 4.0, "seed": 17}  # fmt: skip
    return lgb.train(settings, lgb.Dataset(x, y + rng.normal(size=4000) * 0.3), 40)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("count", [1024, 1055, 1089, 1135, 1153, 2177])
def test_byte_lanes_exits_for_wide_trees(core, count, threads):
    booster = varied_wide_trees()
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.qs is not None and tables.qs.width == 64
    slices = (np.diff(tables.qs.leaf_start) + 7) // 8
    assert {1, 4, 5, 8} <= set(slices.tolist()), sorted(set(slices.tolist()))
    _lanes_equal_scalar_and_lightgbm(core, booster, tables, count, threads, "wide trees")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("count", [64, 100, 129, 500, 1024, 1153, 2177, 5000])
def test_byte_lanes_tables_laid_out_once_per_forest(core, count, threads):
    # the backend lays the byte lanes' tables out once in its own memory (edgeml_forest_qs8);
    # batches read them there, on every thread, instead of laying them out per call and share,
    # and take the byte lanes from 64 rows a share (1,024 without)
    for booster in (varied_wide_trees(), varied_leaf_counts()):
        tables = pack(replace(forest_tables(parse_model(booster.model_to_string())),
                              qs_use=QS_BATCH))  # fmt: skip
        own = NativeBackend(core, tables, threads=threads, source="own tables")
        per_call = NativeBackend(core, tables, threads=threads, source="per call",
                                 lane_tables=False)  # fmt: skip
        assert (own._qs8 is not None) == cpu_has_avx2() and per_call._qs8 is None
        probes = probe_rows(booster, 6)
        rows = probes[np.random.default_rng(count).integers(0, len(probes), count)]
        truth = booster.predict(rows)
        for _ in range(2):  # and again: nothing a call wrote changed them
            assert np.array_equal(own.predict(rows), truth)
        assert np.array_equal(per_call.predict(rows), truth)


def test_byte_lanes_tree_blocks_without_some_outputs(core):
    # the byte lanes run the trees in blocks of 16 KB of slices (16 trees of 57-64 leaves): with
    # 20 classes a block holds no tree of some outputs, whose sums wait for the next block
    rng = np.random.default_rng(23)
    x = rng.normal(size=(6000, 5))
    x[rng.random(x.shape) < 0.05] = np.nan
    y = np.digitize(np.nan_to_num(x[:, 0]) + rng.normal(size=6000) * 0.3,
                    np.linspace(-2, 2, 19)).astype(float)  # fmt: skip
    settings = {"objective": "multiclass", "num_class": 20, "num_leaves": 64, "verbosity": -1,
                "min_data_in_leaf": 2, "min_sum_hessian_in_leaf": 0, "seed": 23}  # fmt: skip
    booster = lgb.train(settings, lgb.Dataset(x, y), 4)
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.qs is not None and np.diff(tables.qs.leaf_start).max() > 56
    engine = NativeBackend(core, pack(replace(tables, qs_use=QS_BATCH)), source="20 classes")
    assert (byte_lanes(core, engine) > 0) == cpu_has_avx2()
    probes = probe_rows(booster, 5)
    rows = probes[np.random.default_rng(1).integers(0, len(probes), 1153)]
    lanes = engine.predict(rows)
    assert np.array_equal(lanes, booster.predict(rows))
    assert engine.set_algorithm(row="walk", batch="quickscorer-scalar")
    assert np.array_equal(lanes, engine.predict(rows))


@pytest.mark.parametrize("count", [200, 1153])
def test_codes_by_windows_of_16_thresholds(core, count):
    # a feature with 33-256 thresholds is coded by compares with every 16th threshold, then 4
    # gathers in its window of 16 (the last window shorter): features of 28-145 thresholds
    rng = np.random.default_rng(29)
    x = rng.normal(size=(8000, 6))
    x[rng.random(x.shape) < 0.05] = np.nan
    y = np.nan_to_num(x).sum(axis=1) + np.sin(np.nan_to_num(x[:, 0]) * 5)
    settings = {"verbosity": -1, "num_leaves": 31, "min_data_in_leaf": 2, "seed": 29,
                "max_bin_by_feature": [36, 48, 50, 66, 130, 255]}  # fmt: skip
    booster = lgb.train(settings, lgb.Dataset(x, y), 60)
    forest = parse_model(booster.model_to_string())
    counts = sorted(len(v) for v in forest.split_values().values())
    assert counts[0] <= 32 < counts[1] and 64 < counts[-1] <= 256, counts
    engine = NativeBackend(core, pack(replace(forest_tables(forest), qs_use=QS_BATCH)),
                           source="windows")  # fmt: skip
    probes = probe_rows(booster, 6)
    rows = probes[np.random.default_rng(count).integers(0, len(probes), count)]
    lanes = engine.predict(rows)
    assert np.array_equal(lanes, booster.predict(rows))
    assert engine.set_algorithm(row="walk", batch="quickscorer-scalar")
    assert np.array_equal(lanes, engine.predict(rows))
