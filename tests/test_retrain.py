"""Retraining: challenger vs champion on the same unseen rows, gates, registry, and kill -9."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from edgeml import train
from edgeml.bundle import read_manifest
from edgeml.cli._registry import retrain as retrain_cli
from edgeml.config import Config
from edgeml.errors import DataError, ParityError, SourceError
from edgeml.evaluate import compute_metrics
from edgeml.registry import Registry
from edgeml.retrain import retrain
from edgeml.retrain._compare import paired_bootstrap, weighted_metric
from edgeml.retrain._data import _split_holdout
from tests.conftest import shared

REPO = Path(__file__).resolve().parents[1]
# Small and single-threaded: fast, and the same model twice from the same rows.
SMALL = {
    "train": {
        "target": "churn",
        "num_boost_round": 50,
        "cv_folds": 0,
        "reference_rows": 100,
        "params": {"num_threads": 1},
    },
    "features": {"mode": "none"},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Slices of the real telco churn file; ``noise`` has its labels shuffled."""
    root = tmp_path_factory.mktemp("churn")
    # All text, so each slice is written back exactly as it was in the source file.
    telco = pl.read_csv(shared("telco_churn.csv"), infer_schema_length=0)
    parts = {
        "noise": telco.head(1000).with_columns(pl.col("churn").shuffle(seed=1)),
        "old": telco.head(2000),
        "seen": telco.head(800),  # rows the "old" champion trained on, in a new file
        "new": telco.slice(2000, 2000),
        "more": telco.slice(4000, 1500),
        "few": telco.slice(4000, 50),
    }
    paths = {}
    for name, frame in parts.items():
        paths[name] = root / f"{name}.csv"
        frame.write_csv(paths[name])
    return paths


def champion(tmp_path: Path, data_file: Path, **sections) -> Path:
    raw = {k: dict(v) for k, v in SMALL.items()}
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    config = Config.from_dict(raw)
    return train(data_file, out=tmp_path / "champ.edgeml", config=config).bundle


def registered(tmp_path: Path, bundle: Path) -> Registry:
    reg = Registry(tmp_path / "reg")
    reg.add("churn", bundle, promote=True)
    return reg


# --- the paired bootstrap -------------------------------------------------------------------


def test_identical_models_are_never_better():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    proba = rng.dirichlet([1, 1], 300)
    values = rng.normal(size=300)
    cases = [("roc_auc", y, proba), ("macro_f1", y, proba), ("r2", values, values * 0.5)]
    for metric, truth, out in cases:
        c = paired_bootstrap(metric, truth, champion=out, challenger=out.copy())
        assert (c.gain, c.low, c.high, c.better) == (0.0, 0.0, 0.0, False)


def test_a_clearly_better_model_wins_and_losses_count_lower_as_better():
    rng = np.random.default_rng(1)
    y = rng.normal(size=500)
    close, far = y + rng.normal(size=500) * 0.1, y + rng.normal(size=500)
    for metric in ("r2", "rmse", "mae"):
        c = paired_bootstrap(metric, y, champion=far, challenger=close, resamples=500)
        assert c.better and c.gain > 0 and c.low > 0, metric
        assert not paired_bootstrap(metric, y, champion=close, challenger=far).better
    labels = (y > 0).astype(int)
    sharp = np.column_stack([1 - (y > 0) * 0.9 - 0.05, (y > 0) * 0.9 + 0.05])
    blurred = np.column_stack([1 - 1 / (1 + np.exp(-far)), 1 / (1 + np.exp(-far))])
    c = paired_bootstrap("log_loss", labels, champion=blurred, challenger=sharp)
    assert c.gain == pytest.approx(c.champion - c.challenger) and c.better


def test_a_small_difference_within_noise_is_not_better():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    score = np.clip(y * 0.2 + rng.random(200), 0, 1)
    jittered = np.clip(score + rng.normal(size=200) * 0.01, 0, 1)
    c = paired_bootstrap(
        "roc_auc",
        y,
        champion=np.column_stack([1 - score, score]),
        challenger=np.column_stack([1 - jittered, jittered]),
    )
    assert c.low < 0 < c.high and not c.better


