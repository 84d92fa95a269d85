"""``edgeml export --format treelite``: a TL2cgen library equal to LightGBM, compiled and cached."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

import edgeml
from edgeml.bundle import read_bundle_files
from edgeml.compile import _parity, _toolchain, _treecode, _treelite, export
from edgeml.compile._treecode import CATEGORICAL, NUMERIC, ZERO_AS_MISSING, feature_kinds
from edgeml.errors import ConfigError, ExportError, ParityError, ToolchainError
from edgeml.runtime._treelite_backend import TreeliteBackend
from tests.conftest import shared

# Few rounds, one LightGBM thread: the test machine is small and shared.
FEW_ROUNDS = {"num_boost_round": 30, "early_stopping_rounds": 0}


# Compiled cores and libraries go to a cache of this module's own, not ~/.cache/edgeml.
pytestmark = pytest.mark.usefixtures("private_cache")


def synthetic(task: str, n: int = 800, seed: int = 0) -> pl.DataFrame:
    """NaN, exact zeros, negatives, a native categorical with a missing value, for each task."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    z = rng.choice([-1.0, 0.0, 0.0, 1.0, 2.5], n)
    k = rng.integers(0, 40, n).astype(float)
    color = rng.choice(["red", "green", "blue", "teal", "gold", "grey"], n).astype(object)
    color[rng.random(n) < 0.05] = None
    score = np.nan_to_num(x) + (z == 0) * 1.5 + 0.03 * k + np.isin(color, ["red", "teal"]) * 1.2
    noisy = score + rng.normal(0, 0.4, n)
    if task == "binary":
        y: np.ndarray = np.where(noisy > 1.5, "yes", "no")
    elif task == "multiclass":
        y = np.array(["a", "b", "c"])[np.digitize(noisy, [1.0, 2.0])]
    else:
        y = 100 * noisy
    return pl.DataFrame(
        {"x": x, "z": z, "k": k, "color": pl.Series(list(color), dtype=pl.String), "y": y}
    )


def train(path: Path, task: str, **params: object) -> Path:
    config = edgeml.Config.from_dict(
        {"train": {**FEW_ROUNDS, "params": {"num_threads": 1, "min_data_per_group": 5, **params}}}
    )
    return edgeml.train(synthetic(task), target="y", config=config, cv_folds=0, out=path).bundle


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("treelite")
    return {
        "binary": train(root / "binary.edgeml", "binary"),
        "multiclass": train(root / "multiclass.edgeml", "multiclass"),
        "regression": train(root / "regression.edgeml", "regression"),
        "zero_as_missing": train(root / "zero.edgeml", "binary", zero_as_missing=True),
    }


def copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / bundle.name))


def model_text(bundle: Path) -> str:
    return (bundle / "model.txt").read_text()


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression", "zero_as_missing"])
def test_parity_on_every_task(bundles, tmp_path, task):
    bundle = copy(bundles[task], tmp_path)
    result = export(bundle, format="treelite")
    assert result.parity["passed"] and result.parity["max_abs_diff"] <= 1e-6
    reference_rows = len(json.loads((bundle / "reference_rows.json").read_text())["rows"])
    assert result.parity["rows"] > reference_rows  # adversarial and input-rule probes too
    manifest, files = read_bundle_files(bundle)
    entry = manifest["backends"]["treelite"]
    assert entry["files"] == ["treelite/model.json", "treelite/model.so"]
    assert entry["parity"] == result.parity and entry["library"] == "treelite/model.so"
    assert entry["size_bytes"] == len(files["treelite/model.so"])
    assert entry["num_feature"] == len(manifest["features"]["model"])
    assert entry["num_output"] == (3 if task == "multiclass" else 1)
    description = json.loads(files["treelite/model.json"])
    assert description["task"] == manifest["task"] and description["num_feature"] > 0


def test_the_model_uses_native_categorical_and_zero_as_missing_splits(bundles):
    kinds = feature_kinds(model_text(bundles["binary"]), 4)
    assert CATEGORICAL in kinds and ZERO_AS_MISSING not in kinds
    assert ZERO_AS_MISSING in feature_kinds(model_text(bundles["zero_as_missing"]), 4)


@pytest.mark.parametrize("options", [{"annotate": True}, {"quantize": True},
                                     {"annotate": True, "quantize": True}])  # fmt: skip
def test_annotated_and_quantized_libraries_are_equal_too(bundles, tmp_path, options):
    bundle = copy(bundles["multiclass"], tmp_path)
    result = export(bundle, format="treelite", options=options)
    assert result.parity["passed"]
    assert all(result.info[name] for name in options)


