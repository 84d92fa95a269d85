"""Hyperparameter search: the space and its errors, seeding, pruning, budgets, SQLite resume."""

import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner
from rich.console import Console

from edgeml.cli import cli
from edgeml.config import Config, load_config
from edgeml.errors import ConfigError, EdgeMLError
from edgeml.learn import prepare
from edgeml.pipeline import train
from edgeml.search import DEFAULT_SPACE, parse_duration, parse_space, search
from edgeml.search._budget import EdgeBudget, pareto_front
from edgeml.search._choose import choose_best
from edgeml.util.progress import Reporter
from tests.conftest import churn_like

ROOT = Path(__file__).resolve().parents[1]
# Small and single-threaded: the test machine is shared.
TRAIN = {"target": "churn", "cv_folds": 3, "params": {"num_threads": 1}, "reference_rows": 0}
CONFIG_TOML = """
[train]
cv_folds = 3
reference_rows = 0
params = { num_threads = 1 }
"""


def small_config(tmp_path: Path, name: str = "churn", **search: object) -> Config:
    raw = {"train": {**TRAIN, "out": str(tmp_path / f"{name}.edgeml")}, "search": search}
    return Config.from_dict(raw)


@pytest.fixture(scope="module")
def frame():
    return churn_like(300)


def test_default_space_covers_the_documented_parameters():
    assert set(DEFAULT_SPACE) == {
        "num_leaves",
        "min_data_in_leaf",
        "feature_fraction",
        "bagging_fraction",
        "lambda_l1",
        "lambda_l2",
        "max_depth",
    }
    assert DEFAULT_SPACE["num_leaves"].log and DEFAULT_SPACE["lambda_l2"].log


def test_trials_boost_faster_and_the_final_model_at_the_train_rate():
    from edgeml.search._study import searching

    config = Config().with_overrides("train", learning_rate=0.05, early_stopping_rounds=60)
    trial = searching(config, parse_space({}))
    assert trial.train.learning_rate == config.search.learning_rate == 0.15
    assert trial.train.early_stopping_rounds == 20  # patience in proportion to the rate
    searched = parse_space({"learning_rate": [0.01, 0.3]})
    assert searching(config, searched) == config  # the space decides the rate then


def test_space_entries_replace_add_and_fix():
    space = parse_space(
        {
            "num_leaves": [15, 63],
            "learning_rate": {"low": 0.02, "high": 0.2, "log": False},
            "max_depth": [-1, 6, 8],
            "min_data_in_leaf": {"choices": [10, 40]},
            "extra_trees": True,
            "min_gain_to_split": [0.0, 1.0],
        }
    )
    leaves = space.params["num_leaves"]
    assert (leaves.kind, leaves.low, leaves.high, leaves.log) == ("int", 15, 63, True)
    assert space.params["learning_rate"].log is False
    assert space.params["max_depth"].choices == (-1, 6, 8)
    assert space.params["min_data_in_leaf"].choices == (10, 40)
    assert space.params["min_gain_to_split"].kind == "float"
    assert space.fixed == {"extra_trees": True}
    assert "lambda_l1" in space.params  # the rest of the default stays
    assert set(parse_space({"num_leaves": [15, 63]}, defaults=False).params) == {"num_leaves"}


