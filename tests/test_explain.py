"""Per-prediction explanations: exact TreeSHAP contributions that sum to the raw score, from the
library, the runtime, the CLI, the server and the report."""

from __future__ import annotations

import math
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import edgeml
import edgeml.runtime
from edgeml.cli import cli
from edgeml.serve import ServeSettings, create_app
from tests.conftest import churn_like
from tests.serving import bundle_copy, record


def _raw_score(bundle: Path, frame: pl.DataFrame) -> np.ndarray:
    model = edgeml.load(bundle)
    matrix = model._matrix(frame, "test")
    return np.asarray(
        lgb.Booster(model_file=str(bundle / "model.txt")).predict(matrix, raw_score=True)
    )


def _sum(explained: pl.DataFrame) -> np.ndarray:
    return explained.select(pl.sum_horizontal(pl.col("^contrib_.*$"))).to_series().to_numpy()


def test_binary_contributions_sum_to_the_log_odds(trained_bundle: Path) -> None:
    model = edgeml.load(trained_bundle)
    frame = churn_like(n=120, seed=21)
    explained = model.explain(frame)
    features = model.manifest["features"]["model"]
    assert explained.columns == ["customer_id", *[f"contrib_{f}" for f in features], "contrib_bias"]
    assert np.allclose(_sum(explained), _raw_score(trained_bundle, frame), rtol=0, atol=1e-9)
    p = model.predict(frame)["proba_Yes"].to_numpy()
    assert np.allclose(1 / (1 + np.exp(-_sum(explained))), p, atol=1e-9)  # uncalibrated bundle


def test_multiclass_explains_the_predicted_class_and_regression_the_value(tmp_path: Path) -> None:
    frame = churn_like(n=500, seed=3)
    multi = edgeml.train(frame, target="contract", out=tmp_path / "m.edgeml", cv_folds=0).bundle
    model = edgeml.load(multi)
    explained = model.explain(frame)
    predicted = model.predict(frame)["prediction"]
    assert explained["explained_class"].to_list() == predicted.to_list()
    raw = _raw_score(multi, frame)
    chosen = [model.target.classes.index(c) for c in predicted]
    assert np.allclose(_sum(explained), raw[np.arange(len(raw)), chosen], atol=1e-9)
    reg = edgeml.train(frame.drop("churn"), target="monthly_charges", out=tmp_path / "r.edgeml",
                       cv_folds=0).bundle  # fmt: skip
    values = edgeml.load(reg).predict(frame)["prediction"].to_numpy()
    assert np.allclose(_sum(edgeml.load(reg).explain(frame)), values, atol=1e-9)


def test_runtime_explains_like_the_library_whatever_the_backend(
    trained_bundle: Path, tmp_path: Path
) -> None:
    from edgeml.compile import export

    bundle = bundle_copy(trained_bundle, tmp_path / "m.edgeml")
    export(bundle, format="treelite")
    frame = churn_like(n=50, seed=22)
    expected = edgeml.load(bundle).explain(frame)
    predictor = edgeml.runtime.load(bundle, backend="treelite")
    ours = predictor.explain({c: frame[c].to_list() for c in predictor.input_schema})
    for name, values in ours.items():
        assert np.allclose(values, expected[name].to_numpy(), atol=1e-12), name


def test_cli_predict_explain_adds_the_columns(trained_bundle: Path, tmp_path: Path) -> None:
    data = tmp_path / "new.csv"
    churn_like(n=30, seed=23).drop("churn").write_csv(data)
    out = tmp_path / "explained.parquet"
    result = CliRunner().invoke(cli, ["predict", str(trained_bundle), str(data), "-o", str(out),
                                      "--explain"])  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out)
    assert frame.columns[:4] == ["customer_id", "prediction", "proba_No", "proba_Yes"]
    assert frame.columns[-1] == "contrib_bias" and frame.height == 30
    assert np.allclose(1 / (1 + np.exp(-_sum(frame))), frame["proba_Yes"].to_numpy(), atol=1e-9)


def test_server_explains_on_request_only(trained_bundle: Path, tmp_path: Path) -> None:
    bundle = bundle_copy(trained_bundle, tmp_path / "m.edgeml")
    settings = ServeSettings(bundle=bundle, log=tmp_path / "log.db")
    with TestClient(create_app(settings)) as client:
        schema = client.get("/schema").json()
        threshold = edgeml.load(bundle).manifest["decision"]["threshold"]
        assert schema["decision"]["threshold"] == threshold
        plain = client.post("/predict", json=record()).json()
        assert not any(k.startswith("contrib_") for k in plain)
        answer = client.post("/predict?explain=true", json=record()).json()
        total = sum(v for k, v in answer.items() if k.startswith("contrib_"))
        assert 1 / (1 + math.exp(-total)) == pytest.approx(answer["proba_Yes"], abs=1e-9)
        batch = client.post("/predict?explain=true", json=[record(tenure=t) for t in range(12)])
        rows = batch.json()["predictions"]
        assert len(rows) == 12 and all("contrib_bias" in r for r in rows)


def test_report_shows_global_importance_and_reasons(trained_bundle: Path, tmp_path: Path) -> None:
    from edgeml.evaluate import report

    html = report(trained_bundle, tmp_path / "r.html").read_text()
    assert 'id="contributions"' in html and 'id="reasons"' in html
    assert "Mean |contribution| of each feature" in html
