"""The ``c`` export: a C99 package for host, aarch64 and armhf (under qemu), equal to LightGBM.

Each bundle is trained once per module with few rounds; every export runs the parity gate
(reference rows, raw and feature-space adversarial rows) and these tests check what it recorded,
then check the package independently: outputs against ``edgeml.load(...).predict``, a strict
compile, the C API's return codes, and missing tools.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import edgeml
from edgeml.compile import _cpackage, export
from edgeml.compile._cgen import CORE_FILES, ENGINE_FILES
from edgeml.compile._craw import encode, raw_inputs
from edgeml.compile._forest import MISSING_ZERO, parse_model
from edgeml.compile._native_tables import forest_blob
from edgeml.data import conform
from edgeml.errors import ParityError, ToolchainError
from edgeml.spec.prep_plan import PrepPlan
from tests.conftest import churn_like, shared

FEW_ROUNDS = {"num_boost_round": 30, "early_stopping_rounds": 0}
CROSS = {"aarch64-linux-gnu": 183, "arm-linux-gnueabihf": 40}  # ELF e_machine: AArch64, ARM


# Compiled cores and libraries go to a cache of this module's own, not ~/.cache/edgeml.
pytestmark = pytest.mark.usefixtures("private_cache")


def _frame(n: int = 600, seed: int = 1) -> pl.DataFrame:
    """churn_like plus dates, a datetime, a second category, a count class and many zeros."""
    rng = np.random.default_rng(seed)
    start = dt.datetime(2019, 1, 1)
    stamps = [start + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 60 * 24 * 700, n)]
    return churn_like(n, seed).with_columns(
        signup=pl.Series([s.date() for s in stamps]),
        seen=pl.Series(stamps),
        usage=pl.Series(np.where(rng.random(n) < 0.3, 0.0, rng.normal(size=n))),
        region=pl.Series(rng.choice(["north", "south", "east", "west*/"], n)),
        level=pl.Series(rng.integers(0, 3, n)),
    )


def _train(root: Path, name: str, target: str, **sections: dict) -> Path:
    config = edgeml.Config.from_dict(
        {**sections, "train": {**FEW_ROUNDS, **sections.get("train", {})}}
    )
    frame = _frame()
    return edgeml.train(
        frame, target=target, out=root / f"{name}.edgeml", cv_folds=0, config=config,
        id_cols=["customer_id"],
    ).bundle  # fmt: skip


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(tmp_path_factory.mktemp("c"), "binary", "churn")


def _exported(bundle: Path, out: Path, target: str = "host") -> edgeml.compile.ExportResult:
    result = export(bundle, format="c", target=target, out=out)
    assert result.parity["passed"] and result.parity["max_abs_diff"] <= 1e-6
    assert result.parity["reference_rows"] > 0
    assert result.parity["raw_rows"] > result.parity["reference_rows"]  # adversarial rows too
    return result


def _c_outputs(package: Path, runner: list[str], bundle: Path, frame: pl.DataFrame) -> np.ndarray:
    """The package's example program on ``frame``'s rows, coded as the header says."""
    plan = PrepPlan.from_dict(edgeml.load(bundle).manifest["prep"])
    raw = encode(conform(frame, plan.input_schema, source="test"), raw_inputs(plan))
    tools = dataclasses.replace(_cpackage.find_tools("host"), runner=runner)
    return _cpackage.run_example(package, tools, raw)


def _lightgbm(bundle: Path, frame: pl.DataFrame) -> np.ndarray:
    predicted = edgeml.load(bundle).predict(frame)
    columns = [c for c in predicted.columns if c.startswith("proba_")] or ["prediction"]
    out = predicted.select(columns).to_numpy()
    return out[:, 1:] if edgeml.load(bundle).manifest["task"] == "binary" else out


def _build_example(package: Path, tmp_path: Path, cc: str = "cc") -> Path:
    """Build the package's example program into a private copy (the package stays clean)."""
    work = tmp_path / "build"
    shutil.copytree(package, work, ignore=shutil.ignore_patterns("build"))
    subprocess.run(["make", "-s", "-C", str(work), f"CC={cc}"], check=True, capture_output=True)
    return work


