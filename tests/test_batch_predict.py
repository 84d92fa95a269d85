"""edgeml predict streamed on the compiled engine: equal to the one-shot Booster path, any input."""

import gzip
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

import edgeml
from edgeml.batch import predict_file
from edgeml.cli import cli
from edgeml.compile import export
from edgeml.config import Config
from edgeml.errors import DataError, SchemaError, SourceError
from tests.conftest import churn_like


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def exported(trained_bundle, tmp_path_factory) -> Path:
    """The churn bundle with every engine exported."""
    bundle = tmp_path_factory.mktemp("exported") / "churn.edgeml"
    shutil.copytree(trained_bundle, bundle)
    for format_ in ("native", "treelite", "onnx"):
        export(bundle, format=format_)
    return bundle


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> tuple[Path, Path]:
    """A time-series bundle using every stateful feature (lags, row and span windows, EWM, gap)
    and new readings in time order."""
    root = tmp_path_factory.mktemp("fleet")
    history = edgeml.datasets.sensor_fleet(n_machines=5, days=6, seed=1)
    history.write_parquet(root / "history.parquet")
    config = Config.from_dict({
        "train": {"cv_folds": 2, "num_boost_round": 40, "learning_rate": 0.3},
        "features": {"mode": "manual", "columns": ["temperature", "vibration"], "lags": [1, 3],
                     "windows": ["5", "3h"], "stats": ["mean", "std", "max"],
                     "ewm_halflives": [4.0], "time_since_previous": True, "select": False,
                     "target_history": False},
    })  # fmt: skip
    bundle = edgeml.train(
        root / "history.parquet",
        target="failure_within_24h",
        time_col="timestamp",
        entity_col="machine_id",
        out=root / "fleet.edgeml",
        config=config,
    ).bundle
    export(bundle, format="native")
    new = edgeml.datasets.sensor_fleet(n_machines=5, days=3, seed=3)
    new = new.sort("timestamp", maintain_order=True).drop("failure_within_24h")
    new.write_csv(root / "new.csv")
    return bundle, root / "new.csv"


@pytest.mark.parametrize("backend", ["lightgbm", "native", "treelite", "onnx", "auto"])
def test_every_backend_equals_the_booster_path(exported, tmp_path, backend):
    data = tmp_path / "new.csv"
    churn_like(n=3000, seed=4).drop("churn").write_csv(data)
    expected = edgeml.load(exported).predict(data)  # pl.read_csv + lightgbm.Booster.predict
    out = tmp_path / "p.parquet"
    result = predict_file(exported, data, out, backend=backend, threads=2, batch_rows=700)
    # auto: the engine measured fastest on this machine (edgeml.runtime._choice)
    assert result.backend == backend or (backend == "auto" and result.backend != "lightgbm")
    assert result.batches == 5 and result.rows == 3000
    got = pl.read_parquet(out)
    assert got.columns == expected.columns
    assert got["prediction"].equals(expected["prediction"])
    assert got["customer_id"].equals(expected["customer_id"])
    if backend == "onnx":  # a graph of float64 ops: the same up to rounding of the last bit
        np.testing.assert_allclose(got["proba_Yes"], expected["proba_Yes"], rtol=0, atol=1e-15)
    else:
        assert got.equals(expected)


