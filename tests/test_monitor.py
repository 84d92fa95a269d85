"""``monitor_summary`` and ``edgeml monitor`` on real SQLite prediction logs of real rows.

The telco churn bundle is trained once; its logs hold rows of the training file (undrifted), the
same rows with ``tenure`` shifted past its training range and a third of ``monthly_charges``
missing (drifted), and the undrifted rows with their labels flipped (an accuracy collapse).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from sklearn.metrics import f1_score, log_loss, roc_auc_score

import edgeml
import edgeml.runtime
from edgeml.cli._monitor import monitor
from edgeml.config import Config, MonitorConfig
from edgeml.errors import ConfigError, DataError
from edgeml.evaluate import primary_metric
from edgeml.monitor import connect_log, default_log_path
from edgeml.monitor._live import MIN_LABELLED, PRIMARY
from edgeml.monitor._summary import monitor_config, monitor_summary
from edgeml.util.progress import SILENT
from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000.0
ROWS = 1200
PER_REQUEST = 4
FAST = {"cv_folds": 0, "num_boost_round": 200, "reference_rows": 0, "params": {"num_threads": 1}}
_BUILT: dict[str, Any] = {}


def build_telco(factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The telco bundle and its three logs, built once a session (the report tests share it)."""
    if _BUILT:
        return _BUILT
    root = factory.mktemp("monitor")
    config = Config.from_dict({"train": FAST, "features": {"mode": "none"}})
    bundle = edgeml.train(
        shared("telco_churn.csv"),
        target="churn",
        out=root / "telco.edgeml",
        config=config,
        reporter=SILENT,
    ).bundle
    frame = pl.read_csv(shared("telco_churn.csv"), infer_schema_length=10_000)
    sample = frame.sample(ROWS, seed=3)
    labels = sample["churn"].to_list()
    records = sample.drop("churn").to_dicts()
    drifted = [
        {
            **r,
            "tenure": r["tenure"] + 40,
            "monthly_charges": None if i % 3 == 0 else r["monthly_charges"],
        }
        for i, r in enumerate(records)
    ]
    flipped = ["No" if label == "Yes" else "Yes" for label in labels]
    _BUILT.update(
        bundle=Path(bundle),
        labels=labels,
        ok=write_log(root / "ok.db", bundle, records, labels),
        drift=write_log(root / "drift.db", bundle, drifted, labels),
        flipped=write_log(root / "flipped.db", bundle, records, flipped),
    )
    return _BUILT