def test_without_edgemls_input_rules_treelite_differs_and_the_gate_refuses(
    bundles, tmp_path, monkeypatch
):
    # Plain Treelite semantics: zero-as-missing nodes send 0 where 0.0 <= threshold goes.
    monkeypatch.setenv("EDGEML_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_treecode, "treelite_text", lambda text: text)
    monkeypatch.setattr(_treecode, "feature_kinds", lambda text, n: (NUMERIC,) * n)
    with pytest.raises(ParityError, match=r"treelite export refused: row \d+ .* LightGBM gives"):
        export(copy(bundles["zero_as_missing"], tmp_path), format="treelite")


def test_a_tampered_output_is_refused_naming_the_row(bundles, tmp_path, monkeypatch):
    honest = TreeliteBackend.predict

    def tampered(self, inputs):
        out = honest(self, inputs).copy()
        out[7] += 1e-5
        return out

    monkeypatch.setattr(TreeliteBackend, "predict", tampered)
    bundle = copy(bundles["binary"], tmp_path)
    with pytest.raises(ParityError, match=r"row 7 \(input \[.*\]\) gives .* a difference of 1e-05"):
        export(bundle, format="treelite")
    assert "treelite" not in edgeml.load(bundle).manifest["backends"]  # nothing recorded


def test_tolerance_is_read_when_the_gate_runs(bundles, tmp_path, monkeypatch):
    monkeypatch.setattr(_parity, "TOLERANCE", -1.0)
    with pytest.raises(ParityError, match=r"> -1"):
        export(copy(bundles["regression"], tmp_path), format="treelite")


def test_second_export_comes_from_the_cache(bundles, tmp_path, monkeypatch):
    first = export(copy(bundles["regression"], tmp_path / "a"), format="treelite")

    def no_compiler(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(_treelite, "compile_shared", no_compiler)
    second = export(copy(bundles["regression"], tmp_path / "b"), format="treelite")
    assert second.info["cached"] and second.parity == first.parity
    assert second.info["size_bytes"] == first.info["size_bytes"]
    assert (tmp_path / "b" / "regression.edgeml" / "treelite" / "model.so").read_bytes() == (
        tmp_path / "a" / "regression.edgeml" / "treelite" / "model.so"
    ).read_bytes()
    with pytest.raises(AssertionError, match="compiled again"):  # other options: a new entry
        export(copy(bundles["regression"], tmp_path / "c"), format="treelite",
               options={"quantize": True})  # fmt: skip


def test_copy_out(bundles, tmp_path):
    result = export(copy(bundles["binary"], tmp_path), format="treelite", out=tmp_path / "lib")
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == ["model.json", "model.so"]
    assert result.out == tmp_path / "lib"


def test_other_targets_go_through_the_c_package(bundles):
    with pytest.raises(ExportError, match="--format c --target aarch64-linux-gnu"):
        export(bundles["binary"], format="treelite", target="aarch64-linux-gnu")


def test_unknown_option(bundles):
    with pytest.raises(ConfigError, match="unknown option.*fast.*expected: annotate, quantize"):
        export(bundles["binary"], format="treelite", options={"fast": True})


# -- the library on disk ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def library(bundles, tmp_path_factory) -> Path:
    bundle = copy(bundles["multiclass"], tmp_path_factory.mktemp("library"))
    export(bundle, format="treelite")
    return bundle / "treelite" / "model.so"


def test_not_a_library(library, tmp_path):
    fake = tmp_path / "model.so"
    fake.write_text("definitely not ELF")
    with pytest.raises(ExportError, match=r"not a shared library \(no ELF header\); re-export"):
        TreeliteBackend(fake)


def test_a_truncated_library(library, tmp_path):
    broken = tmp_path / "model.so"
    for size in (40, 600, len(library.read_bytes()) // 2):
        broken.write_bytes(library.read_bytes()[:size])
        with pytest.raises(ExportError, match=r"model.so: (truncated|corrupted|not a shared)"):
            TreeliteBackend(broken)


def test_a_library_for_another_architecture(tmp_path):
    source = tmp_path / "lib.c"
    source.write_text("int edgeml_abi_version(void) { return 1; }\n")
    try:
        _toolchain.compile_shared([source], tmp_path / "model.so", target="aarch64-linux-gnu")
    except ToolchainError:
        pytest.skip("no aarch64 cross compiler here")
    with pytest.raises(ExportError, match=r"built for aarch64 \(64-bit\), this machine is"):
        TreeliteBackend(tmp_path / "model.so")


def test_an_executable_is_not_a_library(tmp_path):
    source = tmp_path / "main.c"
    source.write_text("int main(void) { return 0; }\n")
    compiler = _toolchain.find_compiler("host").command
    subprocess.run([compiler, "-no-pie", str(source), "-o", str(tmp_path / "exe")], check=True)
    with pytest.raises(ExportError, match="an executable or object file, not a shared library"):
        TreeliteBackend(tmp_path / "exe")


def test_a_shared_library_that_is_not_a_model(tmp_path):
    source = tmp_path / "lib.c"
    source.write_text("int unrelated(void) { return 1; }\n")
    _toolchain.compile_shared([source], tmp_path / "other.so")
    with pytest.raises(ExportError, match="not an edgeml model library"):
        TreeliteBackend(tmp_path / "other.so")


def test_the_library_checks_the_matrix_width(library):
    backend = TreeliteBackend(library)
    with pytest.raises(ExportError, match=r"expected a matrix of \d+ feature columns"):
        backend.predict(np.zeros((2, backend.num_feature + 1)))
    with pytest.raises(ExportError, match=r"expected one row of \d+ numbers"):
        backend.predict_one(np.zeros(backend.num_feature + 1))


def test_batches_on_two_threads_equal_one_thread(library, bundles):
    rows = np.random.default_rng(0).normal(size=(3000, TreeliteBackend(library).num_feature))
    rows[::7, 0] = np.nan
    one = TreeliteBackend(library, threads=1).predict(rows)
    two = TreeliteBackend(library, threads=2).predict(rows)
    np.testing.assert_array_equal(one, two)
    booster = lgb.Booster(model_file=str(bundles["multiclass"] / "model.txt"))
    np.testing.assert_allclose(one, booster.predict(rows), rtol=0, atol=1e-12)
    row = [float(v) for v in rows[5]]
    np.testing.assert_array_equal(TreeliteBackend(library).predict_one(row), one[5])


# -- model text and toolchain --------------------------------------------------------------------

ZERO_AND_NAN = """tree
version=v4
num_class=1
num_tree_per_iteration=1
max_feature_idx=0
objective=regression

Tree=0
num_leaves=3
split_feature=0 0
decision_type=6 10
threshold=0.5 1.5
left_child=-1 -2
right_child=1 -3
leaf_value=0 1 2
end of trees
"""


def test_zero_and_nan_missing_types_on_one_feature_are_refused():
    with pytest.raises(ExportError, match="feature 0 has splits of missing type Zero and NaN"):
        feature_kinds(ZERO_AND_NAN, 1)


def test_zero_missing_type_becomes_nan_keeping_the_default_direction():
    text = "tree_sizes=10 20\n" + ZERO_AND_NAN.replace("decision_type=6 10", "decision_type=4 6 2")
    rewritten = _treecode.treelite_text(text)
    assert "decision_type=8 10 2" in rewritten and "tree_sizes" not in rewritten


def test_missing_cross_compiler_names_the_package(monkeypatch):
    monkeypatch.setattr(_toolchain.shutil, "which", lambda name: None)
    with pytest.raises(ToolchainError, match="apt-get install gcc-aarch64-linux-gnu"):
        _toolchain.find_compiler("aarch64-linux-gnu")
    with pytest.raises(ToolchainError, match="apt-get install gcc-arm-linux-gnueabihf"):
        _toolchain.find_compiler("arm-linux-gnueabihf")
    with pytest.raises(ToolchainError, match=r"no C compiler found \(cc or gcc\).*install gcc"):
        _toolchain.find_compiler("host")


def test_a_target_that_is_not_a_triple():
    with pytest.raises(ConfigError, match="expected host or a GNU triple"):
        _toolchain.find_compiler("x86; rm -rf /")


def test_a_compile_error_names_the_unit(tmp_path):
    bad = tmp_path / "broken.c"
    bad.write_text("int f(void) { return }\n")
    with pytest.raises(ExportError, match=r"failed on broken.c: .*error"):
        _toolchain.compile_shared([bad], tmp_path / "x.so")


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEML_CACHE", str(tmp_path))
    assert _toolchain.cache_dir() == tmp_path
    monkeypatch.delenv("EDGEML_CACHE")
    assert _toolchain.cache_dir() == Path.home() / ".cache" / "edgeml"


# -- real data -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("name", "target"), [("telco_churn.csv", "churn"),
                                              ("hpc_jobs.csv", "class")])  # fmt: skip
def test_real_datasets(tmp_path, name, target):
    config = edgeml.Config.from_dict({"train": {**FEW_ROUNDS, "params": {"num_threads": 1}}})
    bundle = edgeml.train(shared(name), target=target, config=config, cv_folds=0,
                          out=tmp_path / "real.edgeml").bundle  # fmt: skip
    result = export(bundle, format="treelite")
    assert result.parity["passed"] and result.parity["rows"] > 1000
    model = edgeml.runtime.load(bundle)
    assert model.backend_name == "treelite"
    frame = edgeml.read_data(shared(name)).frame.head(200)
    expected = edgeml.load(bundle).predict(frame)
    got = model.predict({c: frame[c].to_list() for c in model.input_schema})
    assert got["prediction"].tolist() == expected["prediction"].to_list()


def test_categorical_probe_values_are_lightgbms():
    # The cases the entry point's input rules exist for, against LightGBM itself.
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.integers(0, 5, 2000), rng.normal(size=2000)]).astype(float)
    x[rng.random(2000) < 0.3, 1] = 0.0
    y = (x[:, 0] == 0) * 2.0 + (x[:, 1] > 0.3) + (x[:, 1] == 0) * 0.5
    params = {"verbosity": -1, "num_leaves": 6, "min_data_per_group": 5, "cat_smooth": 1}
    booster = lgb.train(params, lgb.Dataset(x, y, categorical_feature=[0]), 5)
    probes = np.array([[-0.5, 1.0], [0.7, 1.0], [-1.0, 1.0], [np.nan, 1.0], [2.0**31, 1.0],
                       [1.0, -_treecode.K_ZERO], [1.0, 1e-36], [1.0, np.nan]])  # fmt: skip
    normalized = _treecode.normalize(probes, (CATEGORICAL, NUMERIC))
    assert np.isnan(normalized[[2, 3, 4], 0]).all() and normalized[0, 0] == 0.0
    np.testing.assert_array_equal(booster.predict(probes), booster.predict(normalized))
    assert feature_kinds(booster.model_to_string(), 2)[0] == CATEGORICAL


