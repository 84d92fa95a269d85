"""``edgeml.runtime`` runs a bundle's prep plan on a device: NumPy only, no training stack."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import edgeml
from edgeml.data import conform
from edgeml.errors import BundleError, ChecksumError
from edgeml.prep import apply_prep, to_matrix
from edgeml.runtime import load_prep
from tests.conftest import churn_like

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("polars", "lightgbm", "numba", "sklearn", "click", "rich", "treelite", "tl2cgen",
         "pandas", "pyarrow", "scipy", "onnxruntime", "cryptography")  # fmt: skip

# Runs in a fresh interpreter: any attempt to import a heavy package fails loudly, and after
# transforming rows none may be in sys.modules.
DEVICE_SCRIPT = """
import importlib.abc, json, sys

HEAVY = set(sys.argv[3].split(","))

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            raise ImportError(f"the runtime tried to import {name}")
        return None

sys.meta_path.insert(0, Refuse())

import edgeml.runtime

prep = edgeml.runtime.load_prep(sys.argv[1])
rows = json.loads(open(sys.argv[2], encoding="utf-8").read())
single = [prep.transform_row(row).tolist() for row in rows]
batch = prep.transform({c: [row[c] for row in rows] for c in prep.input_schema}).tolist()
print(json.dumps({
    "single": single,
    "batch": batch,
    "features": list(prep.features),
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY),
    "edgeml": sorted(m for m in sys.modules if m.split(".")[0] == "edgeml"),
}))
"""


@pytest.fixture(scope="module")
def device_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained here, then copied alone into a fresh directory."""
    root = tmp_path_factory.mktemp("runtime")
    trained = edgeml.train(churn_like(), target="churn", out=root / "train" / "churn.edgeml",
                           cv_folds=0, num_boost_round=40, id_cols=["customer_id"])  # fmt: skip
    device = root / "device" / "churn.edgeml"
    shutil.copytree(trained.bundle, device)
    shutil.rmtree(root / "train")
    return device


def device_rows() -> list[dict[str, object]]:
    """Training-like rows as a service receives them, plus awkward ones."""
    rows = churn_like(n=40, seed=3).drop("churn").rows(named=True)
    base = rows[0]
    rows += [
        {**base, "tenure": None, "monthly_charges": math.nan, "total_charges": ""},
        {**base, "monthly_charges": math.inf, "total_charges": " 12.5 ", "paperless": "yes"},
        {**base, "monthly_charges": -math.inf, "contract": "never seen", "paperless": None},
        {**base, "contract": None, "tenure": 1e3, "total_charges": "1e4"},
    ]
    return rows


def test_runtime_imports_numpy_only_and_matches_polars(device_bundle, tmp_path):
    rows = device_rows()
    data = tmp_path / "rows.json"
    data.write_text(json.dumps(rows), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", DEVICE_SCRIPT, str(device_bundle), str(data), ",".join(HEAVY)],
        capture_output=True, text=True, cwd=device_bundle.parent, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["heavy"] == []
    assert set(out["edgeml"]) <= {
        "edgeml",
        "edgeml.errors",
        "edgeml.bundle",
        "edgeml.spec",
        "edgeml.util",
        "edgeml.spec.prep_plan",
        "edgeml.spec.manifest",
        "edgeml.spec.section",
        "edgeml.spec.metrics",
        "edgeml.spec.monitoring",
        "edgeml.spec.model_entry",
        "edgeml.spec.data_card",
        "edgeml.runtime",
        "edgeml.spec.feature_plan",
        "edgeml.spec.formula",
        "edgeml.util.files",
        "edgeml.util.process",
        "edgeml.util.fields",
        "edgeml.util.extras",
        "edgeml.util.lazy",
        "edgeml.util.cache",
        "edgeml.util.dateformat",  # the standard library's re and datetime only
        "edgeml.util.numberformat",  # the standard library's re only
        "edgeml.util.missing",  # one frozenset of words, nothing imported
    } | {m for m in out["edgeml"] if m.startswith(("edgeml.runtime.", "edgeml.bundle."))}
    assert "edgeml.bundle._sign" not in out["edgeml"]  # signatures only when a key is given

    model = edgeml.load(device_bundle)
    frame = pl.DataFrame(rows)
    expected = to_matrix(
        apply_prep(model.plan, conform(frame, model.plan.input_schema, source="rows"))
    )
    assert out["features"] == model.manifest["features"]["model"]
    np.testing.assert_array_equal(np.array(out["single"], dtype=np.float64), expected)
    np.testing.assert_array_equal(np.array(out["batch"], dtype=np.float64), expected)


def test_load_prep_verifies_the_bundle(device_bundle, tmp_path):
    copy = tmp_path / "copy.edgeml"
    shutil.copytree(device_bundle, copy)
    assert load_prep(copy).features == tuple(edgeml.load(copy).plan.features)
    model_file = copy / "model.txt"
    model_file.write_text(model_file.read_text() + "\n", encoding="utf-8")
    with pytest.raises(ChecksumError, match="model.txt changed"):
        load_prep(copy)
    assert load_prep(copy, verify=False).features  # checksums skipped on request
    with pytest.raises(BundleError, match="not an edgeml bundle"):
        load_prep(tmp_path)


# The predictor on a device: the treelite library through ctypes, still no heavy import.
PREDICT_BODY = """
model = edgeml.runtime.load(sys.argv[1])
rows = json.loads(open(sys.argv[2], encoding="utf-8").read())
single = [model.predict_row(row) for row in rows]
batch = model.predict({c: [row[c] for row in rows] for c in model.input_schema})
print(json.dumps({
    "backend": model.backend_name,
    "single": single,
    "batch": {name: values.tolist() for name, values in batch.items()},
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY),
}))
"""
PREDICT_SCRIPT = DEVICE_SCRIPT.split("prep = edgeml.runtime")[0] + PREDICT_BODY


@pytest.fixture(scope="module")
def exported_device_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained and exported as treelite here, then copied alone elsewhere."""
    from edgeml.compile import export

    root = tmp_path_factory.mktemp("runtime-treelite")
    trained = edgeml.train(churn_like(), target="churn", out=root / "train" / "churn.edgeml",
                           cv_folds=0, num_boost_round=40)  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGEML_CACHE", str(root / "cache"))
        export(trained.bundle, format="treelite")
    device = root / "device" / "churn.edgeml"
    shutil.copytree(trained.bundle, device)
    shutil.rmtree(root / "train")
    shutil.rmtree(root / "cache")
    return device


def test_predictor_on_a_device_imports_numpy_only(exported_device_bundle, tmp_path):
    rows = device_rows()
    data = tmp_path / "rows.json"
    data.write_text(json.dumps(rows), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", PREDICT_SCRIPT, str(exported_device_bundle), str(data),
         ",".join(HEAVY)],
        capture_output=True, text=True, cwd=exported_device_bundle.parent, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["backend"] == "treelite" and out["heavy"] == []
    expected = edgeml.load(exported_device_bundle).predict(pl.DataFrame(rows))
    assert [r["prediction"] for r in out["single"]] == expected["prediction"].to_list()
    assert out["batch"]["prediction"] == expected["prediction"].to_list()
    for name in ("proba_No", "proba_Yes"):
        want = expected[name].to_numpy()
        np.testing.assert_allclose([r[name] for r in out["single"]], want, rtol=0, atol=1e-9)
        np.testing.assert_allclose(out["batch"][name], want, rtol=0, atol=1e-9)