def test_grid_values():
    space = parse_space({"learning_rate": {"low": 0.01, "high": 0.09, "log": False}})
    assert space.params["learning_rate"].grid(3) == [0.01, 0.05, 0.09]
    assert space.params["num_leaves"].grid(3) == [7, 42, 255]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("num_leaves = [300, 255]", "[search.space] num_leaves: low 300 > high 255"),
        ("num_leaves = [1, 255]", "[search.space] num_leaves: low 1 is out of range; expected 2"),
        ("num_leaves = [15.5, 255]", "[search.space] num_leaves: expected integers"),
        ("feature_fraction = [0.5, 1.5]", "feature_fraction: high 1.5 is out of range"),
        ("lambda_l1 = { low = 0, high = 1, log = true }", "lambda_l1: a log scale needs low > 0"),
        ("num_leaves = { low = 15, hi = 63 }", "num_leaves: unknown key 'hi'; expected one of"),
        ("num_leaves = { low = 15 }", "num_leaves: a range needs both low and high"),
        ("max_depth = { choices = [] }", "max_depth: choices must be a non-empty list"),
        ("num_leaves = { low = 'a', high = 3 }", "num_leaves: low must be a number, got 'a'"),
    ],
)
def test_bad_space_is_named(tmp_path, toml, message):
    path = tmp_path / "edgeml.toml"
    path.write_text(f"[search]\nmethod = 'random'\n[search.space]\n{toml}\n")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"time_budget": "10x"}, "[search] time_budget: '10x' is not a duration"),
        ({"time_budget": "0s"}, "[search] time_budget: '0s' must be a positive duration"),
        ({"trials": 0}, "[search] trials: 0 is out of range; expected 1..100000"),
        ({"max_model_kb": 10}, "[search] max_model_kb (--max-model-kb) needs a search"),
        ({"method": "bayes", "max_latency_us": -1}, "max_latency_us: -1.0 must be positive"),
        ({"method": "tpe"}, "[search] method: 'tpe' is not allowed"),
    ],
)
def test_bad_search_settings_are_named(raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config.from_dict({"search": raw})


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("2.5", 2.5)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_search_needs_cross_validation(tmp_path, frame):
    config = small_config(tmp_path, method="random", trials=2)
    config = config.with_overrides("train", cv_folds=0)
    with pytest.raises(ConfigError, match="cv_folds >= 2"):
        search(prepare(frame, config))


@pytest.mark.parametrize(("method", "trials"), [("grid", 4), ("random", 4), ("bayes", 6)])
def test_same_seed_same_best(tmp_path, frame, method, trials):
    # TPE starts with 4 random trials here, so 6 trials include 2 chosen by the model.
    results = [
        search(prepare(frame, small_config(tmp_path / str(i), method=method, trials=trials)))
        for i in range(2)
    ]
    assert results[0].best_params == results[1].best_params
    assert results[0].best_value == results[1].best_value
    assert [t["params"] for t in results[0].trials] == [t["params"] for t in results[1].trials]
    assert (
        results[0].sampler
        == {
            "grid": "GridSampler",
            "random": "RandomSampler",
            "bayes": "TPESampler",
        }[method]
    )


def test_grid_walks_only_the_given_values(tmp_path, frame):
    config = small_config(
        tmp_path,
        method="grid",
        trials=10,
        default_space=False,
        space={"num_leaves": {"choices": [4, 8]}, "learning_rate": [0.05, 0.2]},
        grid_points=2,
    )
    result = search(prepare(frame, config))
    seen = {(t["params"]["num_leaves"], t["params"]["learning_rate"]) for t in result.trials}
    assert seen == {(4, 0.05), (4, 0.2), (8, 0.05), (8, 0.2)}  # the grid ends the study early


def test_hopeless_trials_are_pruned(tmp_path, frame):
    # A third of the trials cannot split (300 rows, 1000 per leaf): the median pruner stops
    # those after their first fold once five trials have finished.
    config = small_config(
        tmp_path,
        method="random",
        trials=12,
        default_space=False,
        space={"min_data_in_leaf": {"choices": [5, 10, 1000]}, "learning_rate": [0.05, 0.2]},
    )
    result = search(prepare(frame, config))
    pruned = [t for t in result.trials if t["state"] == "pruned"]
    assert pruned
    assert all(1 <= len(t["folds"]) < 3 for t in pruned)
    assert any(t["params"]["min_data_in_leaf"] == 1000 for t in pruned)
    assert result.best_params["min_data_in_leaf"] != 1000


def test_time_budget_ends_the_search_early_and_keeps_the_best(tmp_path, frame):
    config = small_config(tmp_path, method="random", trials=500, time_budget="3s")
    result = search(prepare(frame, config))
    assert 0 < len(result.trials) < 500
    assert result.best_value == max(t["value"] for t in result.trials if t["state"] == "complete")


def test_train_with_search_records_it_and_trains_the_best(tmp_path, frame):
    config = small_config(tmp_path, method="random", trials=3)
    manifest = train(frame, config=config).manifest
    found = manifest["search"]
    assert found["method"] == "random" and found["n_trials"] == 3
    assert set(found["states"]) <= {"complete", "pruned", "fail"}
    assert {"number", "state", "value", "params", "seconds"} <= set(found["trials"][0])
    best = found["best_params"]
    trained = manifest["config"]["train"]
    assert trained["num_leaves"] == best["num_leaves"]
    assert trained["params"]["lambda_l1"] == best["lambda_l1"]
    assert trained["params"]["bagging_freq"] == 1  # bagging_fraction needs it to do anything
    assert Path(found["storage"]).name == "churn.edgeml.study.db"


def test_library_search_is_silent(tmp_path, frame, capsys):
    search(prepare(frame, small_config(tmp_path, method="random", trials=2)))
    assert capsys.readouterr() == ("", "")


def test_without_resume_a_study_starts_over_and_with_it_continues(tmp_path, frame):
    first = search(prepare(frame, small_config(tmp_path, method="random", trials=3)))
    again = search(prepare(frame, small_config(tmp_path, method="random", trials=3)))
    assert len(again.trials) == 3 and again.reused_trials == 0
    more = search(prepare(frame, small_config(tmp_path, method="random", trials=5, resume=True)))
    assert more.reused_trials == 3 and len(more.trials) == 5
    assert [t["params"] for t in more.trials[:3]] == [t["params"] for t in first.trials]
    assert more.trials[3]["params"] != more.trials[0]["params"]  # new draws, not a replay


def test_edge_budget_gives_a_pareto_front(tmp_path, frame):
    config = small_config(tmp_path, method="bayes", trials=6, max_model_kb=1e6)
    manifest = train(frame, config=config).manifest
    found = manifest["search"]
    assert found["sampler"] == "NSGAIISampler"
    assert found["budget"] == {
        "max_latency_us": None,
        "max_model_kb": 1e6,
        "latency_by": "lightgbm Booster.predict",
    }
    assert found["pareto"]
    for point in found["pareto"]:
        assert set(point) == {"trial", "metric", "latency_us", "size_kb", "params", "within_budget"}
        assert point["within_budget"] is True
    json.dumps(found)  # the report reads it from the manifest


def test_a_latency_budget_is_timed_on_the_deployed_engine(tmp_path, frame):
    from edgeml.compile import latency_meter

    meter = latency_meter()
    assert meter is not None  # the machine that runs the tests has a C compiler
    config = small_config(tmp_path, method="random", trials=3, max_latency_us=1e6)
    manifest = train(frame, config=config, latency=meter).manifest
    found = manifest["search"]
    assert found["budget"]["latency_by"] == "edgeml native engine"
    assert all(0 < p["latency_us"] < 1e6 for p in found["pareto"])


@pytest.mark.parametrize("budget", [{"max_model_kb": 0.001}, {"max_latency_us": 1e-6}])
def test_unmeetable_budget_names_what_came_closest(tmp_path, frame, budget):
    config = small_config(tmp_path, method="random", trials=3, **budget)
    with pytest.raises(
        EdgeMLError, match=r"no model meets the edge budget .* closest was trial \d"
    ):
        search(prepare(frame, config))


def test_choosing_under_a_budget():
    budget = EdgeBudget(max_model_kb=10.0)
    records = [
        {"number": 0, "state": "complete", "value": 0.9, "params": {"a": 0}, "latency_us": 5.0,
         "size_kb": 20.0, "within_budget": False},
        {"number": 1, "state": "complete", "value": 0.8, "params": {"a": 1}, "latency_us": 5.0,
         "size_kb": 8.0, "within_budget": True},
        {"number": 2, "state": "complete", "value": 0.7, "params": {"a": 2}, "latency_us": 6.0,
         "size_kb": 9.0, "within_budget": True},
    ]  # fmt: skip
    best = choose_best(records, metric="r2", direction="maximize", budget=budget)
    assert best.number == 1
    assert [p["trial"] for p in best.pareto or []] == [0, 1]
    assert pareto_front([(1.0, 2.0), (2.0, 1.0), (2.0, 2.0)]) == [0, 1]
    with pytest.raises(EdgeMLError, match="completed no trial"):
        choose_best(records[:0], metric="r2", direction="maximize", budget=EdgeBudget())


def test_cli_search_json_and_options(tmp_path, frame):
    data = tmp_path / "churn.csv"
    frame.write_csv(data)
    config = tmp_path / "edgeml.toml"
    config.write_text(CONFIG_TOML + "[search]\ntrials = 50\n")
    out = tmp_path / "churn.edgeml"
    args = ["train", str(data), "--target", "churn", "--out", str(out), "--config", str(config)]
    result = CliRunner().invoke(cli, [*args, "--search", "random", "--trials", "2", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["search"]["n_trials"] == 2  # the option wins over the file
    assert json.loads((out / "manifest.json").read_text())["search"]["n_trials"] == 2
    bad = CliRunner().invoke(cli, [*args, "--max-model-kb", "10"])
    assert bad.exit_code == 2
    assert "max_model_kb (--max-model-kb) needs a search" in bad.output


def _finished_trials(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')"
            ).fetchone()
    except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
        return 0
    return int(row[0])


def test_killed_search_resumes_where_it_stopped(tmp_path):
    data = tmp_path / "churn.csv"
    churn_like(600).write_csv(data)
    config = tmp_path / "edgeml.toml"
    config.write_text(CONFIG_TOML + "[search]\nprune = false\n")
    out = tmp_path / "churn.edgeml"
    db = tmp_path / "churn.edgeml.study.db"
    args = ["train", str(data), "--target", "churn", "--out", str(out), "--config", str(config)]
    args += ["--search", "random", "--trials", "12"]
    process = subprocess.Popen(
        [sys.executable, "-m", "edgeml", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 300
        while _finished_trials(db) < 3 and process.poll() is None:
            assert time.monotonic() < deadline, "the search stored no trials in time"
            time.sleep(0.05)
        assert process.poll() is None, "the search ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    stored = optuna.load_study(study_name=None, storage=f"sqlite:///{db}")
    before = {t.number: t.params for t in stored.trials if t.state.is_finished()}
    killed = [t.params for t in stored.trials if t.state.name == "RUNNING"]
    assert 3 <= len(before) < 12
    assert not out.exists()  # killed before the bundle was written

    result = CliRunner().invoke(cli, [*args, "--resume", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["search"]
    assert found["reused_trials"] == len(before)
    assert found["states"].get("complete", 0) + found["states"].get("pruned", 0) == 12
    after = {t["number"]: t["params"] for t in found["trials"]}
    assert all(after[number] == params for number, params in before.items())
    if killed:  # the trial the kill interrupted runs again, under a new number
        assert killed[0] in [p for n, p in after.items() if n not in before]
    assert (out / "manifest.json").exists()


def test_progress_shows_trials_best_and_time_left(tmp_path, frame):
    console = Console(file=io.StringIO(), width=200)  # not a terminal: one line per trial
    config = small_config(tmp_path, method="random", trials=2, time_budget="10m")
    search(prepare(frame, config), reporter=Reporter(console=console))
    text = console.file.getvalue()
    assert re.search(r"trial 0 \(1/2\): roc_auc 0\.\d+; best roc_auc 0\.\d+; \S+ left", text)
    assert "trial 1 (2/2)" in text and "search: best roc_auc" in text
