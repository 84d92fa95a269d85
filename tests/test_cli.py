"""The command line contract: exact one-line errors with exit code 2, JSON on stdout only."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

import edgeml
from edgeml.cli import cli
from tests.conftest import churn_like


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_train_json_is_one_object_with_the_contract_keys(churn_csv, tmp_path):
    result = run("train", churn_csv, "--target", "churn", "--out", tmp_path / "m.edgeml", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["bundle"] == str(tmp_path / "m.edgeml")
    assert set(payload["metrics"]) == {"holdout", "cv"}
    assert set(payload["metrics"]["cv"]["roc_auc"]) == {"mean", "std"}
    assert isinstance(payload["metrics"]["holdout"]["log_loss"], float)
    assert 0 < payload["decision"]["threshold"] < 1
    assert payload["decision"]["reason"].startswith("default: the minority class")


def test_train_for_people_shows_metrics_beside_baseline(churn_csv, tmp_path):
    result = run("train", churn_csv, "--target", "churn", "--out", tmp_path / "m.edgeml")
    assert result.exit_code == 0, result.output
    assert (
        "binary model of 'churn' on 5 features (480 training rows, 120 holdout rows; "
        "then refitted on all 600)" in result.stdout
    )
    assert "roc_auc" in result.stdout and "baseline" in result.stdout
    assert "decision threshold " in result.stdout
    assert result.stdout.rstrip().endswith(f"bundle: {tmp_path / 'm.edgeml'}")


def test_train_says_which_columns_and_rows_it_left_out(tmp_path):
    frame = churn_like(n=300).with_columns(
        pl.lit("x").alias("source"),
        pl.when(pl.int_range(300) < 7).then(None).otherwise(pl.col("churn")).alias("churn"),
    )
    data = tmp_path / "churn.csv"
    frame.write_csv(data)
    result = run("train", data, "--target", "churn", "--out", tmp_path / "m.edgeml")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "left out column 'customer_id': unique on every row: looks like an identifier, " \
        "which cannot generalise" in lines  # fmt: skip
    assert "left out column 'source': constant: holds 'x' on every non-missing training row" in (
        lines
    )
    assert "left out 7 rows: target is missing" in lines
    result = run("train", data, "--target", "churn", "--out", tmp_path / "m.edgeml", "--json")
    payload = json.loads(result.stdout)
    assert set(payload["dropped_columns"]) == {"customer_id", "source"}
    assert payload["rows_removed"] == [
        {"kind": "unlabelled", "rows_removed": 7, "reason": "target is missing"}
    ]


def test_evaluate_json(trained_bundle, tmp_path):
    data = tmp_path / "labelled.parquet"
    churn_like(n=200, seed=2).write_parquet(data)
    result = run("evaluate", trained_bundle, data, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["rows"] == 200
    assert set(payload["metrics"]) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
    }
    assert set(payload["decision"]) == {"threshold", "rule", "reason"}
    assert payload["calibration"] == {"method": "none"}


def test_evaluate_reads_a_code_column_as_predict_does(tmp_path):
    # A text column whose file to score holds only number-like codes ("007", "012"): evaluate
    # read them as the numbers 7 and 12, unseen categories, and scored other predictions than
    # predict wrote (accuracy 0.68 against 1.0).
    rng = np.random.default_rng(0)
    code = rng.choice(["007", "012", "031", "A9"], 1000)
    x = rng.normal(size=1000)
    label = np.where((code == "007") ^ (x > 0.5), "yes", "no")
    frame = pl.DataFrame({"code": code, "x": x, "y": label})
    frame.write_csv(tmp_path / "train.csv")
    frame.filter(pl.col("code") != "A9").head(200).write_csv(tmp_path / "test.csv")
    bundle = tmp_path / "m.edgeml"
    assert run("train", tmp_path / "train.csv", "--target", "y", "--out", bundle).exit_code == 0
    result = run("evaluate", bundle, tmp_path / "test.csv", "--json")
    assert result.exit_code == 0, result.output
    assert run("predict", bundle, tmp_path / "test.csv", "-o", tmp_path / "p.csv").exit_code == 0
    predicted = pl.read_csv(tmp_path / "p.csv")["prediction"]
    truth = frame.filter(pl.col("code") != "A9").head(200)["y"]
    accuracy = (predicted == truth).mean()
    assert accuracy > 0.95
    assert json.loads(result.stdout)["metrics"]["accuracy"] == pytest.approx(accuracy)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".ndjson"])
def test_predict_writes_each_format(trained_bundle, tmp_path, suffix):
    data = tmp_path / "new.csv"
    churn_like(n=25, seed=4).drop("churn").write_csv(data)
    out = tmp_path / f"pred{suffix}"
    result = run("predict", trained_bundle, data, "-o", out)
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert first == f"wrote 25 predictions to {out}"
    assert second.startswith("decision threshold ")
    reader = {".parquet": pl.read_parquet, ".csv": pl.read_csv, ".ndjson": pl.read_ndjson}[suffix]
    frame = reader(out)
    assert frame.columns == ["customer_id", "prediction", "proba_No", "proba_Yes"]
    assert frame.height == 25


def test_predict_from_sqlite(trained_bundle, tmp_path):
    import sqlite3

    db = tmp_path / "shop.db"
    frame = churn_like(n=10, seed=6)
    with sqlite3.connect(db) as conn:
        conn.execute(f"CREATE TABLE customers ({', '.join(frame.columns)})")
        conn.executemany(
            f"INSERT INTO customers VALUES ({', '.join('?' * frame.width)})", frame.rows()
        )
    out = tmp_path / "p.csv"
    result = run("predict", trained_bundle, f"sqlite:///{db}", "--table", "customers", "-o", out)
    assert result.exit_code == 0, result.output
    assert pl.read_csv(out).height == 10


def test_profile_json(churn_csv):
    result = run("profile", churn_csv, "--target", "churn", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["rows"] == 600


def test_profile_for_people(churn_csv):
    result = run("profile", churn_csv, "--target", "churn")
    assert result.exit_code == 0, result.output
    assert "total_charges" in result.stdout


# --- bad input: one line on stderr, exit code 2, nothing written --------------------------------


def assert_user_error(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == f"Error: {message}\n"


def test_empty_file(tmp_path):
    data = tmp_path / "empty.csv"
    data.write_text("")
    result = run("train", data, "--target", "y", "--out", tmp_path / "m.edgeml")
    assert result.exit_code == 2
    assert str(data) in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "m.edgeml").exists()


def test_missing_target_column(churn_csv, tmp_path):
    result = run("train", churn_csv, "--target", "label", "--out", tmp_path / "m.edgeml")
    columns = (
        "'customer_id', 'tenure', 'monthly_charges', 'total_charges', 'contract', 'paperless', "
        "'churn'"
    )
    assert_user_error(
        result, f"{churn_csv}: column 'label' (from --target) not found; columns are: {columns}"
    )


def test_a_target_named_without_the_headers_space_or_case_is_suggested(tmp_path):
    data = tmp_path / "sheet.csv"
    churn_like(n=50).rename({"churn": "Churn ", "tenure": "Tenure"}).write_csv(data)
    result = run("train", data, "--target", "churn", "--out", tmp_path / "m.edgeml")
    columns = (
        "'customer_id', 'Tenure', 'monthly_charges', 'total_charges', 'contract', 'paperless', "
        "'Churn '"
    )
    assert_user_error(
        result,
        f"{data}: column 'churn' (from --target) not found; did you mean 'Churn '? "
        f"columns are: {columns}",
    )
    result = run("train", data, "--target", "Churn ", "--time-col", "tenure", "--out",
                 tmp_path / "m.edgeml")  # fmt: skip
    assert_user_error(
        result,
        f"{data}: column 'tenure' (from --time-col) not found; did you mean 'Tenure'? "
        f"columns are: {columns}",
    )


def test_a_file_without_a_header_row_is_pointed_out(tmp_path):
    data = tmp_path / "bare.csv"
    data.write_text("".join(f"C{i},{i % 7},{i * 1.5},{['No', 'Yes'][i % 2]}\n" for i in range(40)))
    result = run("train", data, "--target", "churn", "--out", tmp_path / "m.edgeml")
    assert_user_error(
        result,
        f"{data}: column 'churn' (from --target) not found; columns are: 'C0', '0', '0.0', 'No' "
        "(the first line looks like data: does the file have a header row?)",
    )


def test_a_file_without_a_header_row_whose_first_line_repeats_a_value_is_pointed_out(tmp_path):
    """UCI's adult.data has no header row; its first line's capital gain and loss are both 0,
    so reading refused a duplicate column name '0' and said to rename columns the file has
    not got. A third of the first line's fields are numbers: the message asks for a header."""
    data = tmp_path / "adult.data"
    line = "39, State-gov, 77516, Bachelors, 13, Never-married, 0, 0, 40, United-States, <=50K\n"
    data.write_text(line * 30)
    result = run("train", data.rename(tmp_path / "adult.csv"), "--target", "income")
    assert_user_error(
        result,
        f"{tmp_path / 'adult.csv'}: the header names column '0' twice (columns 7 and 8); the "
        "first line looks like data: does the file have a header row? If not, add one naming "
        "each column",
    )


