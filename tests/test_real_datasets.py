"""End-to-end training on every real dataset in ../shared/data with default settings.

Each must reach the plain-LightGBM 5-fold figure from ../shared/data/README.md minus 0.01
(our CV is 5 folds over all labelled rows too, so the figures are comparable).
"""

import json

import pytest

import edgeml
from tests.conftest import shared

# (file, target, config, {metric: plain LightGBM figure})
CASES = [
    ("diamonds.csv", "price", {}, {"r2": 0.982}),
    ("telco_churn.csv", "churn", {}, {"roc_auc": 0.837}),
    ("hpc_jobs.csv", "class", {}, {"accuracy": 0.842, "macro_f1": 0.811}),
    # `case` is the original study's train/test label, not a feature.
    ("cells.csv", "class", {"data": {"drop": ["case"]}}, {"roc_auc": 0.900}),
    ("chicago_ridership.csv", "ridership", {}, {"r2": 0.834}),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "target", "raw_config", "plain"), CASES, ids=[c[0] for c in CASES]
)
def test_default_settings_reach_plain_lightgbm(tmp_path, name, target, raw_config, plain):
    data = shared(name)
    config = edgeml.Config.from_dict(raw_config)
    result = edgeml.train(data, target=target, config=config, out=tmp_path / "m.edgeml")
    cv = result.metrics["cv"]
    for metric, figure in plain.items():
        assert cv[metric]["mean"] >= figure - 0.01, (metric, cv[metric], figure)
    holdout = result.metrics["holdout"]
    baseline = result.manifest["metrics"]["baseline"]
    primary = result.manifest["metrics"]["primary"]
    assert holdout[primary] > baseline[primary]

    # The written bundle predicts and scores the same file through the CLI's library path.
    model = edgeml.load(result.bundle)
    report = model.evaluate(data)
    assert report["rows"] > 0 and report["metrics"][primary] >= holdout[primary] - 0.05
    predictions = model.predict(data)
    assert predictions.height == report["rows"] + report["unlabelled_rows"]
    card = json.loads((result.bundle / "manifest.json").read_text())["data_card"]
    assert card["sources"][0]["uri"].endswith(name) and len(card["sources"][0]["sha256"]) == 64
