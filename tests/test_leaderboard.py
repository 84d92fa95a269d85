"""Model-family leaderboard: every family on the same folds, the paired noise rule, CLI and JSON."""

import dataclasses
import json
import math

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from rich.console import Console

from edgeml.cli import cli
from edgeml.config import Config
from edgeml.errors import ConfigError
from edgeml.learn import prepare
from edgeml.search import FAMILIES, Candidate, compare_models
from edgeml.search._leaderboard import _rank, ship_choice
from tests.conftest import churn_like

TRAIN = {"cv_folds": 3, "params": {"num_threads": 1}, "reference_rows": 0}


def config_for(tmp_path, target):
    raw = {"train": {**TRAIN, "target": target, "out": str(tmp_path / "m.edgeml")}}
    return Config.from_dict(raw)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("board")
    return compare_models(prepare(churn_like(300), config_for(tmp_path, "churn")))


def test_every_family_on_the_same_folds(board):
    names = {c.name for c in board.candidates} | set(board.errors)
    assert names == set(FAMILIES) == {"gbdt", "dart", "goss", "rf", "linear_tree", "baseline"}
    assert not board.errors
    assert all(len(c.folds) == 3 for c in board.candidates)
    assert board.metric == "roc_auc" and board.split == "stratified"


def test_ranked_best_first_with_sizes_and_latency(board):
    means = [c.mean for c in board.candidates]
    assert means == sorted(means, reverse=True)
    assert board.best.best and sum(c.best for c in board.candidates) == 1
    baseline = next(c for c in board.candidates if c.name == "baseline")
    assert baseline.mean == 0.5 and baseline.size_bytes == 0 and baseline.latency_us is None
    assert not baseline.within_noise
    for c in board.candidates:
        if c.name != "baseline":
            assert c.size_bytes > 0 and c.latency_us is not None and c.latency_us > 0
            assert c.rounds >= 1
    dart = next(c for c in board.candidates if c.name == "dart")
    gbdt = next(c for c in board.candidates if c.name == "gbdt")
    assert dart.rounds == min(500, max(50, gbdt.rounds))  # DART takes the gbdt's rounds


def test_json_and_table(board):
    payload = json.loads(json.dumps(board.to_dict()))
    assert payload["best"] == board.best.name
    assert payload["noise_rule"].startswith("mean paired fold difference")
    keys = {"name", "mean", "std", "folds", "fit_seconds", "size_bytes", "latency_us"}
    assert keys | {"within_noise", "diff_mean", "diff_stderr"} <= set(payload["candidates"][0])
    console = Console(record=True, width=120)
    board.render(console)
    text = console.export_text()
    assert "leaderboard: roc_auc over 3 stratified folds" in text
    assert all(name in text for name in FAMILIES)


def candidate(name, folds):
    return Candidate(
        name=name,
        params={},
        folds=folds,
        mean=float(np.mean(folds)),
        std=float(np.std(folds, ddof=1)),
        cv_seconds=0.0,
        fit_seconds=0.0,
        size_bytes=0,
        latency_us=None,
    )


def test_noise_rule_pairs_folds():
    best = candidate("a", [0.80, 0.90, 0.70, 0.85])
    # Always 0.01 behind: a small but consistent gap is not noise.
    steady = candidate("b", [0.79, 0.89, 0.69, 0.84])
    # Behind on average by less than the spread of its paired differences: noise.
    noisy = candidate("c", [0.83, 0.86, 0.72, 0.81])
    ranked = _rank([steady, noisy, best], higher=True)
    by_name = {c.name: c for c in ranked}
    assert ranked[0].name == "a" and ranked[0].best
    assert not by_name["b"].within_noise
    assert by_name["b"].diff_mean == pytest.approx(0.01)
    assert by_name["c"].within_noise
    # Lower-is-better metrics rank the other way.
    assert _rank([steady, best], higher=False)[0].name == "b"


def test_the_winner_ships_only_beyond_noise_and_when_deployable():
    gbdt = candidate("gbdt", [0.80, 0.90, 0.70, 0.85])
    steady = candidate("goss", [0.82, 0.91, 0.72, 0.87])  # ahead on every fold
    noisy = candidate("dart", [0.84, 0.86, 0.75, 0.84])  # ahead on average, not beyond noise
    name, reason = ship_choice([gbdt, steady, noisy], higher=True)
    assert name == "goss" and "beats gbdt by +0.0175" in reason and "standard errors" in reason
    assert ship_choice([gbdt, noisy], higher=True)[0] == "gbdt"
    linear = dataclasses.replace(
        candidate("linear_tree", [0.9, 1.0, 0.8, 0.95]), deployable=False, not_deployable="why"
    )
    assert ship_choice([gbdt, linear], higher=True) == (
        "gbdt",
        "no deployable family beats gbdt beyond noise",
    )


def test_regression_leaderboard(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 2))
    frame = pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": 3 * x[:, 0] + x[:, 1] ** 2})
    board = compare_models(
        prepare(frame, config_for(tmp_path, "y")), families=["gbdt", "linear_tree", "baseline"]
    )
    assert board.metric == "r2"
    assert [c.name for c in board.candidates][-1] == "baseline"
    assert all(not math.isnan(c.mean) for c in board.candidates)


def test_unknown_family_and_no_cv(tmp_path):
    prepared = prepare(churn_like(100), config_for(tmp_path, "churn"))
    with pytest.raises(ConfigError, match="unknown model family 'xgboost'; expected one of"):
        compare_models(prepared, families=["xgboost"])
    no_cv = prepare(
        churn_like(100), config_for(tmp_path, "churn").with_overrides("train", cv_folds=0)
    )
    with pytest.raises(ConfigError, match="cv_folds >= 2"):
        compare_models(no_cv)


def test_cli_compare(tmp_path):
    data = tmp_path / "churn.csv"
    churn_like(300).write_csv(data)
    config = tmp_path / "edgeml.toml"
    config.write_text("[train]\ncv_folds = 3\nreference_rows = 0\nparams = { num_threads = 1 }\n")
    out = tmp_path / "churn.edgeml"
    args = ["train", str(data), "--target", "churn", "--out", str(out), "--config", str(config)]
    result = CliRunner().invoke(cli, [*args, "--compare", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["leaderboard"]["metric"] == "roc_auc"
    assert "search" not in payload
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["leaderboard"]["best"] == payload["leaderboard"]["best"]
    shipped = manifest["leaderboard"]["shipped"]
    decision = next(d for d in manifest["decisions"] if d["what"] == "model_family")
    assert (
        decision["choice"] == shipped
        and decision["reason"] == manifest["leaderboard"]["ship_reason"]
    )
    boosting = manifest["config"]["train"]["params"].get("boosting", "gbdt")
    assert boosting == {"goss": "gbdt"}.get(shipped, shipped)
    linear = next(c for c in manifest["leaderboard"]["candidates"] if c["name"] == "linear_tree")
    assert not linear["deployable"] and "constant-leaf" in linear["not_deployable"]
    people = CliRunner().invoke(cli, [*args, "--compare"])
    assert people.exit_code == 0, people.output
    assert "leaderboard: roc_auc" in people.stdout
    assert f"shipped: {shipped}" in people.stdout and "not deployable" in people.stdout
