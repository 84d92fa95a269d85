"""A calibrated binary model with a tuned threshold gives the same probabilities and labels in
every executor: Polars + LightGBM, the NumPy runtime, the ONNX graph and the C package (host and
under qemu)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import edgeml
import edgeml.runtime
from edgeml.compile import _cpackage, export
from edgeml.compile._craw import encode, raw_inputs
from edgeml.data import conform
from edgeml.spec.prep_plan import PrepPlan
from tests.conftest import churn_like

FEW_ROUNDS = {"num_boost_round": 40, "early_stopping_rounds": 0, "cv_folds": 3}


# Compiled cores and libraries go to a cache of this module's own, not ~/.cache/edgeml.
pytestmark = pytest.mark.usefixtures("private_cache")


def _frame(n: int, seed: int) -> pl.DataFrame:
    frame = churn_like(n, seed)
    rng = np.random.default_rng(seed)
    # fewer positives, so the default threshold is F1's rather than 0.5
    keep = (frame["churn"] == "No") | pl.Series(rng.random(n) < 0.35)
    return frame.filter(keep)


@pytest.fixture(scope="module", params=["isotonic", "platt"])
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(request.param) / "m.edgeml"
    config = edgeml.Config.from_dict({"train": {**FEW_ROUNDS, "calibration": request.param}})
    return edgeml.train(
        _frame(900, 1), target="churn", out=out, config=config, id_cols=["customer_id"]
    ).bundle


def _expected(bundle: Path, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    predicted = edgeml.load(bundle).predict(frame)
    return predicted["proba_Yes"].to_numpy(), (predicted["prediction"] == "Yes").to_numpy()


def test_manifest_holds_a_small_table_and_a_threshold(bundle: Path) -> None:
    manifest = edgeml.load(bundle).manifest
    calibration = manifest["calibration"]
    assert calibration["method"] in ("isotonic", "platt")
    if calibration["method"] == "isotonic":
        assert 2 <= len(calibration["x"]) == len(calibration["y"]) <= 900
    assert manifest["decision"]["rule"] == "f1" and manifest["decision"]["threshold"] != 0.5


def test_onnx_graph_calibrates_and_labels_like_lightgbm(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "m.edgeml"
    shutil.copytree(bundle, copy)
    result = export(copy, format="onnx")
    assert result.parity["passed"]
    assert result.info["calibration"] == edgeml.load(copy).manifest["calibration"]["method"]
    from edgeml.compile._onnx import frame_feeds
    from edgeml.runtime._onnx_backend import ONNX_FILE, load_session

    fresh = _frame(400, 5).drop("churn")
    plan = PrepPlan.from_dict(edgeml.load(copy).manifest["prep"])
    session = load_session((copy / ONNX_FILE).read_bytes())
    conformed = conform(fresh, plan.input_schema, source="test")
    prediction, label = session.run(["prediction", "label"], frame_feeds(conformed, plan))
    proba, positive = _expected(copy, fresh)
    assert np.abs(prediction[:, 1] - proba).max() <= 1e-9
    assert label[:, 0].tolist() == positive.astype(int).tolist()
    # the runtime's ONNX backend does not calibrate a second time
    predictor = edgeml.runtime.load(copy, backend="onnx")
    batch = predictor.predict({c: fresh[c].to_list() for c in predictor.input_schema})
    assert np.abs(batch["proba_Yes"] - proba).max() <= 1e-9
    assert (batch["prediction"] == "Yes").tolist() == positive.tolist()
    row = predictor.predict_row(fresh.row(0, named=True))
    assert row["proba_Yes"] == pytest.approx(proba[0], abs=1e-9)


def _c_run(package: Path, runner: list[str], bundle: Path, frame: pl.DataFrame, mode=None):
    plan = PrepPlan.from_dict(edgeml.load(bundle).manifest["prep"])
    raw = encode(conform(frame, plan.input_schema, source="test"), raw_inputs(plan))
    tools = dataclasses.replace(_cpackage.find_tools("host"), runner=runner)
    return _cpackage.run_example(package, tools, raw, mode=mode)


@pytest.mark.parametrize("target", ["host", "aarch64-linux-gnu"])
def test_c_package_calibrates_and_labels_like_lightgbm(
    bundle: Path, tmp_path: Path, target: str
) -> None:
    copy = tmp_path / "m.edgeml"
    shutil.copytree(bundle, copy)
    result = export(copy, format="c", target=target, out=tmp_path / "pkg")
    assert result.parity["passed"] and result.parity["max_abs_diff"] <= 1e-9
    header = (tmp_path / "pkg" / "edgeml_model.h").read_text()
    threshold = edgeml.load(copy).manifest["decision"]["threshold"]
    assert f"#define EDGEML_THRESHOLD {threshold!r}" in header
    assert "int edgeml_label(const double *out);" in header
    work = tmp_path / "build"
    shutil.copytree(tmp_path / "pkg", work, ignore=shutil.ignore_patterns("build"))
    cc = "cc" if target == "host" else f"{target}-gcc"
    subprocess.run(["make", "-s", "-C", str(work), f"CC={cc}"], check=True, capture_output=True)
    runner = [] if target == "host" else [shutil.which("qemu-aarch64") or "qemu-aarch64",
                                          "-L", f"/usr/{target}"]  # fmt: skip
    fresh = _frame(300, 8)
    proba, positive = _expected(copy, fresh)
    ours = _c_run(work, runner, copy, fresh)
    assert np.abs(ours[:, 0] - proba).max() <= 1e-9
    labels = _c_run(work, runner, copy, fresh, mode="-l")
    assert labels[:, 0].astype(int).tolist() == positive.astype(int).tolist()