def test_time_series_streamed_equals_one_shot(fleet, tmp_path):
    bundle, data = fleet
    model = edgeml.load(bundle)
    kinds = {s.kind for s in model.feature_plan.steps}
    assert {"lag", "window", "ewm", "gap"} <= kinds
    expected = model.predict(data)
    machines = pl.read_csv(data)["machine_id"]
    for rows in (41, 250):
        out = tmp_path / f"p{rows}.parquet"
        predict_file(bundle, data, out, batch_rows=rows)
        # batch boundaries fall inside every machine's rows
        spans = (
            pl.DataFrame({"m": machines})
            .with_row_index()
            .group_by("m")
            .agg(first=pl.col("index").min() // rows, last=pl.col("index").max() // rows)
        )
        assert (spans["last"] - spans["first"] >= 2).all()
        got = pl.read_parquet(out)
        assert got["prediction"].equals(expected["prediction"])
        # window means regroup their sums from where the carried context starts: a feature
        # may differ in its last bit, the probability then by as little
        np.testing.assert_allclose(got["proba_1"], expected["proba_1"], rtol=1e-12, atol=1e-15)


def test_time_series_out_of_order_across_batches_is_refused(fleet, tmp_path):
    bundle, data = fleet
    unsorted = tmp_path / "unsorted.csv"
    pl.read_csv(data).reverse().write_csv(unsorted)
    out = tmp_path / "p.parquet"
    result = run("predict", bundle, unsorted, "-o", out, "--batch-rows", 100)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {unsorted} row 101 (line 102): a reading of")
    assert result.stderr.rstrip().endswith("or use a larger batch (--batch-rows)")
    assert not out.exists()


def _inputs(frame: pl.DataFrame, root: Path) -> dict[str, str]:
    frame.write_csv(root / "a.csv")
    frame.write_csv(root / "a.tsv", separator="\t")
    with gzip.open(root / "a.csv.gz", "wb") as fh:
        frame.write_csv(fh)
    frame.write_parquet(root / "a.parquet", row_group_size=50)
    frame.write_ndjson(root / "a.ndjson")
    frame.write_ipc(root / "a.arrow")
    (root / "parts").mkdir()
    for i, part in enumerate(frame.iter_slices(130)):
        part.write_csv(root / "parts" / f"p{i:02d}.csv")
    for contract, part in frame.with_row_index("i").group_by("contract", maintain_order=True):
        folder = root / "hive" / f"contract={contract[0]}"
        folder.mkdir(parents=True)
        part.sort("i").drop("i", "contract").write_parquet(folder / "0.parquet")
    db = root / "a.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"CREATE TABLE t ({', '.join(frame.columns)})")
        conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * frame.width)})", frame.rows())
    return {
        "csv": str(root / "a.csv"),
        "tsv": str(root / "a.tsv"),
        "csv.gz": str(root / "a.csv.gz"),
        "parquet": str(root / "a.parquet"),
        "ndjson": str(root / "a.ndjson"),
        "ipc": str(root / "a.arrow"),
        "glob": str(root / "parts" / "*.csv"),
        "sqlite": f"sqlite:///{db}",
    }


def test_every_source_kind_equals_the_one_shot_read(trained_bundle, tmp_path):
    frame = churn_like(n=500, seed=5).drop("churn")
    expected = edgeml.load(trained_bundle).predict(frame)
    for name, source in _inputs(frame, tmp_path).items():
        out = tmp_path / f"{name}.parquet"
        extra = ["--table", "t"] if name == "sqlite" else []
        result = run("predict", trained_bundle, source, "-o", out, "--batch-rows", 77, *extra)
        assert result.exit_code == 0, (name, result.output)
        assert result.stdout.startswith(f"wrote 500 predictions to {out}\n")
        assert pl.read_parquet(out).equals(expected), name
    # a Hive-partitioned directory: the partition value is a column again
    out = tmp_path / "hive.csv"
    result = run("predict", trained_bundle, tmp_path / "hive", "-o", out, "--batch-rows", 60)
    assert result.exit_code == 0, result.output
    got = pl.read_csv(out).sort("customer_id")
    assert got.equals(expected.sort("customer_id"))


@pytest.mark.parametrize("suffix", [".csv", ".ndjson", ""])
def test_outputs_and_id_cols(trained_bundle, tmp_path, suffix):
    data = tmp_path / "new.csv"
    churn_like(n=300, seed=6).drop("churn").write_csv(data)
    out = tmp_path / f"scores{suffix}"
    result = run("predict", trained_bundle, data, "-o", out, "--batch-rows", 50,
                 "--id-cols", "customer_id,contract")  # fmt: skip
    assert result.exit_code == 0, result.output
    got = {".csv": pl.read_csv, ".ndjson": pl.read_ndjson}.get(suffix, pl.read_parquet)(
        out / "*.parquet" if suffix == "" else out
    )
    assert got.columns[:3] == ["customer_id", "contract", "prediction"]
    assert got["customer_id"].to_list() == pl.read_csv(data)["customer_id"].to_list()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # readable by others, as every other output (mkstemp and mkdtemp made it 0600, 0700)
    assert out.stat().st_mode & 0o777 == (0o644 if suffix else 0o755)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ""])
def test_a_header_without_rows_gives_the_output_header(trained_bundle, tmp_path, suffix):
    data = tmp_path / "new.csv"
    churn_like(n=5, seed=6).drop("churn").clear().write_csv(data)  # the header line only
    out = tmp_path / f"scores{suffix}"
    result = run("predict", trained_bundle, data, "-o", out, "--id-cols", "customer_id")
    assert result.exit_code == 0, result.output
    classes = edgeml.load(trained_bundle).target.classes
    expected = ["customer_id", "prediction", *(f"proba_{c}" for c in classes)]
    if suffix == ".csv":
        assert out.read_text() == ",".join(expected) + "\n"
        return
    got = pl.read_parquet(out / "part-00000.parquet" if suffix == "" else out)
    assert got.columns == expected and got.height == 0
    assert got.dtypes[2:] == [pl.Float64] * len(classes)