def test_binary_with_categories_and_dates_matches_lightgbm(binary: Path, tmp_path: Path) -> None:
    result = _exported(binary, tmp_path / "pkg")
    package = tmp_path / "pkg"
    for name in ("edgeml_model.h", "edgeml_model.c", "edgeml_core.c", "edgeml_forest.c",
                     "edgeml_forest_data.c",
                 "Makefile", "example.c", "README.md", "build/host/libedgeml_model.a"):  # fmt: skip
        assert (package / name).is_file(), name
    header = (package / "edgeml_model.h").read_text()
    assert "#define EDGEML_N_OUTPUTS 1" in header and "EDGEML_ERR_WIDTH 2" in header
    assert "EDGEML_CONTRACT_TWO_YEAR = " in header and "edgeml_contract_categories" in header
    assert '"west*\\057"' in header  # a category named "west*/" cannot close a comment
    assert result.info["code_size"]["objects_text"] > 0
    manifest = edgeml.load(binary).manifest
    assert manifest["backends"]["c"]["parity"]["passed"]
    # independently of the gate: the package's own build, on fresh rows, against edgeml.predict
    work = _build_example(package, tmp_path)
    fresh = _frame(200, seed=7)
    ours = _c_outputs(work, [], binary, fresh)
    assert np.abs(ours - _lightgbm(binary, fresh)).max() <= 1e-6


def test_multiclass_matches_lightgbm(tmp_path: Path) -> None:
    bundle = _train(tmp_path, "multi", "level")
    result = _exported(bundle, tmp_path / "pkg")
    assert "#define EDGEML_N_OUTPUTS 3" in (tmp_path / "pkg" / "edgeml_model.h").read_text()
    assert result.parity["rows"] > 0


def test_regression_with_scaling_and_imputation_matches_lightgbm(tmp_path: Path) -> None:
    prep = {"impute": "median", "missing_indicators": True, "outliers": "clip",
            "scaling": "standard", "encoding": "onehot"}  # fmt: skip
    bundle = _train(tmp_path, "reg", "monthly_charges", prep=prep)
    _exported(bundle, tmp_path / "pkg")


def test_zero_as_missing_matches_lightgbm_and_a_wrong_package_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _train(
        tmp_path, "zero", "churn", train={"params": {"zero_as_missing": True}},
        prep={"encoding": "frequency"},
    )  # fmt: skip
    forest = parse_model(edgeml.load(bundle).booster.model_to_string())
    zero = [
        (t.index, n) for t in forest.trees for n in range(t.num_leaves - 1)
        if t.missing_type(n) == MISSING_ZERO
    ]  # fmt: skip
    assert zero  # some feature is split with zeros as missing
    _exported(bundle, tmp_path / "pkg")

    # Tables that forget the zero-as-missing rule send zeros the wrong way: refused.
    def without_rule(text: str, **options: bool) -> bytes:
        model = parse_model(text)
        trees = [dataclasses.replace(t, decision_type=t.decision_type & ~12) for t in model.trees]
        return forest_blob(dataclasses.replace(model, trees=trees), **options)

    monkeypatch.setattr(_cpackage, "forest_blob", without_rule)
    with pytest.raises(ParityError, match=r"refused: row \d+ .* a difference of"):
        export(bundle, format="c", target="host")