def write_log(
    path: Path,
    bundle: str | Path,
    records: list[dict[str, Any]],
    labels: list[Any] | None,
    *,
    t0: float = T0,
    step: float = 0.5,
) -> Path:
    """Log ``records`` as the server would: predicted by the bundle, ``PER_REQUEST`` rows a
    request, one every ``step`` seconds, latency 100..149 µs by request, two backends."""
    model = edgeml.runtime.load(bundle)
    columns = {c: [r.get(c) for r in records] for c in model.prep.input_schema}
    output = model.predict(columns)
    classes = model.classes
    rows = []
    for i, record in enumerate(records):
        outputs = {k: np.asarray(v[i]).item() for k, v in output.items()}
        if classes is None:
            score = outputs["prediction"]
        elif model.task == "binary":
            score = outputs[f"proba_{classes[1]}"]
        else:
            score = classes.index(outputs["prediction"])
        request = i // PER_REQUEST
        rows.append(
            (
                f"req-{request}",
                i % PER_REQUEST,
                t0 + i * step,
                "v1",
                "treelite" if request % 3 else "lightgbm",
                100.0 + request % 50,
                PER_REQUEST,
                json.dumps(record),
                json.dumps(outputs),
                score,
                None if labels is None or labels[i] is None else json.dumps(labels[i]),
            )
        )
    connection = connect_log(path)
    connection.executemany(
        "INSERT INTO predictions (request_id, row, ts, model_version, backend, latency_us, "
        "batch_size, inputs, outputs, score, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    connection.commit()
    connection.close()
    return path


@pytest.fixture(scope="session")
def telco(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_telco(tmp_path_factory)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Multiclass and regression bundles on synthetic rows, each with a labelled log."""
    root = tmp_path_factory.mktemp("small")
    rng = np.random.default_rng(0)
    n = 400
    x, z = rng.normal(size=n), rng.uniform(0, 10, n)
    colour = rng.choice(["red", "green", "blue"], n)
    score = x + 0.3 * z + np.where(colour == "red", 1.0, 0.0)
    targets = {
        "multiclass": np.array(["low", "mid", "high"])[np.digitize(score, [0.5, 2.0])].tolist(),
        "regression": (score * 10).tolist(),
    }
    config = Config.from_dict({"train": FAST, "features": {"mode": "none"}})
    out = {}
    for task, y in targets.items():
        frame = pl.DataFrame({"x": x, "z": z, "colour": colour, "y": y})
        frame.write_csv(root / f"{task}.csv")
        bundle = edgeml.train(
            root / f"{task}.csv",
            target="y",
            out=root / f"{task}.edgeml",
            config=config,
            reporter=SILENT,
        ).bundle
        records = frame.drop("y").to_dicts()
        out[task] = (Path(bundle), write_log(root / f"{task}.db", bundle, records, y))
    return out


# -- drift ---------------------------------------------------------------------------------------


def test_rows_from_the_training_data_raise_no_alert(telco):
    summary = monitor_summary(telco["bundle"], log=telco["ok"])
    assert summary.rows == ROWS and summary.requests == ROWS // PER_REQUEST
    assert summary.alerts == [] and not summary.drifted and not summary.accuracy_alert
    assert {d.status for d in summary.features.values()} <= {"ok"}
    assert max(d.psi for d in summary.features.values()) < 0.05
    assert summary.prediction is not None and summary.prediction.status == "ok"
    assert summary.unreadable_rows == 0


def test_a_shifted_feature_alerts_and_untouched_ones_do_not(telco):
    summary = monitor_summary(telco["bundle"], log=telco["drift"])
    assert summary.drifted
    tenure, charges = summary.features["tenure"], summary.features["monthly_charges"]
    assert tenure.status == "alert" and tenure.psi > 1.0
    # tenure + 40 leaves the training range [0, 72] whenever tenure > 32.
    assert tenure.out_of_range > 0.3
    assert charges.status == "alert" and charges.missing == pytest.approx(1 / 3, abs=0.01)
    assert summary.features["contract"].status == "ok"
    assert any(a.startswith("feature 'tenure': PSI") for a in summary.alerts)
    assert any("outside the training range" in a for a in summary.alerts)
    assert any(a.startswith("feature 'monthly_charges': missing") for a in summary.alerts)
    # The worst feature comes first.
    assert summary.top_features(2)[0].name == "tenure"


def test_thresholds_come_from_the_config(telco):
    lenient = MonitorConfig(
        psi_warn=50.0, psi_alert=100.0, missing_alert=0.9, out_of_range_alert=0.9
    )
    summary = monitor_summary(telco["bundle"], log=telco["drift"], config=lenient)
    assert not summary.drifted and summary.alerts == []


# -- traffic -------------------------------------------------------------------------------------


def test_throughput_latency_and_counts(telco):
    summary = monitor_summary(telco["bundle"], log=telco["ok"], now=T0 + 5000)
    requests = np.arange(ROWS // PER_REQUEST)
    latency = 100.0 + requests % 50
    for q in (50, 95, 99):
        assert summary.latency_us[f"p{q}"] == pytest.approx(np.percentile(latency, q))
    span = (ROWS - 1) * 0.5
    assert summary.start == T0 and summary.end == T0 + span
    assert summary.rows_per_s == pytest.approx(ROWS / span)
    assert summary.requests_per_s == pytest.approx(ROWS / PER_REQUEST / span)
    lightgbm = int(np.sum(requests % 3 == 0)) * PER_REQUEST
    assert summary.backends == {"lightgbm": lightgbm, "treelite": ROWS - lightgbm}
    assert summary.model_versions == {"v1": ROWS}
    assert summary.generated_at == T0 + 5000
    assert sum(summary.latency_histogram["counts"]) == ROWS // PER_REQUEST


def test_window_takes_the_latest_rows(telco):
    summary = monitor_summary(telco["bundle"], log=telco["ok"], window=100)
    assert summary.rows == 100 and summary.window == 100
    assert summary.start == T0 + (ROWS - 100) * 0.5
    assert summary.to_dict()["thresholds"]["window"] == 100


def test_time_buckets_cover_the_window(telco):
    summary = monitor_summary(telco["bundle"], log=telco["drift"])
    series = summary.series
    assert len(series) == 10
    assert sum(b.rows for b in series) == ROWS
    assert series[0].start == summary.start and series[-1].end == summary.end
    assert all(b.psi["tenure"] > 1.0 for b in series)
    assert sum(b.labelled for b in series) == summary.live.rows


# -- live accuracy -------------------------------------------------------------------------------


def test_live_metrics_equal_sklearn_on_the_logged_rows(telco):
    summary = monitor_summary(telco["bundle"], log=telco["ok"])
    connection = sqlite3.connect(telco["ok"])
    score, label = zip(
        *connection.execute("SELECT score, label FROM predictions ORDER BY id"), strict=True
    )
    connection.close()
    y = np.array([json.loads(v) == "Yes" for v in label], dtype=int)
    p = np.array(score)
    live = summary.live
    assert live.rows == ROWS and live.primary == "roc_auc"
    assert live.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert live.metrics["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-12)
    assert live.metrics["f1"] == pytest.approx(f1_score(y, (p > 0.5).astype(int)), abs=1e-12)
    assert live.holdout == pytest.approx(summary_manifest_holdout(telco["bundle"]))


def summary_manifest_holdout(bundle: Path) -> float:
    manifest = json.loads((bundle / "manifest.json").read_text())
    return float(manifest["metrics"]["holdout"]["roc_auc"])


def test_flipped_labels_raise_an_accuracy_alert(telco):
    summary = monitor_summary(telco["bundle"], log=telco["flipped"])
    assert summary.accuracy_alert and not summary.drifted
    assert summary.live.live < 0.3
    assert [a for a in summary.alerts if a.startswith("accuracy: live roc_auc")]


def test_too_few_labels_do_not_alert(telco, tmp_path):
    log = tmp_path / "few.db"
    shutil_copy(telco["flipped"], log)
    connection = sqlite3.connect(log)
    with connection:
        connection.execute("UPDATE predictions SET label = NULL WHERE id > ?", (MIN_LABELLED - 1,))
    connection.close()
    summary = monitor_summary(telco["bundle"], log=log)
    assert summary.live.rows == MIN_LABELLED - 1 and not summary.accuracy_alert


def test_unknown_labels_are_counted_and_left_out(telco, tmp_path):
    log = tmp_path / "odd.db"
    shutil_copy(telco["ok"], log)
    connection = sqlite3.connect(log)
    with connection:
        connection.execute("UPDATE predictions SET label = '\"maybe\"' WHERE id <= 10")
        connection.execute("UPDATE predictions SET label = NULL WHERE id > 10 AND id <= 30")
    connection.close()
    summary = monitor_summary(telco["bundle"], log=log)
    assert summary.unknown_labels == 10 and summary.live.rows == ROWS - 30
    assert summary.to_dict()["live"]["unknown_labels"] == 10


def test_multiclass_and_regression_logs(small):
    bundle, log = small["multiclass"]
    summary = monitor_summary(bundle, log=log)
    assert summary.prediction is not None and summary.prediction.kind == "classes"
    assert summary.live.primary == "macro_f1" and {"accuracy", "log_loss"} <= set(
        summary.live.metrics
    )
    assert summary.live.rows == 400 and summary.alerts == []
    prediction = summary.prediction
    assert prediction.buckets == ("0", "1", "2", "other", "missing")
    assert len(prediction.shares) == len(prediction.baseline_shares) == 5
    from edgeml.monitor._report import write_monitor_report

    html = write_monitor_report(summary, small["multiclass"][0].parent / "m.html").read_text()
    assert "Predicted class: training vs live" in html
    bundle, log = small["regression"]
    summary = monitor_summary(bundle, log=log)
    assert summary.prediction is not None and summary.prediction.kind == "numeric"
    assert set(summary.live.metrics) == {"rmse", "mae", "r2"} and summary.live.live > 0.5


def test_primary_metrics_match_the_evaluate_stage():
    for task in ("binary", "multiclass", "regression"):
        assert PRIMARY[task] == primary_metric(task)  # type: ignore[arg-type]


# -- logs that are missing, empty or foreign -----------------------------------------------------


def test_a_missing_log_says_to_start_the_server(telco, tmp_path):
    with pytest.raises(DataError, match="edgeml serve") as info:
        monitor_summary(telco["bundle"], log=tmp_path / "none.db")
    assert str(tmp_path / "none.db") in str(info.value)
    assert not (tmp_path / "none.db").exists()  # read-only: nothing created


def test_the_default_log_sits_beside_the_bundle(telco):
    with pytest.raises(DataError) as info:
        monitor_summary(telco["bundle"])
    assert str(default_log_path(telco["bundle"])) in str(info.value)


def test_an_empty_log_is_a_summary_of_nothing(telco, tmp_path):
    connect_log(tmp_path / "empty.db").close()
    summary = monitor_summary(telco["bundle"], log=tmp_path / "empty.db")
    assert summary.rows == 0 and summary.alerts == [] and summary.series == []
    assert not summary.drifted and not summary.accuracy_alert
    assert {d.status for d in summary.features.values()} == {"no data"}
    data = summary.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["rows_per_s"] is None and data["latency_us"] == {}


def test_a_file_that_is_not_a_log(telco, tmp_path):
    (tmp_path / "notes.db").write_text("hello")
    with pytest.raises(DataError, match="not an edgeml prediction log"):
        monitor_summary(telco["bundle"], log=tmp_path / "notes.db")
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(DataError, match="'predictions' table"):
        monitor_summary(telco["bundle"], log=tmp_path / "other.db")


def test_bad_window(telco):
    with pytest.raises(ConfigError, match="window"):
        monitor_summary(telco["bundle"], log=telco["ok"], window=0)


def test_monitor_config_from_the_manifest():
    assert monitor_config({}) == MonitorConfig()
    assert monitor_config({"monitor": {"psi_alert": 0.5}}).psi_alert == 0.5
    # An unknown key elsewhere (a newer edgeml's config) still keeps [monitor].
    assert monitor_config({"future": {}, "monitor": {"window": 50}}).window == 50
    assert monitor_config({"monitor": {"window": "x"}}) == MonitorConfig()


def test_summary_json_is_strict(telco):
    for log in ("ok", "drift", "flipped"):
        data = monitor_summary(telco["bundle"], log=telco[log]).to_dict()
        assert json.loads(json.dumps(data, allow_nan=False)) == data


# -- the slim server image -----------------------------------------------------------------------

SLIM_SCRIPT = """
import json, sys
import numpy as np
from edgeml.monitor._drift import feature_drift, prediction_drift
from edgeml.monitor._live import live_accuracy
base = {"edges": [0.0, 1.0, 2.0], "counts": [5, 5], "missing": 0.0}
feature_drift({"x": base}, np.array([[0.5], [3.0]]), ["x"])
prediction_drift({"kind": "classes", "counts": [1, 1]}, [0, 1])
live_accuracy("binary", [0, 1], proba=[0.2, 0.9])
heavy = ("numba", "polars", "sklearn", "lightgbm", "scipy", "pandas", "matplotlib", "fastapi")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def test_drift_and_live_import_nothing_heavy():
    result = subprocess.run(
        [sys.executable, "-c", SLIM_SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


# -- the command ---------------------------------------------------------------------------------

JSON_KEYS = {
    "bundle",
    "log",
    "task",
    "target",
    "window",
    "generated_at",
    "rows",
    "requests",
    "start",
    "end",
    "span_s",
    "rows_per_s",
    "requests_per_s",
    "latency_us",
    "latency_histogram",
    "backends",
    "model_versions",
    "unreadable_rows",
    "drifted",
    "accuracy_alert",
    "alerts",
    "warnings",
    "features",
    "prediction",
    "live",
    "thresholds",
    "series",
}


def run(*args: str) -> Any:
    group = click.Group(commands={"monitor": monitor})
    return CliRunner().invoke(group, ["monitor", *args])


def test_cli_json_is_one_object_with_the_documented_keys(telco):
    result = run(str(telco["bundle"]), "--log", str(telco["drift"]), "--json", "--window", "500")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == JSON_KEYS
    assert data["rows"] == 500 and data["drifted"] is True
    assert set(data["features"]["tenure"]) == {
        "name",
        "kind",
        "unseen",
        "buckets",
        "rows",
        "psi",
        "missing",
        "missing_baseline",
        "out_of_range",
        "status",
        "reasons",
        "edges",
        "shares",
        "baseline_shares",
    }
    assert set(data["live"]) >= {"rows", "metrics", "primary", "live", "holdout", "alert"}
    assert set(data["latency_us"]) == {"p50", "p95", "p99", "mean", "max"}


def test_cli_table_prints_alerts_and_exits_0(telco):
    result = run(str(telco["bundle"]), "--log", str(telco["drift"]))
    assert result.exit_code == 0, result.output
    assert "ALERT feature 'tenure'" in result.stdout
    assert "tenure" in result.stdout and "1,200 rows in 300 requests" in result.stdout
    quiet = run(str(telco["bundle"]), "--log", str(telco["ok"]))
    assert quiet.exit_code == 0 and "no alerts" in quiet.stdout


def test_cli_user_error_is_one_line_exit_2(telco, tmp_path):
    result = run(str(telco["bundle"]), "--log", str(tmp_path / "none.db"))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "edgeml serve" in result.stderr


def test_cli_writes_the_report(telco, tmp_path):
    out = tmp_path / "m.html"
    result = run(str(telco["bundle"]), "--log", str(telco["ok"]), "--report", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["report"] == str(out) and out.stat().st_size > 10_000


def test_drift_retrains_into_the_registry_and_records_the_decision(telco, tmp_path):
    from edgeml.registry import Registry

    registry = Registry(tmp_path / "models")
    registry.add("telco", telco["bundle"], promote=True)
    current = tmp_path / "models" / "telco" / "current"
    # New labelled rows the champion never saw: telco customers a few years on.
    frame = pl.read_csv(shared("telco_churn.csv"), infer_schema_length=10_000).sample(800, seed=9)
    new = tmp_path / "new.csv"
    frame.with_columns(pl.col("tenure") + 24).write_csv(new)

    quiet = run(
        str(current),
        "--log",
        str(telco["ok"]),
        "--retrain-if-drift",
        str(new),
        "--registry",
        str(tmp_path / "models"),
    )
    assert quiet.exit_code == 0 and "not retraining" in quiet.stdout
    assert [v.version for v in registry.versions("telco")] == [1]

    drifted = run(
        str(current),
        "--log",
        str(telco["drift"]),
        "--retrain-if-drift",
        str(new),
        "--registry",
        str(tmp_path / "models"),
        "--json",
    )
    assert drifted.exit_code == 0, drifted.output
    decision = json.loads(drifted.stdout)["retrain"]
    assert decision["name"] == "telco" and decision["version"] == 2
    assert decision["comparison"]["rows"] >= 20
    assert decision["promoted"] == decision["accepted"]
    versions = registry.versions("telco")
    assert [v.version for v in versions] == [1, 2]
    assert registry.current("telco").name == ("v2" if decision["promoted"] else "v1")


def test_retrain_with_a_registry_needs_a_bundle_from_it(telco, tmp_path):
    result = run(
        str(telco["bundle"]),
        "--log",
        str(telco["drift"]),
        "--retrain-if-drift",
        "new.csv",
        "--registry",
        str(tmp_path / "models"),
    )
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {telco['bundle']} is not a version in the registry")


def test_no_drift_does_not_import_retraining(telco):
    script = (
        "import sys, click\nfrom click.testing import CliRunner\n"
        "from edgeml.cli._monitor import monitor\n"
        f"r = CliRunner().invoke(monitor, [{str(telco['bundle'])!r}, '--log', "
        f"{str(telco['ok'])!r}, '--retrain-if-drift', 'x.csv', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('edgeml.retrain._retrain' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def shutil_copy(source: Path, target: Path) -> None:
    """Copy a WAL database through SQLite's backup API (a file copy could miss the -wal)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()


# -- issue 10, item 9: PSI that sees 0/1 flags and categories, and no verdict on a handful ------


def _telco_records(n: int, seed: int) -> list[dict[str, Any]]:
    frame = pl.read_csv(shared("telco_churn.csv"), infer_schema_length=10_000)
    return frame.sample(n, seed=seed).drop("churn").to_dicts()


def test_a_flag_at_all_ones_alerts_on_200_rows(telco, tmp_path):
    # Training has senior_citizen = 1 in 16% of rows; a quantile histogram of 0/1 had one bin
    # (PSI 0.000, "ok"). One bucket per value sees it.
    records = [{**r, "senior_citizen": 1} for r in _telco_records(200, seed=11)]
    log = write_log(tmp_path / "seniors.db", telco["bundle"], records, None)
    result = run(str(telco["bundle"]), "--log", str(log), "--json")
    assert result.exit_code == 0, result.output
    drift = json.loads(result.stdout)["features"]["senior_citizen"]
    assert drift["kind"] == "values" and drift["buckets"] == ["0", "1", "other", "missing"]
    assert drift["status"] == "alert" and drift["psi"] > 1.0
    assert drift["reasons"][0].endswith("on 200 rows")
    alerts = json.loads(result.stdout)["alerts"]
    assert any(a.startswith("feature 'senior_citizen': PSI") for a in alerts)


def test_categories_do_not_merge_and_unseen_ones_are_counted(telco, tmp_path):
    bundle = telco["bundle"]
    baseline = json.loads((bundle / "manifest.json").read_text())["monitoring"]["features"]
    assert baseline["contract"]["kind"] == "categories"
    one, two = "One year", "Two year"  # codes 2 and 1: one quantile bin held both
    records = [{**r, "contract": one if r["contract"] == two else r["contract"]}
               for r in _telco_records(600, seed=12)]  # fmt: skip
    log = write_log(tmp_path / "merged.db", bundle, records, None)
    drift = monitor_summary(bundle, log=log).features["contract"]
    assert drift.buckets == ("Month-to-month", "Two year", "One year", "other", "missing")
    shares = dict(zip(drift.buckets, drift.shares, strict=True))
    assert shares[two] == 0.0
    assert shares[one] == pytest.approx(sum(r["contract"] == one for r in records) / 600)
    assert drift.status == "alert" and drift.psi > 1.0 and drift.unseen == 0
    from edgeml.metrics.drift import feature_psi, quantile_baseline

    # What the manifest held before: the codes binned as numbers, 1 and 2 in one bin.
    old = quantile_baseline(np.array([0.0] * 3092 + [1.0] * 1350 + [2.0] * 1175))
    live = np.array([{"Month-to-month": 0.0, two: 1.0, one: 2.0}[r["contract"]] for r in records])
    assert feature_psi(old, live) < 0.05  # "ok": the merged bin hid it

    lifetime = [{**r, "contract": "Lifetime"} if i % 2 else r for i, r in enumerate(records)]
    log = write_log(tmp_path / "unseen.db", bundle, lifetime, None)
    drift = monitor_summary(bundle, log=log).features["contract"]
    assert drift.unseen == 300 and drift.out_of_range == 0.5 and drift.missing == 0.0
    assert drift.status == "alert"
    assert "50.0% categories training never had (> 5%) on 600 rows" in drift.reasons


def test_three_rows_alert_nothing_and_retrain_nothing(telco, tmp_path):
    from edgeml.registry import Registry

    drifted = [{**r, "tenure": r["tenure"] + 40, "contract": "Lifetime", "senior_citizen": 1}
               for r in _telco_records(3, seed=13)]  # fmt: skip
    log = write_log(tmp_path / "three.db", telco["bundle"], drifted, None)
    summary = monitor_summary(telco["bundle"], log=log)
    assert summary.alerts == [] and summary.warnings == [] and not summary.drifted
    assert {d.status for d in summary.features.values()} == {"too few rows"}
    assert summary.features["tenure"].reasons == ("too few rows (3 < 200)",)
    assert summary.prediction is not None and summary.prediction.status == "too few rows"
    table = run(str(telco["bundle"]), "--log", str(log))
    assert "too few rows (3 < min_rows 200)" in table.stdout and "no alerts" in table.stdout

    registry = Registry(tmp_path / "models")
    registry.add("telco", telco["bundle"], promote=True)
    current = tmp_path / "models" / "telco" / "current"
    new = tmp_path / "new.csv"
    pl.read_csv(shared("telco_churn.csv"), infer_schema_length=10_000).head(300).write_csv(new)
    result = run(str(current), "--log", str(log), "--retrain-if-drift", str(new),
                 "--registry", str(tmp_path / "models"), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["retrain"] is None
    assert [v.version for v in registry.versions("telco")] == [1]


def test_min_rows_is_a_checked_config_key():
    assert Config.from_dict({"monitor": {"min_rows": 50}}).monitor.min_rows == 50
    assert MonitorConfig().min_rows == 200
    for bad in (0, -5, 2.5, "many", True):
        with pytest.raises(ConfigError, match="min_rows"):
            Config.from_dict({"monitor": {"min_rows": bad}})