def test_target_all_null(tmp_path):
    data = tmp_path / "d.csv"
    churn_like(n=50).with_columns(pl.lit(None, dtype=pl.String).alias("churn")).write_csv(data)
    result = run("train", data, "--target", "churn", "--out", tmp_path / "m.edgeml")
    assert_user_error(result, f"{data}: target 'churn' is null on every row")


def test_single_class_target(tmp_path):
    data = tmp_path / "d.csv"
    churn_like(n=50).with_columns(pl.lit("No").alias("churn")).write_csv(data)
    result = run("train", data, "--target", "churn", "--out", tmp_path / "m.edgeml")
    assert_user_error(
        result,
        f"{data}: target 'churn' has a single class ('No'); classification needs at least two",
    )


def test_ragged_rows(tmp_path):
    data = tmp_path / "ragged.csv"
    data.write_text("a,b,y\n1,2,0\n3,4,1,9\n5,6,0\n")
    result = run("train", data, "--target", "y", "--out", tmp_path / "m.edgeml")
    assert result.exit_code == 2
    assert str(data) in result.stderr and result.stderr.count("\n") == 1


def test_non_utf8_bytes(tmp_path):
    data = tmp_path / "latin1.csv"
    data.write_bytes("name,y\ncafé,1\nbar,0\n".encode("latin-1"))
    result = run("profile", data)
    assert result.exit_code == 2
    assert str(data) in result.stderr and "UTF-8" in result.stderr