def test_the_package_is_the_engine_plus_tables_and_reports_its_footprint(
    binary: Path, tmp_path: Path
) -> None:
    result = _exported(binary, tmp_path / "pkg")
    package = tmp_path / "pkg"
    # The trees are data: the code compiled is edgeml's own core, the same for every model.
    kernels = _cpackage.kernels_dir()
    for name in (*ENGINE_FILES, *CORE_FILES):
        assert (package / name).read_text() == (kernels / name).read_text()
    data = (package / "edgeml_forest_data.c").read_text()
    assert "uint32_t words[" in data and "if (" not in data
    footprint = result.info["footprint"]
    assert 0 < footprint["code_bytes"] < 64_000  # engine + prep + API, whatever the model
    blob_bytes = 4 * int(data.split("uint32_t words[")[1].split("]")[0])
    assert blob_bytes <= footprint["table_bytes"] < blob_bytes + 8_000  # the blob and the plan
    header = (package / "edgeml_model.h").read_text()
    assert f"#define EDGEML_WORK_BYTES {footprint['stack_bytes'] - 8 * _features(header)}" in header


def _features(header: str) -> int:
    return int(header.split("#define EDGEML_N_FEATURES ")[1].split()[0])


def test_host_sources_compile_warning_free(binary: Path, tmp_path: Path) -> None:
    export(binary, format="c", target="host", out=tmp_path / "pkg")
    sources = sorted(p.name for p in (tmp_path / "pkg").glob("*.c"))
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wshadow"]
    result = subprocess.run(
        ["cc", *flags, "-fsyntax-only", *sources], cwd=tmp_path / "pkg",
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and not result.stderr, result.stderr


@pytest.mark.parametrize("target", sorted(CROSS))
def test_cross_build_runs_under_qemu_and_matches_lightgbm(
    binary: Path, tmp_path: Path, target: str
) -> None:
    result = _exported(binary, tmp_path / "pkg", target=target)
    qemu = "qemu-aarch64" if target.startswith("aarch64") else "qemu-arm"
    assert result.parity["executed"] == f"under {qemu}"
    library = (tmp_path / "pkg" / "build" / target / "libedgeml_model.so").read_bytes()
    assert library[:4] == b"\x7fELF" and int.from_bytes(library[18:20], "little") == CROSS[target]
    # the package's own Makefile cross-compiles it; run its example under qemu on fresh rows
    work = _build_example(tmp_path / "pkg", tmp_path, cc=f"{target}-gcc")
    fresh = _frame(100, seed=3)
    ours = _c_outputs(work, [shutil.which(qemu) or qemu, "-L", f"/usr/{target}"], binary, fresh)
    assert np.abs(ours - _lightgbm(binary, fresh)).max() <= 1e-6


@pytest.mark.slow
def test_real_dataset_telco_churn(tmp_path: Path) -> None:
    config = edgeml.Config.from_dict({"train": {"num_boost_round": 50, "early_stopping_rounds": 0}})
    bundle = edgeml.train(
        shared("telco_churn.csv"), target="churn", out=tmp_path / "telco.edgeml", cv_folds=0,
        config=config,
    ).bundle  # fmt: skip
    result = _exported(bundle, tmp_path / "pkg")
    assert result.parity["rows"] > 1000


WIDTH_PROGRAM = r"""
#include <stdio.h>
#include <math.h>
#include "edgeml_model.h"
int main(void) {
    double raw[2 * EDGEML_N_INPUTS], out[2 * EDGEML_N_OUTPUTS], one[EDGEML_N_OUTPUTS];
    size_t i;
    for (i = 0; i < 2 * EDGEML_N_INPUTS; ++i) raw[i] = NAN;
    printf("%d %d %d %d %d %d %d\n",
           edgeml_predict_row(raw, EDGEML_N_INPUTS - 1, out, EDGEML_N_OUTPUTS),
           edgeml_predict_row(raw, EDGEML_N_INPUTS + 1, out, EDGEML_N_OUTPUTS),
           edgeml_predict_row(NULL, EDGEML_N_INPUTS, out, EDGEML_N_OUTPUTS),
           edgeml_predict_row(raw, EDGEML_N_INPUTS, out, EDGEML_N_OUTPUTS - 1),
           edgeml_predict_batch(raw, 2, EDGEML_N_INPUTS - 1, out, 2 * EDGEML_N_OUTPUTS),
           edgeml_predict_batch(raw, 2, EDGEML_N_INPUTS, out, 2 * EDGEML_N_OUTPUTS - 1),
           edgeml_predict_features(raw, EDGEML_N_FEATURES + 1, out, EDGEML_N_OUTPUTS));
    printf("%d %d\n", edgeml_predict_batch(raw, 2, EDGEML_N_INPUTS, out, 2 * EDGEML_N_OUTPUTS),
           edgeml_predict_row(raw, EDGEML_N_INPUTS, one, EDGEML_N_OUTPUTS));
    printf("%d %s\n", out[EDGEML_N_OUTPUTS] == one[0], edgeml_strerror(EDGEML_ERR_WIDTH));
    return 0;
}
"""


def test_c_api_return_codes(binary: Path, tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    export(binary, format="c", target="host", out=package)
    (tmp_path / "width.c").write_text(WIDTH_PROGRAM)
    program = tmp_path / "width"
    subprocess.run(
        ["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{package}", str(tmp_path / "width.c"),
         str(package / "build" / "host" / "libedgeml_model.a"), "-lm", "-o", str(program)],
        check=True, capture_output=True,
    )  # fmt: skip
    lines = subprocess.run([program], capture_output=True, text=True, check=True).stdout.split("\n")
    assert lines[0].split() == ["2", "2", "1", "3", "2", "3", "2"]  # WIDTH, WIDTH, NULL, OUT, ...
    assert lines[1].split() == ["0", "0"]
    assert lines[2] == "1 row has the wrong number of values"
    # the example program reports a short row and fails
    work = _build_example(package, tmp_path)
    short = subprocess.run([work / "example"], input="1,2\n", capture_output=True, text=True)
    assert short.returncode == 1 and "wrong number of values" in short.stderr


def _path_with(tmp_path: Path, tools: list[str]) -> str:
    """A PATH holding only links to ``tools`` (to simulate the rest being uninstalled)."""
    directory = tmp_path / "bin"
    directory.mkdir(parents=True)
    for tool in tools:
        found = shutil.which(tool)
        assert found, tool
        os.symlink(found, directory / tool)
    return str(directory)


def test_missing_tools_name_the_package(
    binary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_make = _path_with(tmp_path / "no-make", ["cc"])
    monkeypatch.setenv("PATH", _path_with(tmp_path, ["make", "aarch64-linux-gnu-gcc"]))
    with pytest.raises(ToolchainError, match="apt-get install gcc-arm-linux-gnueabihf"):
        export(binary, format="c", target="arm-linux-gnueabihf")
    with pytest.raises(ToolchainError, match="apt-get install qemu-user"):
        export(binary, format="c", target="aarch64-linux-gnu")
    with pytest.raises(ToolchainError, match="apt-get install gcc") as raised:
        export(binary, format="c", target="host")
    # A wheel install may be on Alpine or a Mac: the message names their packages too.
    assert "apk add gcc musl-dev (Alpine)" in str(raised.value)
    assert "brew install gcc" in str(raised.value)
    monkeypatch.setenv("PATH", no_make)
    with pytest.raises(ToolchainError, match=r"make not found; .*apk add make"):
        export(binary, format="c", target="host")


def test_the_cli_without_a_compiler_says_what_to_install(binary: Path, tmp_path: Path) -> None:
    """``edgeml export --format c`` with no C compiler: one error line naming the packages."""
    env = {**os.environ, "PATH": _path_with(tmp_path, ["make"])}
    run = subprocess.run(
        [sys.executable, "-m", "edgeml", "export", str(binary), "--format", "c",
         "-o", str(tmp_path / "pkg")],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "no C compiler found" in errors[0], run.stderr
    for hint in ("apt-get install gcc", "apk add gcc musl-dev", "brew install gcc"):
        assert hint in errors[0]
    assert not (tmp_path / "pkg").exists()