def test_parquet_keeps_dictionaries_for_repeating_columns_only(trained_bundle, tmp_path):
    import pyarrow.parquet as pq

    data = tmp_path / "new.csv"
    churn_like(n=400, seed=8).drop("churn").write_csv(data)
    out = tmp_path / "scores.parquet"
    assert run("predict", trained_bundle, data, "-o", out, "--batch-rows", 100,
               "--id-cols", "customer_id,contract").exit_code == 0  # fmt: skip
    metadata = pq.ParquetFile(out).metadata
    assert metadata.num_row_groups == 4
    group = metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings
                 for i in range(group.num_columns)}  # fmt: skip
    dictionary = {name for name, used in encodings.items() if "RLE_DICTIONARY" in used}
    # contract and the label repeat; ids and probabilities are distinct per row
    assert dictionary == {"contract", "prediction"}, encodings
    assert pl.read_parquet(out)["customer_id"].equals(pl.read_csv(data)["customer_id"])


def test_explain_streams_too(trained_bundle, tmp_path):
    data = tmp_path / "new.csv"
    churn_like(n=120, seed=7).drop("churn").write_csv(data)
    model = edgeml.load(trained_bundle)
    expected = model.predict(data).hstack(model.explain(data).drop("customer_id"))
    out = tmp_path / "x.parquet"
    assert run("predict", trained_bundle, data, "-o", out, "--explain", "--batch-rows", 33)
    assert pl.read_parquet(out).equals(expected)


def test_a_malformed_row_deep_in_the_file_names_it_and_leaves_nothing(trained_bundle, tmp_path):
    data = tmp_path / "big.csv"
    frame = churn_like(n=20_000, seed=8).drop("churn")
    frame = frame.with_columns(pl.col("monthly_charges").cast(pl.String))
    frame[17_345, "monthly_charges"] = "12,5"  # a quoted decimal comma: not a number
    frame.write_csv(data)
    out = tmp_path / "p.parquet"
    out.write_bytes(b"previous result")
    result = run("predict", trained_bundle, data, "-o", out, "--batch-rows", 1000)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {data}: column 'monthly_charges' row 17346 (line 17347): "
        "cannot convert '12,5' to float\n"
    )
    assert out.read_bytes() == b"previous result"  # replaced only on success
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "p.parquet"]


def test_integers_polars_does_not_parse_are_converted_as_the_one_shot_path_does(
    trained_bundle, tmp_path
):
    # The scan parses an integer column as Int64; a block holding "1.0" or "5 " there is read
    # again as text and conform converts it, as the one-shot read does ("+3" parses either way).
    frame = churn_like(n=400, seed=10).drop("churn").with_columns(pl.col("tenure").cast(pl.String))
    for row, text in [(5, "+3"), (250, "1.0"), (251, "5 "), (390, "")]:
        frame[row, "tenure"] = text
    data = tmp_path / "odd.csv"
    frame.write_csv(data)
    out = tmp_path / "p.parquet"
    result = run("predict", trained_bundle, data, "-o", out, "--batch-rows", 100)
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out).equals(edgeml.load(trained_bundle).predict(data))
    frame[321, "tenure"] = "7 years"
    frame.write_csv(data)
    result = run("predict", trained_bundle, data, "-o", out, "--batch-rows", 100)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {data}: column 'tenure' row 322 (line 323): cannot convert '7 years' to float\n"
    )


def test_a_ragged_line_names_the_line(trained_bundle, tmp_path):
    data = tmp_path / "ragged.csv"
    churn_like(n=5000, seed=9).drop("churn").write_csv(data)
    lines = data.read_text().splitlines(keepends=True)
    lines[4321] = lines[4321].rstrip("\n") + ",extra\n"
    data.write_text("".join(lines))
    result = run("predict", trained_bundle, data, "-o", tmp_path / "p.csv", "--batch-rows", 500)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: {data}: line 4322 has 7 fields; the header has 6\n"
    assert not (tmp_path / "p.csv").exists()


