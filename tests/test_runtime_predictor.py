"""``edgeml.runtime.load``: the fastest exported backend, equal to ``edgeml.load(...).predict``."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import edgeml
import edgeml.runtime
from edgeml.compile import export
from edgeml.errors import ConfigError, ExportError, SchemaError
from edgeml.runtime import Backend, Predictor
from tests.conftest import churn_like, reseal
from tests.test_export_treelite import synthetic
from tests.test_export_treelite import train as train_synthetic

# Compiled cores and libraries go to a cache of this module's own, not ~/.cache/edgeml.
pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bundles exported as treelite, each copied alone into a fresh directory."""
    root = tmp_path_factory.mktemp("predictor")
    churn = edgeml.train(churn_like(), target="churn", out=root / "train" / "churn.edgeml",
                         cv_folds=0, num_boost_round=30)  # fmt: skip
    trained = {
        "binary": churn.bundle,
        "multiclass": train_synthetic(root / "train" / "multi.edgeml", "multiclass"),
        "regression": train_synthetic(root / "train" / "reg.edgeml", "regression"),
    }
    copies = {}
    for task, bundle in trained.items():
        export(bundle, format="treelite")
        copies[task] = Path(shutil.copytree(bundle, root / "device" / bundle.name))
    shutil.rmtree(root / "train")
    return copies


def rows_of(task: str) -> pl.DataFrame:
    if task == "binary":
        frame = churn_like(n=60, seed=5).drop("churn")
        awkward = {"customer_id": "X", "tenure": None, "monthly_charges": float("nan"),
                   "total_charges": "", "contract": "never seen", "paperless": None}  # fmt: skip
        return pl.concat([frame, pl.DataFrame([awkward], schema=frame.schema)])
    return synthetic(task, n=60, seed=9).drop("y")


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_rows_and_batches_equal_the_polars_path(bundles, task):
    model = edgeml.runtime.load(bundles[task])
    assert model.backend_name == "treelite"
    assert model.skipped == {"native": "not exported", "onnx": "not exported"}
    frame = rows_of(task)
    expected = edgeml.load(bundles[task]).predict(frame)
    columns = {c: frame[c].to_list() for c in model.input_schema}
    batch = model.predict(columns)
    assert list(batch) == expected.columns
    singles = [model.predict_row(row) for row in frame.rows(named=True)]
    for name in expected.columns:
        want = expected[name].to_list()
        if name == "prediction" and task != "regression":
            assert batch[name].tolist() == want
            assert [r[name] for r in singles] == want
        else:
            np.testing.assert_allclose(batch[name], want, rtol=0, atol=1e-9)
            np.testing.assert_allclose([r[name] for r in singles], want, rtol=0, atol=1e-9)


def test_row_output_shapes(bundles):
    model = edgeml.runtime.load(bundles["multiclass"])
    row = rows_of("multiclass").row(0, named=True)
    assert model.output_row(row).shape == (3,)
    assert model.output({c: [row[c]] for c in model.input_schema}).shape == (1, 3)
    result = model.predict_row(row)
    assert list(result) == ["prediction", "proba_a", "proba_b", "proba_c"]
    assert abs(sum(result[c] for c in model.columns) - 1.0) < 1e-12


def test_lightgbm_fallback_equals_treelite(bundles):
    frame = rows_of("regression")
    columns = {c: frame[c].to_list() for c in frame.columns}
    fast = edgeml.runtime.load(bundles["regression"])
    slow = edgeml.runtime.load(bundles["regression"], backend="lightgbm")
    assert slow.backend_name == "lightgbm"
    np.testing.assert_allclose(fast.output(columns), slow.output(columns), rtol=0, atol=1e-9)


def test_auto_skips_a_library_built_elsewhere(bundles, tmp_path):
    bundle = Path(shutil.copytree(bundles["binary"], tmp_path / "copy.edgeml"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["backends"]["treelite"]["machine"] = "riscv64"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    reseal(bundle)
    model = edgeml.runtime.load(bundle)
    assert model.backend_name in ("onnx", "lightgbm")
    assert "compiled for riscv64" in model.skipped["treelite"]
    with pytest.raises(ExportError, match="compiled for riscv64, this machine is"):
        edgeml.runtime.load(bundle, backend="treelite")


def test_a_corrupted_library_is_caught_by_its_checksum(bundles, tmp_path):
    bundle = Path(shutil.copytree(bundles["binary"], tmp_path / "copy.edgeml"))
    library = bundle / "treelite" / "model.so"
    library.write_bytes(library.read_bytes()[:1000])
    with pytest.raises(edgeml.ChecksumError, match="treelite/model.so changed"):
        edgeml.runtime.load(bundle)
    # Code is never run unchecked: the library's sha256 is checked even without verify.
    with pytest.raises(edgeml.ChecksumError, match="treelite/model.so changed"):
        edgeml.runtime.load(bundle, backend="treelite", verify=False)


def test_unknown_or_absent_backends(bundles):
    with pytest.raises(ConfigError, match="backend 'fast' is not known"):
        edgeml.runtime.load(bundles["binary"], backend="fast")
    with pytest.raises(ExportError, match="has no onnx export"):
        edgeml.runtime.load(bundles["binary"], backend="onnx")


def test_a_row_missing_a_column(bundles):
    model = edgeml.runtime.load(bundles["binary"])
    with pytest.raises(SchemaError, match="lacks column"):
        model.predict_row({"tenure": 3})


def test_threads_share_a_predictor(bundles):
    model = edgeml.runtime.load(bundles["multiclass"], threads=2)
    rows = rows_of("multiclass").rows(named=True)
    expected = [model.predict_row(r) for r in rows]
    results: dict[int, list[dict[str, object]]] = {}

    def work(k: int) -> None:
        results[k] = [model.predict_row(r) for r in rows for _ in range(20)][::20]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[k] == expected for k in range(4))


def test_backends_follow_the_protocol(bundles):
    model = edgeml.runtime.load(bundles["binary"])
    assert isinstance(model, Predictor) and isinstance(model.backend, Backend)
    assert not model.backend.takes_raw_input
