"""Small data: an unset learning rate is 0.1 under 1,000 training rows, 0.05 from there on.

On 120-1,347 training rows (benchmarks/bench_small.py) edgeml at 0.05 trailed plain LightGBM
(0.1) in about a third of the runs, on wide data at every number of rounds; on the shared
datasets (1,514 training rows and more) 0.1 fell below plain LightGBM where 0.05 did not.
"""

import tempfile

import numpy as np
import polars as pl
import pytest

import edgeml
from edgeml.config import SMALL_DATA_ROWS, TrainConfig
from edgeml.learn import prepare


def wide(rows: int, seed: int = 0) -> pl.DataFrame:
    """``rows`` rows of 40 columns, the target a sum of four of them plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 40))
    y = x[:, :4].sum(axis=1) + rng.normal(0, 0.5, rows)
    return pl.DataFrame({**{f"x{j}": x[:, j] for j in range(40)}, "y": y})


@pytest.mark.parametrize(
    ("rows", "holdout", "given", "rate"),
    [
        (300, 0.2, None, 0.1),
        (999, 0.0, None, 0.1),
        (1000, 0.0, None, 0.05),
        # the rows the folds and the model train on decide: 1,240 rows less a 20% holdout
        (1240, 0.2, None, 0.1),
        (1260, 0.2, None, 0.05),
        (300, 0.2, 0.05, 0.05),  # a rate the user set is kept
        (5000, 0.0, 0.3, 0.3),
    ],
)
def test_an_unset_learning_rate_depends_on_the_training_rows(rows, holdout, given, rate):
    train = {"target": "y", "holdout": holdout}
    if given is not None:
        train["learning_rate"] = given
    prepared = prepare(wide(rows), edgeml.Config.from_dict({"train": train}))
    assert prepared.config.train.learning_rate == rate


def test_the_rule_and_its_threshold():
    assert TrainConfig().learning_rate is None
    assert TrainConfig().learning_rate_for(SMALL_DATA_ROWS - 1) == 0.1
    assert TrainConfig().learning_rate_for(SMALL_DATA_ROWS) == 0.05
    assert TrainConfig().learning_rate_for(None) == 0.05  # rows unknown: the large-data rate
    assert TrainConfig(learning_rate=0.2).learning_rate_for(10) == 0.2


def test_a_small_file_trains_and_records_its_rate():
    out = tempfile.mkdtemp() + "/m.edgeml"
    result = edgeml.train(wide(200), target="y", out=out)
    assert result.manifest["config"]["train"]["learning_rate"] == 0.1
    model = (result.bundle / "model.txt").read_text()
    assert "[learning_rate: 0.1]" in model


def test_the_manifest_says_when_rows_chose_the_rate_and_not_when_a_search_did():
    """A retrain chooses the rate again by its rows only where the champion's rows chose it."""
    out = tempfile.mkdtemp()
    chosen = edgeml.train(wide(200), target="y", out=out + "/rows.edgeml")
    assert [d for d in chosen.manifest["decisions"] if d["what"] == "learning_rate"] == [{
        "what": "learning_rate", "column": None, "choice": 0.1,
        "reason": "[train] learning_rate unset: 0.1 for 160 training rows (0.1 under 1,000, "
                  "0.05 from there on)",
    }]  # fmt: skip
    space = {"learning_rate": {"low": 0.02, "high": 0.3, "log": True}}
    config = edgeml.Config.from_dict(
        {"train": {"target": "y", "cv_folds": 2}, "search": {"method": "random", "trials": 2,
                                                              "space": space}}
    )  # fmt: skip
    searched = edgeml.train(wide(200), config=config, out=out + "/searched.edgeml")
    assert "learning_rate" in searched.manifest["search"]["best_params"]
    assert [d for d in searched.manifest["decisions"] if d["what"] == "learning_rate"] == []