def test_a_semicolon_file_with_decimal_commas_predicts_like_the_one_shot_path(
    trained_bundle, tmp_path
):
    frame = churn_like(n=2000, seed=12).drop("churn")
    data = tmp_path / "european.csv"
    text = frame.write_csv(separator=";", float_precision=6)
    data.write_text(text.replace(".", ","))  # numbers as a spreadsheet in much of Europe writes
    expected = edgeml.load(trained_bundle).predict(data)  # read_data sniffs the same dialect
    out = tmp_path / "p.parquet"
    predict_file(trained_bundle, data, out, batch_rows=300)
    got = pl.read_parquet(out)
    assert got["prediction"].equals(expected["prediction"])
    np.testing.assert_allclose(got["proba_Yes"], expected["proba_Yes"], rtol=0, atol=1e-12)
    lines = data.read_text().splitlines(keepends=True)
    lines[1234] = lines[1234].rstrip("\n") + ";extra\n"
    data.write_text("".join(lines))
    result = run("predict", trained_bundle, data, "-o", tmp_path / "q.csv", "--batch-rows", 300)
    assert result.stderr == f"Error: {data}: line 1235 has 7 fields; the header has 6\n"


def test_library_errors_are_typed(trained_bundle, tmp_path):
    data = tmp_path / "new.csv"
    churn_like(n=10).drop("churn", "tenure").write_csv(data)
    with pytest.raises(SchemaError, match="missing column"):
        predict_file(trained_bundle, data, tmp_path / "p.csv")
    with pytest.raises(SourceError, match="no files match"):
        predict_file(trained_bundle, str(tmp_path / "none*.csv"), tmp_path / "p.csv")
    assert issubclass(SchemaError, DataError)


def test_dask_refuses_a_file_output_and_a_database_before_connecting(
    trained_bundle, churn_csv, tmp_path
):
    # nothing listens on x:1: both are refused before any connection is tried
    out = tmp_path / "p.parquet"
    result = run("predict", trained_bundle, churn_csv, "-o", out, "--dask", "x:1")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {out}: --dask writes a directory of Parquet parts, not one .parquet file; "
        "give a directory\n"
    )
    db = tmp_path / "d.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (tenure REAL)")
    result = run("predict", trained_bundle, f"sqlite:///{db}", "--table", "t", "-o",
                 tmp_path / "out", "--dask", "x:1")  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: sqlite:///{db}: --dask scores files")


@pytest.mark.parametrize("text", ["\n", "\r\n", "\n\n  \n"])
def test_ndjson_of_blank_lines_is_no_records(trained_bundle, tmp_path, text):
    data = tmp_path / "blank.ndjson"
    data.write_text(text)
    for args in (["profile", data], ["train", data, "--target", "churn", "--out", tmp_path / "m"],
                 ["predict", trained_bundle, data, "-o", tmp_path / "p.csv"]):  # fmt: skip
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert result.stderr == f"Error: {data}: no records (only blank lines)\n"
    assert not (tmp_path / "p.csv").exists()


def test_blank_lines_between_ndjson_records_are_skipped(trained_bundle, tmp_path):
    """A run of blank lines longer than a block (64 KB or more) is no records, not an error."""
    frame = churn_like(n=40, seed=7).drop("churn")
    lines = frame.write_ndjson().splitlines(keepends=True)
    data = tmp_path / "gaps.ndjson"
    data.write_text("".join(lines[:20]) + "\n" * 200_000 + "".join(lines[20:]) + "\n\n")
    out = tmp_path / "p.parquet"
    result = run("predict", trained_bundle, data, "-o", out, "--batch-rows", 10)
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out).equals(edgeml.load(trained_bundle).predict(frame))


@pytest.mark.parametrize(
    ("name", "encoding", "message"),
    [
        ("wide.csv", "utf-16", "UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8; "
         "re-encode it, e.g. `iconv -f utf-16 -t utf-8 wide.csv > fixed-wide.csv`"),
        ("wide.ndjson", "utf-16", "UTF-16 text (it starts with a UTF-16 byte-order mark), not "
         "UTF-8; re-encode it, e.g. `iconv -f utf-16 -t utf-8 wide.ndjson > fixed-wide.ndjson`"),
        ("latin.csv", "latin-1", "not valid UTF-8 (first bad byte on line 4); re-encode it, e.g. "
         "`iconv -f cp1252 -t utf-8 latin.csv > fixed-latin.csv` (Excel on Windows writes "
         "cp1252)"),
    ],
)  # fmt: skip
def test_text_not_in_utf8_names_its_encoding_or_line_in_every_command(
    trained_bundle, tmp_path, name, encoding, message
):
    """Windows tools save "Unicode" text as UTF-16: the hint says so (not latin1), and predict
    names the line of a bad byte as read_data does (it said line 1 for line 4)."""
    frame = churn_like(n=5, seed=3).drop("churn")
    frame = frame.with_columns(
        contract=pl.when(pl.int_range(5) == 2).then(pl.lit("année")).otherwise("contract")
    )
    text = frame.write_ndjson() if name.endswith(".ndjson") else frame.write_csv()
    data = tmp_path / name
    data.write_bytes(text.encode(encoding))
    for args in (["profile", data], ["predict", trained_bundle, data, "-o", tmp_path / "p.csv"]):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert result.stderr == f"Error: {data}: {message}\n"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_id_column_the_file_lacks_names_the_option_and_the_columns(
    trained_bundle, tmp_path, suffix
):
    frame = churn_like(n=20, seed=6).drop("churn")
    data = tmp_path / f"new{suffix}"
    getattr(frame, f"write_{suffix[1:]}")(data)
    columns = "'customer_id', 'tenure', 'monthly_charges', 'total_charges', 'contract', 'paperless'"
    result = run("predict", trained_bundle, data, "-o", tmp_path / "p.csv",
                 "--id-cols", "customer_id,nope")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {data}: column 'nope' (from --id-cols) not found; columns are: {columns}\n"
    )
    # the bundle's own id column ([train] id_cols), missing from the file
    frame.drop("customer_id").write_csv(data := tmp_path / "anonymous.csv")
    result = run("predict", trained_bundle, data, "-o", tmp_path / "p.csv")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        f"Error: {data}: column 'customer_id' (from the bundle's id_cols; choose others with "
        "--id-cols) not found; columns are: 'tenure',"
    )
    with pytest.raises(SchemaError, match=r"'customer_id' \(from the bundle's id_cols"):
        edgeml.load(trained_bundle).predict(data)