@pytest.mark.parametrize("metric", ["roc_auc", "macro_f1", "accuracy", "log_loss"])
def test_weighted_metrics_equal_scikit_learn_on_repeated_rows(metric):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 400) if metric != "roc_auc" else rng.integers(0, 2, 400)
    k = 3 if metric != "roc_auc" else 2
    proba = np.round(rng.dirichlet(np.ones(k), 400), 2)  # rounded: tied scores too
    proba /= proba.sum(axis=1, keepdims=True)
    weights = rng.integers(0, 3, 400)
    rows = np.repeat(np.arange(400), weights)
    task = "binary" if k == 2 else "multiclass"
    expected = compute_metrics(task, y[rows], prediction=proba[rows].argmax(1), proba=proba[rows])
    assert weighted_metric(metric, weights, y, proba) == pytest.approx(expected[metric], rel=1e-9)


@pytest.mark.parametrize("metric", ["r2", "rmse", "mae"])
def test_weighted_regression_metrics_equal_scikit_learn(metric):
    rng = np.random.default_rng(4)
    y, pred = rng.normal(size=300), rng.normal(size=300)
    weights = rng.integers(0, 3, 300)
    rows = np.repeat(np.arange(300), weights)
    expected = compute_metrics("regression", y[rows], prediction=pred[rows])[metric]
    assert weighted_metric(metric, weights, y, pred) == pytest.approx(expected, rel=1e-9)


# --- the holdout ----------------------------------------------------------------------------


def test_holdout_is_the_latest_rows_with_a_time_column_else_a_seeded_share():
    frame = pl.DataFrame({"t": [5, 1, 9, 3, 7] * 40, "i": range(200)})
    timed = Config.from_dict({"train": {"time_col": "t"}})
    fit, held = _split_holdout(frame, timed.retrain, timed, "new.csv")
    assert held.height == 40 and held["t"].min() >= fit["t"].max()
    plain = Config.from_dict({"train": {"seed": 3}})
    fit, held = _split_holdout(frame, plain.retrain, plain, "new.csv")
    again = _split_holdout(frame, plain.retrain, plain, "new.csv")[1]
    assert held["i"].to_list() == again["i"].to_list() == sorted(held["i"].to_list())
    assert set(held["i"]).isdisjoint(fit["i"]) and fit.height == 160


def test_too_few_new_rows_to_hold_out_is_a_clear_error(tmp_path, data):
    bundle = champion(tmp_path, data["old"])
    with pytest.raises(DataError) as err:
        retrain(bundle, data["few"])
    assert str(err.value) == (
        f"{data['few']}: 50 labelled new rows; a 0.2 holdout needs at least 20 of them and some "
        "left to train on (add rows or raise [retrain] holdout)"
    )


# --- decisions ------------------------------------------------------------------------------


def test_informative_new_data_is_promoted_and_the_decision_recorded(tmp_path, data):
    reg = registered(tmp_path, champion(tmp_path, data["noise"]))
    result = retrain("churn", data["new"], registry=reg)
    assert (result.accepted, result.promoted, result.version) == (True, True, 2)
    assert result.rows == {"old": 1000, "new": 2000, "train": 2600, "holdout": 400}
    c = result.comparison
    assert c.metric == "roc_auc" and c.rows == 400 and c.resamples == 1000
    assert c.challenger > 0.7 and c.champion < 0.6 and c.low > 0.1
    assert reg.current("churn") == result.challenger == tmp_path / "reg" / "churn" / "v2"
    # The decision is in the (checksummed) challenger bundle and in the registry history.
    manifest = read_manifest(result.challenger, verify=True)
    record = manifest["retrain"]
    assert record["accepted"] is True and record["comparison"] == c.to_dict()
    assert record["reasons"] == [
        f"roc_auc {c.champion:.4f} -> {c.challenger:.4f}: gain {c.gain:+.4g}, "
        f"95% lower bound {c.low:+.4g} > 0"
    ]
    added = reg.history("churn")[-2]
    assert (added["action"], added["source"], added["retrain"]) == ("add", "retrain", record)
    assert reg.history("churn")[-1]["action"] == "promote"
    # Its data card names the files, so it can be retrained in turn.
    uris = [s["uri"] for s in manifest["data_card"]["sources"]]
    assert uris == [str(data["noise"]), str(data["new"])]


