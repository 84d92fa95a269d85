"""A glob of monthly files whose later files carry an extra column is read as one table by every
reader (read_data, profile, train in memory and streamed, evaluate, batch predict): the column
is null in the files that lack it, and the data card names them. Files that disagree on a
column's type beyond a cast, or a training file without the target, are refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import edgeml
import edgeml.runtime
from edgeml.cli import cli
from edgeml.data import read_data
from edgeml.errors import SchemaError
from tests.conftest import churn_like


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def months(tmp_path: Path) -> tuple[Path, Path, str]:
    """January's file lacks 'contract' (a strong feature); February's and March's have it."""
    rows = churn_like(1_500, seed=5)
    folder = tmp_path / "data"
    folder.mkdir()
    jan = folder / "2024-01.csv"
    rows.slice(0, 500).drop("contract").write_csv(jan)
    rows.slice(500, 500).write_csv(folder / "2024-02.csv")
    rows.slice(1_000).write_csv(folder / "2024-03.csv")
    return folder, jan, str(folder / "*.csv")


def _note(jan: Path) -> str:
    return f"columns missing from some files are null in their rows: {jan} lacks 'contract'"


def test_read_data_gives_the_union_of_columns_nulls_where_a_file_lacks_one(months) -> None:
    _, jan, glob = months
    dataset = read_data(glob, keep_raw=["churn"], required=["churn"])
    frame = dataset.frame
    assert frame.columns == [*churn_like(1).drop("contract").columns, "contract"]
    assert frame.height == 1_500
    assert frame["contract"].head(500).null_count() == 500
    assert frame["contract"].tail(1_000).null_count() == 0
    assert _note(jan) in dataset.card.assumptions


def test_profile_train_evaluate_and_predict_read_the_glob_alike(months, tmp_path: Path) -> None:
    _, jan, glob = months
    result = run("profile", glob, "--target", "churn")
    assert result.exit_code == 0, result.output
    assert f"note: {_note(jan)}\n" in result.stdout
    bundle = tmp_path / "m.edgeml"
    result = run("train", glob, "--target", "churn", "--out", bundle)
    assert result.exit_code == 0, result.output
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert "contract" in [c["name"] for c in manifest["input_schema"]]
    assert _note(jan) in manifest["data_card"]["assumptions"]
    result = run("evaluate", bundle, glob, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["roc_auc"] > 0.7
    # batches of 70 rows span January's last rows and February's first
    out = tmp_path / "p.parquet"
    result = run("predict", bundle, glob, "-o", out, "--batch-rows", 70)
    assert result.exit_code == 0, result.output
    predicted = pl.read_parquet(out)
    model = edgeml.load(bundle)
    assert predicted.equals(model.predict(glob))
    # January's rows score as the runtime scores a row whose contract is missing (None)
    runtime = edgeml.runtime.load(bundle)
    january = pl.read_csv(jan).head(20).with_columns(pl.lit(None).alias("contract"))
    rows = january.with_columns(pl.col("total_charges").cast(pl.String)).to_dicts()
    want = [runtime.predict_row(r)["proba_Yes"] for r in rows]
    assert predicted["proba_Yes"].head(20).to_list() == pytest.approx(want, abs=1e-9)
    # one file that lacks a model column is still refused, naming it
    result = run("predict", bundle, jan, "-o", tmp_path / "jan.parquet")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {jan}: missing column(s) 'contract'")


def test_streamed_training_reads_the_glob_as_the_in_memory_one(months, tmp_path: Path) -> None:
    _, jan, glob = months
    bundle = tmp_path / "s.edgeml"
    result = run("train", glob, "--target", "churn", "--out", bundle, "--stream")
    assert result.exit_code == 0, result.output
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert "contract" in [c["name"] for c in manifest["input_schema"]]
    notes = [n for n in manifest["data_card"]["assumptions"] if n.startswith("columns missing")]
    assert notes == [_note(jan.resolve())]
    assert manifest["data_card"]["rows"] == 1_500


def test_a_training_file_without_the_target_is_refused_by_name(months, tmp_path) -> None:
    folder, _, glob = months
    late = folder / "2024-04.csv"
    churn_like(300, seed=6).drop("churn").write_csv(late)
    first = folder / "2024-01.csv"
    message = (
        f"Error: {late}: no column 'churn' (the target), which {first} has; every file must "
        "hold it (its rows would have no labels)\n"
    )
    for extra in ([], ["--stream"]):
        result = run("train", glob, "--target", "churn", "--out", tmp_path / "m.edgeml", *extra)
        assert result.exit_code == 2, result.output
        shown = message.replace(str(late), str(late.resolve())).replace(
            str(first), str(first.resolve())
        ) if extra else message  # fmt: skip
        assert result.stderr.splitlines()[-1] == shown.rstrip("\n")  # after any progress
    result = run("profile", glob, "--target", "churn")
    assert (result.exit_code, result.stderr) == (2, message)
    assert run("profile", glob).exit_code == 0  # no target asked for: nothing is missing


def test_files_disagreeing_on_a_type_no_cast_carries_are_refused(tmp_path: Path) -> None:
    pl.DataFrame({"x": [1, 2], "y": [0, 1]}).write_parquet(tmp_path / "a.parquet")
    pl.DataFrame({"x": [[1], [2, 3]], "y": [1, 0]}).write_parquet(tmp_path / "b.parquet")
    with pytest.raises(SchemaError) as caught:
        read_data(str(tmp_path / "*.parquet"))
    assert str(caught.value) == (
        f"{tmp_path / 'b.parquet'}: column 'x' holds List(Int64) values but "
        f"{tmp_path / 'a.parquet'} holds Int64; the files must agree on its type (or leave it "
        "out of one of them)"
    )
    # numbers in one file and text in another are unified, as before
    pl.DataFrame({"x": ["7", "n/a"], "y": [1, 0]}).write_parquet(tmp_path / "b.parquet")
    assert read_data(str(tmp_path / "*.parquet")).frame["x"].to_list() == [1, 2, 7, None]


def test_evaluate_refuses_a_file_without_the_labels(months, tmp_path: Path) -> None:
    folder, _, glob = months
    bundle = tmp_path / "m.edgeml"
    assert run("train", glob, "--target", "churn", "--out", bundle).exit_code == 0
    late = folder / "2024-04.csv"
    churn_like(300, seed=6).drop("churn").write_csv(late)
    result = run("evaluate", bundle, glob)
    assert (result.exit_code, result.stderr) == (2, (
        f"Error: {late}: no column 'churn' (the target), which {folder / '2024-01.csv'} has; "
        "every file must hold it (its rows would have no labels)\n"
    ))  # fmt: skip
    # predict needs no labels: the new month is scored
    result = run("predict", bundle, glob, "-o", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    assert pl.read_csv(tmp_path / "p.csv").height == 1_800


def test_a_file_of_the_glob_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    """Listing every file's columns up front must not turn a broken file into a crash."""
    churn_like(300, seed=1).write_parquet(tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_bytes(b"not parquet at all")
    bundle = tmp_path / "m.edgeml"
    result = run("train", tmp_path / "a.parquet", "--target", "churn", "--out", bundle)
    assert result.exit_code == 0, result.output
    glob = tmp_path / "*.parquet"
    for command in (["predict", bundle, glob, "-o", tmp_path / "p.csv"],
                    ["train", glob, "--target", "churn", "--out", bundle, "--stream"]):  # fmt: skip
        result = run(*command)
        assert result.exit_code == 2, result.output
        last = result.stderr.splitlines()[-1]
        assert last.startswith("Error: ") and "b.parquet: cannot read as parquet" in last
