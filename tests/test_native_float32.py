"""Float32 leaf values: smaller tables for devices, kept only where the parity gate passes."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeml.bundle import read_bundle_files
from edgeml.cli import cli
from edgeml.compile import export
from edgeml.compile._forest import parse_model
from edgeml.compile._native import core_library
from edgeml.compile._native_tables import forest_blob
from edgeml.errors import ConfigError, ParityError
from edgeml.runtime._native_backend import NativeBackend, open_core
from tests.test_export_native import lightgbm_model
from tests.test_export_treelite import copy, train

pytestmark = pytest.mark.usefixtures("private_cache")
F32 = 32  # EDGEML_FOREST_F32


@pytest.fixture(scope="module")
def core():
    return open_core(core_library()[0])


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tmp_path_factory.mktemp("f32") / "regression.edgeml", "regression")


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tmp_path_factory.mktemp("f32") / "binary.edgeml", "binary")


@pytest.mark.parametrize("categorical", [True, False])
def test_float32_leaves_are_the_float32_rounding_and_both_algorithms_agree(core, categorical):
    booster = lightgbm_model({"objective": "regression"}, categorical=categorical)
    text = booster.model_to_string()
    rows = np.random.default_rng(4).normal(size=(300, 4))
    rows[::5, 1] = np.nan
    wide = NativeBackend(core, forest_blob(text), source="float64")
    small_blob = forest_blob(text, float32=True)
    small = NativeBackend(core, small_blob, source="float32")
    assert struct.unpack_from("<I", small_blob, 48)[0] & F32
    assert len(small_blob) < len(forest_blob(text))
    # the same walk on leaf values rounded to float32, summed as doubles in tree order
    forest = parse_model(text)
    leaves_32 = [t.leaf_value.astype(np.float32).astype(np.float64) for t in forest.trees]
    assert any((a != t.leaf_value).any() for a, t in zip(leaves_32, forest.trees, strict=True))
    expected = booster.predict(rows)
    assert np.abs(small.predict(rows) - expected).max() < 1e-5
    assert np.array_equal(wide.predict(rows), expected)
    outputs = []
    for algorithm in ("walk", "quickscorer"):
        if small.set_algorithm(row=algorithm, batch=algorithm):
            outputs.append(small.predict(rows))
            outputs.append(np.array([small.predict_one(r)[0] for r in rows]))
    assert len(outputs) == 4  # category sets: both algorithms run categorical models
    assert all(np.array_equal(outputs[0], o) for o in outputs[1:])


def test_float32_leaves_are_refused_where_the_gate_fails(regression, tmp_path):
    # regression outputs in the tens: float32 rounding of the leaves moves sums by ~1e-5
    with pytest.raises(ParityError, match=r"with float32 leaf values: export with float64"):
        export(copy(regression, tmp_path), format="native", options={"leaf_values": "float32"})


def test_native_export_with_float32_leaves_passes_the_gate_and_says_so(binary, tmp_path):
    bundle = copy(binary, tmp_path)
    result = export(bundle, format="native", options={"leaf_values": "float32"})
    assert result.parity["passed"] and result.parity["max_abs_diff"] <= 1e-6
    manifest, files = read_bundle_files(bundle)
    entry = manifest["backends"]["native"]
    assert entry["leaf_values"] == "float32"
    assert struct.unpack_from("<I", files["native/forest.bin"], 48)[0] & F32


def test_a_bad_leaf_values_option_is_a_config_error(regression, tmp_path):
    with pytest.raises(ConfigError, match="leaf_values = float64 | float32"):
        export(copy(regression, tmp_path), format="native", options={"leaf_values": "half"})
    with pytest.raises(ConfigError, match="unknown option"):
        export(copy(regression, tmp_path / "c"), format="c", options={"annotate": True})


def test_the_c_package_reports_smaller_tables_with_float32_leaves(binary, tmp_path):
    wide = export(copy(binary, tmp_path / "a"), format="c", out=tmp_path / "wide")
    small = export(copy(binary, tmp_path / "b"), format="c", out=tmp_path / "small",
                   options={"leaf_values": "float32"})  # fmt: skip
    assert small.parity["passed"] and small.parity["max_abs_diff"] <= 1e-6
    assert small.info["footprint"]["leaf_values"] == "float32"
    assert small.info["footprint"]["table_bytes"] < wide.info["footprint"]["table_bytes"]


def test_cli_leaf_values_option(binary, regression, tmp_path):
    ok = CliRunner().invoke(cli, ["export", str(copy(binary, tmp_path / "a")), "--format",
                                  "native", "--leaf-values", "float32", "--json"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["info"]["leaf_values"] == "float32"
    args = ["export", str(copy(regression, tmp_path / "b")), "--format", "native"]
    refused = CliRunner().invoke(cli, [*args, "--leaf-values", "float32"])
    assert refused.exit_code == 2 and "float32 leaf values" in refused.output