# -- command line --------------------------------------------------------------------------------


def cli_run(*args: object):
    from click.testing import CliRunner

    from edgeml.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_export_prints_artifact_size_parity_and_place(bundles, tmp_path):
    bundle = copy(bundles["binary"], tmp_path)
    result = cli_run("export", bundle, "--format", "treelite", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    size = (bundle / "treelite" / "model.so").stat().st_size
    rows = edgeml.load(bundle).manifest["backends"]["treelite"]["parity"]["rows"]
    assert result.stdout.splitlines() == [
        f"exported {bundle} as treelite for host: treelite/model.so, {size:,} bytes",
        f"parity: max abs diff 0 over {rows} rows (tolerance 1e-06)",
        f"bundle: {bundle}",
        f"copied to: {tmp_path / 'out'}",
    ]


def test_cli_export_json_and_options(bundles, tmp_path):
    bundle = copy(bundles["multiclass"], tmp_path)
    result = cli_run("export", bundle, "--format", "treelite", "--quantize", "--annotate", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["format"] == "treelite" and payload["target"] == "host"
    assert payload["info"]["quantize"] and payload["info"]["annotate"]
    assert payload["parity"]["passed"] and payload["files"] == [
        "treelite/model.json", "treelite/model.so",
    ]  # fmt: skip


def test_cli_export_errors_are_one_line(bundles, tmp_path):
    result = cli_run("export", bundles["binary"], "--format", "treelite", "--target", "mips")
    assert result.exit_code == 2
    assert "Error: --format treelite builds a library for this machine" in result.output
    result = cli_run("export", tmp_path, "--format", "treelite")
    assert result.exit_code == 2 and "not an edgeml bundle" in result.output


def test_blocked_batches_add_the_trees_in_the_row_order(tmp_path):
    # Twelve units: TL2cgen's recipe lists tu10 before tu2, predict() calls them in number order.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 5))
    booster = lgb.train(
        {"verbosity": -1, "num_leaves": 15, "objective": "binary", "num_threads": 1},
        lgb.Dataset(x, (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int)),
        60,
    )
    code = _treecode.generate(booster.model_to_string(), tmp_path / "src", parallel_comp=12)
    library = _toolchain.compile_shared(
        code.sources, tmp_path / "m.so", flags=(*_toolchain.DEFAULT_FLAGS, f"-I{code.directory}")
    )
    backend = TreeliteBackend(library)
    batch = backend.predict(x[:700])
    np.testing.assert_array_equal(batch, [backend.predict_one(row)[0] for row in x[:700]])
    np.testing.assert_array_equal(batch, booster.predict(x[:700]))