def test_the_challenger_keeps_the_champions_positive_class(tmp_path):
    """With neither label yes-like, the rarer one is positive; new rows where the other label is
    the rarer must not turn the challenger around."""
    rng = np.random.default_rng(3)

    def rows(n: int, share_ok: float) -> pl.DataFrame:
        x = rng.normal(size=n)
        ok = rng.random(n) < share_ok + 0.2 * np.tanh(x)
        return pl.DataFrame({"x": x, "churn": np.where(ok, "ok", "gone")})

    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    rows(600, 0.3).write_csv(old)  # "ok" is the rarer label
    rows(3000, 0.7).write_csv(new)  # "gone" is the rarer label
    bundle = champion(tmp_path, old)
    assert read_manifest(bundle)["target"]["classes"] == ["gone", "ok"]
    result = retrain(bundle, new, out=tmp_path / "next.edgeml")
    assert read_manifest(result.challenger)["target"]["classes"] == ["gone", "ok"]


@pytest.mark.parametrize(("given", "rates"), [(None, (0.1, 0.05)), (0.1, (0.1, 0.1))])
def test_a_rate_chosen_by_the_champions_rows_is_chosen_again_by_the_challengers(
    tmp_path, data, given, rates
):
    """An unset learning rate is 0.1 on the champion's 640 training rows; the challenger trains
    on 2,560 rows and boosts at 0.05, as a first training on them would. A rate the user set
    stays. The manifest records the rate used in its config, and whether rows chose it."""
    train = {} if given is None else {"learning_rate": given}
    bundle = champion(tmp_path, data["seen"], train=train)
    result = retrain(bundle, data["new"], out=tmp_path / "next.edgeml")
    for path, rate in zip((bundle, result.challenger), rates, strict=True):
        manifest = read_manifest(path)
        assert manifest["config"]["train"]["learning_rate"] == rate
        assert f"[learning_rate: {rate}]" in (path / "model.txt").read_text()
        chosen = [d["choice"] for d in manifest["decisions"] if d["what"] == "learning_rate"]
        assert chosen == ([] if given else [rate])


def test_a_retrained_challenger_is_retrained_in_turn_on_all_its_data(tmp_path, data):
    reg = registered(tmp_path, champion(tmp_path, data["noise"]))
    retrain("churn", data["new"], registry=reg)
    result = retrain(None, data["more"], registry=reg, name="churn")
    assert result.champion == tmp_path / "reg" / "churn" / "v2"
    assert result.rows == {"old": 3000, "new": 1500, "train": 4200, "holdout": 300}
    assert result.version == 3 and result.promoted == result.accepted


def test_a_challenger_no_better_is_kept_out(tmp_path, data):
    # New rows the champion already learned from: the challenger is the same model, gain 0.
    bundle = champion(tmp_path, data["old"])
    result = retrain(bundle, data["seen"])
    assert (result.accepted, result.promoted) == (False, False)
    c = result.comparison
    assert (c.gain, c.low, c.high) == (0.0, 0.0, 0.0) and c.champion == c.challenger
    assert result.reasons == [
        f"roc_auc {c.champion:.4f} -> {c.challenger:.4f}: gain +0 is not beyond noise "
        "(95% lower bound +0 <= 0)"
    ]
    assert result.challenger == tmp_path / "champ.challenger.edgeml"
    assert read_manifest(result.challenger)["retrain"]["accepted"] is False
    assert result.checks == {}  # no exports or budgets checked for a loser


def test_a_rejected_challenger_is_added_but_not_promoted(tmp_path, data):
    reg = registered(tmp_path, champion(tmp_path, data["old"]))
    result = retrain("churn", data["seen"], registry=reg)
    assert (result.accepted, result.promoted, result.version) == (False, False, 2)
    assert reg.current("churn").name == "v1"
    assert [v.is_current for v in reg.versions("churn")] == [True, False]
    assert reg.history("churn")[-1]["retrain"]["accepted"] is False


def test_window_new_and_sliding(tmp_path, data):
    bundle = champion(tmp_path, data["noise"])
    new_only = Config.from_dict({"retrain": {"window": "new"}})
    result = retrain(bundle, data["new"], config=new_only, out=tmp_path / "a.edgeml")
    assert result.rows == {"old": 0, "new": 2000, "train": 1600, "holdout": 400}
    sources = read_manifest(result.challenger)["data_card"]["sources"]
    assert [s["uri"] for s in sources] == [str(data["new"])]
    sliding = Config.from_dict({"retrain": {"window": "sliding", "max_rows": 500}})
    result = retrain(bundle, data["new"], config=sliding, out=tmp_path / "b.edgeml")
    assert result.rows == {"old": 1000, "new": 2000, "train": 500, "holdout": 400}