def test_a_training_id_column_the_file_lacks_names_the_config_key(churn_csv, tmp_path):
    with pytest.raises(SchemaError) as caught:
        edgeml.train(churn_csv, target="churn", out=tmp_path / "m.edgeml", id_cols=["nope"])
    assert str(caught.value).startswith(
        f"{churn_csv}: column 'nope' (from [train] id_cols) not found; columns are: 'customer_id',"
    )


def test_a_column_named_with_other_spaces_or_case_is_pointed_out(trained_bundle, tmp_path):
    """A spreadsheet's next export writes 'Tenure ' for 'tenure': predict and evaluate said
    only that 'tenure' is missing, and the list of what the model needs hid the difference."""
    data = tmp_path / "renamed.csv"
    churn_like(n=30, seed=5).rename({"tenure": "Tenure "}).write_csv(data)
    needs = "tenure, monthly_charges, total_charges, contract, paperless"
    expected = (
        f"{data}: missing column(s) 'tenure' (the file has 'Tenure ': names differ in spaces "
        f"or case); the model needs: {needs}"
    )
    result = run("predict", trained_bundle, data, "-o", tmp_path / "p.csv")
    assert (result.exit_code, result.stderr) == (2, f"Error: {expected}\n")
    with pytest.raises(SchemaError) as caught:
        edgeml.load(trained_bundle).evaluate(data)
    assert str(caught.value) == expected


def _bad_inputs(root: Path) -> list[tuple[Path, str, str]]:
    """Labelled files a model cannot read, each with what predict and evaluate say of it (the
    same message; the streaming read of a text file knows the line as well as the row)."""
    frame = churn_like(n=30, seed=13)
    needs = "tenure, monthly_charges, total_charges, contract, paperless"
    cases = []
    for suffix in (".csv", ".parquet"):
        lacking = root / f"lacking{suffix}"
        getattr(frame.drop("tenure"), f"write_{suffix[1:]}")(lacking)
        missing = f"{lacking}: missing column(s) 'tenure'; the model needs: {needs}"
        cases.append((lacking, missing, missing))
        text = frame.with_columns(pl.col("tenure").cast(pl.String))
        text[3, "tenure"] = "many"
        wrong = root / f"wrong{suffix}"
        getattr(text, f"write_{suffix[1:]}")(wrong)
        line = " (line 5)" if suffix == ".csv" else ""
        bad = f"{wrong}: column 'tenure' row 4{{}}: cannot convert 'many' to float"
        cases.append((wrong, bad.format(line), bad.format("")))
    dates = root / "dates.parquet"
    frame.with_columns(pl.lit(date(2024, 1, 1)).alias("tenure")).write_parquet(dates)
    typed = f"{dates}: column 'tenure' holds Date values; expected float"
    cases.append((dates, typed, typed))
    return cases


def test_predict_and_evaluate_say_the_same_about_the_same_bad_file(trained_bundle, tmp_path):
    for data, predicted, evaluated in _bad_inputs(tmp_path):
        result = run("predict", trained_bundle, data, "-o", tmp_path / "p.parquet")
        assert (result.exit_code, result.stderr) == (2, f"Error: {predicted}\n")
        result = run("evaluate", trained_bundle, data)
        assert (result.exit_code, result.stderr) == (2, f"Error: {evaluated}\n")