def test_nan_and_inf_features_train_fine(tmp_path):
    data = tmp_path / "d.csv"
    frame = churn_like(n=300).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(float("inf"))
        .when(pl.int_range(pl.len()) % 11 == 0)
        .then(float("nan"))
        .otherwise(pl.col("monthly_charges"))
        .alias("monthly_charges")
    )
    frame.write_csv(data)
    result = run("train", data, "--target", "churn", "--out", tmp_path / "m.edgeml", "--json")
    assert result.exit_code == 0, result.output


def test_missing_columns_at_predict(trained_bundle, tmp_path):
    data = tmp_path / "new.csv"
    churn_like(n=5).drop("tenure").write_csv(data)
    result = run("predict", trained_bundle, data, "-o", tmp_path / "p.csv")
    assert result.exit_code == 2
    assert "tenure" in result.stderr and str(data) in result.stderr
    assert not (tmp_path / "p.csv").exists()


def test_changed_bundle_file(trained_bundle, tmp_path):
    bundle = Path(shutil.copytree(trained_bundle, tmp_path / "copy.edgeml"))
    with open(bundle / "model.txt", "a") as handle:
        handle.write("\n")
    result = run("predict", bundle, "whatever.csv", "-o", tmp_path / "p.csv")
    assert_user_error(
        result, f"{bundle}: model.txt changed after the bundle was written (sha256 mismatch)"
    )