def test_old_data_gone_or_changed_is_a_clear_error(tmp_path, data):
    copy = tmp_path / "noise.csv"
    copy.write_bytes(data["noise"].read_bytes())
    bundle = champion(tmp_path, copy)
    copy.write_bytes(copy.read_bytes() + b"\n")
    with pytest.raises(SourceError) as err:
        retrain(bundle, data["new"])
    assert str(err.value) == (
        f"{copy}: changed since the champion was trained (sha256 differs from the data card in "
        f'{bundle / "manifest.json"}); restore it, or set [retrain] window = "new" to train on '
        "the new rows only"
    )
    copy.unlink()
    with pytest.raises(SourceError, match="the champion's training data is gone; restore it"):
        retrain(bundle, data["new"])
    new_only = Config.from_dict({"retrain": {"window": "new"}})
    assert retrain(bundle, data["new"], config=new_only).rows["old"] == 0


def test_retrain_from_another_directory_finds_the_champions_data(tmp_path, data, monkeypatch):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "old.csv").write_bytes(data["noise"].read_bytes())
    monkeypatch.chdir(work)
    bundle = champion(work, Path("old.csv"))  # trained on a relative path
    [source] = read_manifest(bundle)["data_card"]["sources"]
    assert source["uri"] == "old.csv"  # as given, for display
    assert source["path"] == str((work / "old.csv").resolve())
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(
        retrain_cli, [str(bundle), str(data["new"]), "--out", str(elsewhere / "c.edgeml"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"]["old"] == 1000


def test_the_champions_own_file_is_refused_as_new_data(tmp_path, data):
    bundle = champion(tmp_path, data["old"])
    with pytest.raises(DataError) as err:
        retrain(bundle, data["old"])
    assert str(err.value) == (
        f"{data['old']}: the champion was trained on this file (same sha256); "
        "retraining needs rows neither model has seen"
    )


# --- gates ----------------------------------------------------------------------------------


def test_the_challenger_is_exported_like_the_champion_and_passes_parity(tmp_path, data):
    from edgeml.compile import export

    bundle = champion(tmp_path, data["noise"])
    export(bundle, format="onnx")
    result = retrain(bundle, data["new"])
    assert result.accepted and result.checks["onnx"]["passed"] is True
    assert set(read_manifest(result.challenger)["backends"]) == {"lightgbm", "onnx"}


def test_a_parity_failure_rejects_the_challenger(tmp_path, data, monkeypatch):
    import edgeml.compile

    bundle = champion(tmp_path, data["noise"])
    edgeml.compile.export(bundle, format="onnx")
    reg = registered(tmp_path, bundle)

    def refuse(path, *, format, **kwargs):
        raise ParityError(f"{format} export refused: row 3 differs")

    monkeypatch.setattr(edgeml.compile, "export", refuse)
    result = retrain("churn", data["new"], registry=reg)
    assert result.comparison.better and not result.accepted and not result.promoted
    assert result.reasons[1:] == [
        "lightgbm export refused: row 3 differs",
        "onnx export refused: row 3 differs",
    ]
    assert reg.current("churn").name == "v1"


def test_an_edge_budget_the_challenger_exceeds_rejects_it(tmp_path, data):
    bundle = champion(tmp_path, data["noise"])
    # A budget tightened at retraining time (budgets are only valid beside a search method).
    tight = Config.from_dict({"search": {"method": "random", "max_model_kb": 1.0}})
    result = retrain(bundle, data["new"], config=tight)
    assert result.comparison.better and not result.accepted
    size = result.checks["budget"]["size_kb"]
    assert result.reasons[1:] == [f"model size {size:.1f} KB is over the 1 KB budget"]


def test_a_searched_champion_is_retrained_with_its_best_parameters_not_searched_again(
    tmp_path, data
):
    search = {"method": "random", "trials": 2}
    bundle = champion(tmp_path, data["noise"], search=search, train={"cv_folds": 2})
    result = retrain(bundle, data["new"])
    stored, trained = read_manifest(result.challenger), read_manifest(bundle)
    assert "search" in trained and "search" not in stored
    assert stored["config"]["search"] == trained["config"]["search"]
    assert stored["config"]["train"]["params"] == trained["config"]["train"]["params"]


# --- command line ---------------------------------------------------------------------------


def test_cli_prints_the_decision_and_json(tmp_path, data):
    bundle = champion(tmp_path, data["old"])
    result = CliRunner().invoke(retrain_cli, [str(bundle), str(data["seen"])])
    assert result.exit_code == 0, result.output
    challenger = tmp_path / "champ.challenger.edgeml"
    score = read_manifest(challenger)["retrain"]["comparison"]["champion"]
    assert result.stdout.splitlines() == [
        f"champion: {bundle}",
        f"challenger: {challenger}",
        f"roc_auc on 160 held-out rows: champion {score:.4f}, challenger {score:.4f}, "
        "gain +0.0000 (95% interval +0.0000 .. +0.0000)",
        "decision: kept the champion",
        f"reason: roc_auc {score:.4f} -> {score:.4f}: gain +0 is not beyond noise "
        "(95% lower bound +0 <= 0)",
    ]
    other = tmp_path / "other"
    other.mkdir()
    reg = registered(other, champion(other, data["noise"]))
    result = CliRunner().invoke(
        retrain_cli, ["churn", str(data["new"]), "--registry", str(reg.root), "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["promoted"], payload["version"], payload["name"]) == (True, 2, "churn")
    assert payload["comparison"]["better"] is True


def test_cli_user_errors_exit_2_with_one_line(tmp_path, data):
    result = CliRunner().invoke(
        retrain_cli, ["fraud", str(data["new"]), "--registry", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"Error: {tmp_path}: no model named 'fraud' in this registry; models: none\n"
    )
    assert "Example:" in CliRunner().invoke(retrain_cli, ["--help"]).stdout


# --- kill -9 --------------------------------------------------------------------------------

# Forks a retrain per run from one interpreter that has imported edgeml (and done nothing else,
# so no thread pool is running yet), SIGKILLs it just before / just after each filesystem commit
# (every os.replace, os.rename, os.symlink) and at several delays, and lists the runs.
DRIVER = r"""
import json, os, shutil, signal, sys, time, traceback
from edgeml.retrain import retrain

template, new, work = sys.argv[1], sys.argv[2], sys.argv[3]


def child(root, k, when):
    count = 0

    def wrap(real):
        def op(*args, **kwargs):
            nonlocal count
            count += 1
            if count == k and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            result = real(*args, **kwargs)
            if count == k and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return op

    for name in ("replace", "rename", "symlink"):
        setattr(os, name, wrap(getattr(os, name)))
    retrain("churn", new, registry=root)
    return count


def run(label, k=0, when="", delay=None):
    root = os.path.join(work, label)
    shutil.copytree(template, root, symlinks=True)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ops = child(root, k, when)
            with open(root + ".ops", "w") as handle:
                handle.write(str(ops))
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    if delay is not None:
        time.sleep(delay)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    return {"root": root, "k": k, "when": when, "delay": delay, "pid": pid,
            "status": os.waitstatus_to_exitcode(status)}


runs = [run("full")]
ops = int(open(runs[0]["root"] + ".ops").read())
for k in range(1, ops + 1):
    for when in ("before", "after"):
        runs.append(run(f"op{k}{when}", k, when))
for i, delay in enumerate((0.02, 0.1, 0.2, 0.3, 0.4)):
    runs.append(run(f"delay{i}", delay=delay))
print(json.dumps({"ops": ops, "runs": runs}))
"""


def test_kill_9_at_any_moment_leaves_current_on_a_complete_verified_bundle(tmp_path, data):
    template = tmp_path / "template"
    Registry(template).add("churn", champion(tmp_path, data["noise"]), promote=True)
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(script), str(template), str(data["new"]), str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    runs = report["runs"]
    assert runs[0]["status"] == 0 and report["ops"] >= 6  # train, rewrite, add, switch, history
    assert all(r["status"] == -9 for r in runs[1:-5])  # every op run was killed
    currents = []
    for run in runs:
        reg = Registry(run["root"])
        current = reg.current("churn")
        read_manifest(current, verify=True)  # complete and verified, whatever the moment
        for info in reg.versions("churn"):  # no half-written vN either
            read_manifest(info.path, verify=True)
        reg.history("churn")  # still valid JSON
        currents.append(current.name)
        # The next add cleans what the killed process left behind.
        reg.add("churn", tmp_path / "champ.edgeml")
        leftovers = [p.name for p in (Path(run["root"]) / "churn").iterdir()]
        assert not [n for n in leftovers if n.startswith(".tmp-")], (run, leftovers)
    assert currents[0] == "v2"
    # Kills fell on both sides of the switch: before it v1 stays current, after it v2 is.
    assert {"v1", "v2"} <= set(currents[1:])
