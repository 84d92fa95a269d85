"""End-to-end training on every real dataset edgeml ships, with default settings.

Each must reach its plain-LightGBM 5-fold figure (``edgeml.datasets.REAL``, from the data README)
minus 0.01. The runs keep no holdout, so edgeml's CV is 5 folds over all labelled rows, as the
figures' is (with a holdout, the folds would see 80% of the rows and score lower).
"""

import json

import pytest

import edgeml
from edgeml.datasets import REAL
from tests.conftest import shared


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REAL))
def test_default_settings_reach_plain_lightgbm(tmp_path, name):
    data, info = shared(name), REAL[name]
    settings = {"train": {"holdout": 0.0}, "data": {"drop": list(info.drop)}}
    config = edgeml.Config.from_dict(settings)
    result = edgeml.train(data, target=info.target, config=config, out=tmp_path / "m.edgeml")
    cv = result.metrics["cv"]
    for metric, figure in info.plain.items():
        assert cv[metric]["mean"] >= figure - 0.01, (metric, cv[metric], figure)
    assert result.manifest["metrics"]["rows"]["holdout"] == 0
    primary = result.manifest["metrics"]["primary"]

    # The written bundle predicts and scores the same file through the CLI's library path.
    model = edgeml.load(result.bundle)
    report = model.evaluate(data)
    # every row was seen in training, so the bundle scores at least its unseen-fold figure
    assert report["rows"] > 0 and report["metrics"][primary] >= cv[primary]["mean"] - 0.01
    predictions = model.predict(data)
    assert predictions.height == report["rows"] + report["unlabelled_rows"]
    card = json.loads((result.bundle / "manifest.json").read_text())["data_card"]
    assert (
        card["sources"][0]["uri"].endswith(f"{name}.csv.gz")
        and len(card["sources"][0]["sha256"]) == 64
    )