def test_unknown_schema_version(trained_bundle, tmp_path):
    bundle = Path(shutil.copytree(trained_bundle, tmp_path / "copy.edgeml"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    result = run("evaluate", bundle, "whatever.csv")
    assert_user_error(
        result,
        f"{bundle}: bundle schema version 99 is not supported; this edgeml reads version 2 "
        "(re-train, or upgrade edgeml if the bundle is newer)",
    )


def test_unknown_config_key(churn_csv, tmp_path):
    config = tmp_path / "edgeml.toml"
    config.write_text("[train]\nlearning_rat = 0.1\n")
    result = run("train", churn_csv, "--target", "churn", "--config", config)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {config}: [train]: unknown key 'learning_rat'; expected one of: target, out, task,"
    )


def test_unsupported_output_format(trained_bundle, churn_csv, tmp_path):
    result = run("predict", trained_bundle, churn_csv, "-o", tmp_path / "p.xlsx")
    assert_user_error(
        result,
        f"{tmp_path / 'p.xlsx'}: cannot write .xlsx; expected one of: .parquet, .csv, "
        ".ndjson, .jsonl or a directory",
    )
    assert [p.name for p in tmp_path.iterdir()] == ["churn.csv"]


def test_python_dash_m_and_console_script_agree():
    out = subprocess.run(
        [sys.executable, "-m", "edgeml", "--help"], capture_output=True, text=True, check=True
    )
    assert "train" in out.stdout and "predict" in out.stdout
    script = Path(sys.executable).with_name("edgeml")
    assert subprocess.run([script, "--help"], capture_output=True, text=True).stdout == out.stdout


def test_out_from_config_and_option_wins(churn_csv, tmp_path):
    config = tmp_path / "edgeml.toml"
    config.write_text(f"[train]\ntarget = 'churn'\nout = '{tmp_path / 'from_config.edgeml'}'\n")
    assert run("train", churn_csv, "--config", config).exit_code == 0
    assert (tmp_path / "from_config.edgeml" / "manifest.json").is_file()
    result = run("train", churn_csv, "--config", config, "--out", tmp_path / "cli.edgeml")
    assert result.exit_code == 0
    assert (tmp_path / "cli.edgeml" / "manifest.json").is_file()


def test_demo_runs_the_whole_pipeline(tmp_path):
    result = run("demo", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sensor fleet: ") and "duplicate rows" in lines[0]
    assert lines[1].startswith("features: ") and " with them vs " in lines[1]
    assert lines[-1] == f"data: {tmp_path / 'sensor_fleet.csv'}"
    assert (tmp_path / "sensor_fleet.edgeml" / "manifest.json").is_file()
    served = next(line for line in lines if line.startswith("served over HTTP (native)"))
    assert "1500 requests" in served and "on 1500 labels sent back" in served
    # features of the readings only (no past labels, which a server has only a day later): the
    # live metric holds up and no feature arrives missing
    assert "below the holdout" not in served and "missing 100.0%" not in served
    log = tmp_path / "sensor_fleet.edgeml.log.db"
    assert lines[-2] == f"log: {log} (edgeml monitor reads it)"
    assert run("monitor", tmp_path / "sensor_fleet.edgeml", "--json").exit_code == 0


def test_features_option_overrides_the_config(tmp_path):
    data = tmp_path / "fleet.csv"
    edgeml.datasets.sensor_fleet(n_machines=4, days=6, seed=2).write_csv(data)
    args = ["train", data, "--target", "failure_within_24h", "--time-col", "timestamp",
            "--entity-col", "machine_id", "--json"]  # fmt: skip
    none = run(*args, "--features", "none", "--out", tmp_path / "none.edgeml")
    assert none.exit_code == 0, none.output
    manifest = json.loads((tmp_path / "none.edgeml" / "manifest.json").read_text())
    assert manifest["features"]["plan"]["steps"] == []
    assert manifest["config"]["features"]["mode"] == "none"


def assert_training_error(result, message: str) -> None:
    """A user error found after training began: progress lines, then the one error line."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.endswith(f"\nError: {message}\n")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stream", [[], ["--stream"]])
def test_no_column_left_to_learn_from_is_one_line_naming_what_was_left_out(tmp_path, stream):
    """Only the target, or only an id and a constant besides it: LightGBM stopped on the empty
    matrix with a traceback (exit 1), or the streamed run with an IndexError."""
    expected = (
        "no column to learn from: expected at least one input column besides the target, ids "
        "and roles"
    )
    left_out = (
        "; left out: 'id' (unique on every row: looks like an identifier, which cannot "
        "generalise), 'const' (constant: holds 5 on every non-missing training row)"
    )
    files = {"ids.csv": ("id,const,y", "{i},5,", left_out), "only.csv": ("y", "", "")}
    for name, (header, row, why) in files.items():
        data = tmp_path / name
        data.write_text(
            header + "\n" + "".join(f"{row.format(i=i)}{i % 3 == 0}\n" for i in range(300))
        )
        result = run("train", data, "--target", "y", "--out", tmp_path / "m.edgeml", *stream)
        assert_training_error(result, expected + why)
        assert not (tmp_path / "m.edgeml").exists()
