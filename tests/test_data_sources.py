"""edgeml.data.read_data: every format, globs, SQLite, the data card and every source error."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from edgeml.config import DataConfig
from edgeml.data import DataCard, Dataset, read_data
from edgeml.errors import BundleError, ConfigError, EdgeMLError, SchemaError, SourceError

EXPECTED = pl.DataFrame(
    {
        "id": [1, 2, 3],
        "x": [0.5, None, 2.25],
        "city": ["Oslo", "Lima", None],
        "flag": [True, False, True],
        "day": [dt.date(2024, 1, 1), dt.date(2024, 2, 29), dt.date(2024, 12, 31)],
    }
)
SCHEMA = {"id": "int", "x": "float", "city": "str", "flag": "bool", "day": "date"}

CSV_TEXT = (
    "id,x,city,flag,day\n"
    "1,0.5,Oslo,Yes,2024-01-01\n"
    "2,NA,Lima,No,2024-02-29\n"
    "3,2.25,,yes,2024-12-31\n"
)


def _write(path: Path, frame: pl.DataFrame) -> Path:
    """Write ``frame`` in the format ``path``'s extension names."""
    name = path.name.lower()
    if name.endswith(".csv.gz"):
        path.write_bytes(gzip.compress(frame.write_csv().encode()))
    elif name.endswith(".csv"):
        frame.write_csv(path)
    elif name.endswith(".parquet"):
        frame.write_parquet(path)
    elif name.endswith((".ndjson", ".jsonl")):
        frame.write_ndjson(path)
    elif name.endswith(".json"):
        frame.write_json(path)  # an array of records
    else:
        frame.write_ipc(path)
    return path


# ------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "name",
    ["d.csv", "d.csv.gz", "d.parquet", "d.ndjson", "d.jsonl", "d.json", "d.arrow", "d.ipc",
     "d.feather"],
)  # fmt: skip
def test_every_format_reads_to_the_same_typed_frame(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, EXPECTED)
    ds = read_data(path)
    assert isinstance(ds, Dataset)
    assert_frame_equal(ds.frame, EXPECTED)
    assert ds.card.schema == SCHEMA


def test_csv_with_na_and_yes_no_strings(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(CSV_TEXT)
    assert_frame_equal(read_data(path).frame, EXPECTED)


def test_uppercase_extension_and_brackets_in_names(tmp_path: Path) -> None:
    folder = tmp_path / "run[1]"
    folder.mkdir()
    for name in ("D.CSV", "d.arrow", "d.ndjson"):
        path = _write(folder / name, EXPECTED)
        assert_frame_equal(read_data(path).frame, EXPECTED)


def test_late_values_that_break_the_guessed_type_are_read(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("a,b\n" + "1,x\n" * 20 + "1.5,abc\n")
    frame = read_data(path, config=DataConfig(infer_schema_length=5)).frame
    assert frame.schema == pl.Schema({"a": pl.Float64, "b": pl.String})
    assert frame["a"][-1] == 1.5


# ---------------------------------------------------------------------------------------- glob


def test_glob_concatenates_files_in_sorted_order(tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    _write(parts / "b.csv", EXPECTED.slice(1, 2))
    _write(parts / "a.csv", EXPECTED.slice(0, 1))
    (parts / "notes.txt").write_text("ignored: does not match the pattern")
    ds = read_data(f"{parts}/*.csv")
    assert_frame_equal(ds.frame, EXPECTED)
    assert [Path(s["uri"]).name for s in ds.card.sources] == ["a.csv", "b.csv"]


def test_glob_unifies_types_that_differ_between_files(tmp_path: Path) -> None:
    (tmp_path / "1.csv").write_text("a,b\n1,2024-01-01\n")
    (tmp_path / "2.csv").write_text("a,b\n2.5,\n")
    (tmp_path / "3.parquet").write_bytes(b"")  # not matched by *.csv
    frame = read_data(tmp_path / "*.csv").frame
    assert frame.schema == pl.Schema({"a": pl.Float64, "b": pl.Date})
    assert frame["a"].to_list() == [1.0, 2.5]


def test_glob_with_different_columns_reads_their_union_and_names_the_files(tmp_path) -> None:
    """Files that lack a column another file holds were refused ('columns differ'); they are
    null there now, and the card says which file lacks which column."""
    (tmp_path / "1.csv").write_text("a,b\n1,2\n")
    (tmp_path / "2.csv").write_text("a,c\n1,2\n")
    dataset = read_data(tmp_path / "*.csv")
    assert dataset.frame.to_dict(as_series=False) == {"a": [1, 1], "b": [2, None], "c": [None, 2]}
    assert dataset.card.assumptions == [
        "columns missing from some files are null in their rows: "
        f"{tmp_path / '1.csv'} lacks 'c'; {tmp_path / '2.csv'} lacks 'b'"
    ]


def test_glob_matching_nothing(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"\*\.csv: no files match"):
        read_data(tmp_path / "*.csv")


# -------------------------------------------------------------------------------------- sqlite


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, amount REAL, paid TEXT, day TEXT)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [(1, 9.5, "yes", "2024-01-01"), (2, None, "no", "2024-01-02"), (3, 1.0, "yes", None)],
        )
        conn.execute('CREATE TABLE "odd ""name"" t" (v)')
        conn.executemany('INSERT INTO "odd ""name"" t" VALUES (?)', [(i,) for i in range(200)])
        conn.execute('INSERT INTO "odd ""name"" t" VALUES (?)', ("seven",))
    conn.close()
    return path


def test_sqlite_table(db: Path) -> None:
    ds = read_data(f"sqlite:///{db}", table="orders")
    assert ds.frame.schema == pl.Schema(
        {"id": pl.Int64, "amount": pl.Float64, "paid": pl.Boolean, "day": pl.Date}
    )
    assert ds.frame["amount"].to_list() == [9.5, None, 1.0]
    (source,) = ds.card.sources
    assert source["table"] == "orders"
    assert source["uri"] == f"sqlite:///{db}"
    assert source["sha256"] == hashlib.sha256(db.read_bytes()).hexdigest()
    assert source["bytes"] == db.stat().st_size


def test_sqlite_query_wins_over_config_table(db: Path) -> None:
    config = DataConfig(table="orders")
    ds = read_data(f"sqlite:///{db}", config=config, query="SELECT id FROM orders WHERE id > 1;")
    assert ds.frame["id"].to_list() == [2, 3]
    assert ds.card.sources[0]["query"] == "SELECT id FROM orders WHERE id > 1;"
    assert "table" not in ds.card.sources[0]


def test_sqlite_table_from_config_and_quoted_identifier(db: Path) -> None:
    # Mixed ints and text in one column: read as text, then typed by inference.
    frame = read_data(f"sqlite:///{db}", config=DataConfig(table='odd "name" t')).frame
    assert frame.schema == pl.Schema({"v": pl.String})
    assert frame.height == 201
    assert frame["v"][-1] == "seven"


def test_sqlite_table_name_is_matched_case_insensitively(db: Path) -> None:
    assert read_data(f"sqlite:///{db}", table="ORDERS").frame.height == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs a table .* or a query"),
        ({"table": "orders", "query": "SELECT 1"}, "either a table or a query, not both"),
        ({"table": "nope"}, "no table 'nope'; tables: odd \"name\" t, orders"),
        ({"query": "SELEC * FROM orders"}, 'near "SELEC": syntax error'),
        ({"query": "SELECT * FROM missing"}, "no such table: missing"),
        ({"query": "SELECT * FROM orders WHERE id > 99"}, "no rows"),
        ({"query": "SELECT 1 AS a, 2 AS a"}, "'a' appears more than once"),
    ],
)
def test_sqlite_errors(db: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((SourceError, SchemaError), match=message) as info:
        read_data(f"sqlite:///{db}", **kwargs)
    assert str(db) in str(info.value)


def test_sqlite_missing_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nope.db"
    with pytest.raises(SourceError, match=r"nope\.db: sqlite database file not found"):
        read_data(f"sqlite:///{path}", table="t")
    assert not path.exists()


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "fake.db"
    path.write_text("hello, not sqlite " * 100)
    with pytest.raises(SourceError, match=r"fake\.db: file is not a database"):
        read_data(f"sqlite:///{path}", table="t")


def test_sqlite_bad_uri() -> None:
    with pytest.raises(SourceError, match=r"expected sqlite:///PATH\.db"):
        read_data("sqlite://relative.db", table="t")


# ---------------------------------------------------------------------------------- file errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.csv: file not found"):
        read_data(tmp_path / "nope.csv")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="directory holds no .parquet files; give a file"):
        read_data(tmp_path)


def test_a_partitioned_parquet_directory_trains_and_predicts(tmp_path: Path) -> None:
    """DESIGN's DATA includes a partitioned Parquet directory: predict read one (its key=value
    folders as columns) but train, profile and evaluate said 'is a directory'."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    import edgeml
    from edgeml.cli import cli

    rng = np.random.default_rng(0)
    region = rng.choice(["eu", "us"], 400)
    x = rng.normal(size=400)
    y = ((region == "eu") ^ (x > 1)).astype(int)
    table = pa.table({"x": x, "y": y, "region": region})
    root = tmp_path / "sales"
    pq.write_to_dataset(table, root, partition_cols=["region"])  # the files lack 'region'
    (root / "_SUCCESS").write_text("")
    frame = read_data(root).frame
    assert sorted(frame.columns) == ["region", "x", "y"] and frame.height == 400
    bundle, out = tmp_path / "m.edgeml", tmp_path / "p.csv"
    args = ["train", str(root), "--target", "y", "--out", str(bundle)]
    trained = CliRunner().invoke(cli, args)
    assert trained.exit_code == 0, trained.output
    result = CliRunner().invoke(cli, ["predict", str(bundle), str(root), "-o", str(out)])
    assert result.exit_code == 0, result.output
    expected = edgeml.load(bundle).predict(frame)["proba_1"].to_list()
    assert pl.read_csv(out)["proba_1"].to_list() == expected
    evaluated = CliRunner().invoke(cli, ["evaluate", str(bundle), str(root), "--json"])
    assert evaluated.exit_code == 0, evaluated.output


@pytest.mark.parametrize("name", ["e.csv", "e.parquet", "e.ndjson", "e.arrow", "e.csv.gz"])
def test_zero_byte_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(SourceError, match=rf"{name}: empty file \(0 bytes\)"):
        read_data(tmp_path / name)


def test_header_without_rows(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(SourceError, match=r"h\.csv: no rows"):
        read_data(tmp_path / "h.csv")


def test_parquet_without_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.parquet", EXPECTED.clear())
    with pytest.raises(SourceError, match=r"h\.parquet: no rows"):
        read_data(path)


@pytest.mark.parametrize("name", ["r.csv", "r.csv.gz"])
def test_ragged_row_names_file_and_line(tmp_path: Path, name: str) -> None:
    text = 'a,b\n1,2\n"x\ny",4\n5,6,7\n8,9\n'  # line 5: the quoted newline spans lines 3-4
    path = tmp_path / name
    data = text.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    with pytest.raises(SourceError, match=rf"{name}: a row has more fields .*2 on line 5$"):
        read_data(path)


def test_non_utf8_names_file_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("a,b\n1,ok\n2,café\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"latin\.csv: not valid UTF-8 \(.*line 3\); re-encode"):
        read_data(path)


def test_non_utf8_header(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("prénom\nx\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"latin\.csv: not valid UTF-8 \(.*line 1\)"):
        read_data(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.parquet", b"not parquet at all"),
        ("bad.arrow", b"not arrow at all"),
        ("bad.ndjson", b'{"a": 1}\n{"a": \n'),
        ("bad.csv.gz", b"not gzip"),
        ("bad.csv", b'a,b\n1,"never closed\n2,3\n'),
    ],
)
def test_corrupt_files_are_source_errors(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(SourceError, match=rf"{name}: cannot read as"):
        read_data(tmp_path / name)


def test_unknown_extension(tmp_path: Path) -> None:
    (tmp_path / "d.xlsx").write_bytes(b"x")
    with pytest.raises(
        SourceError, match=r"d\.xlsx: unknown file type; expected one of: \.csv\.gz"
    ):
        read_data(tmp_path / "d.xlsx")


def test_table_with_a_file_source(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", EXPECTED)
    with pytest.raises(SourceError, match="only applies to sqlite"):
        read_data(path, table="t")


def test_duplicate_header_names(tmp_path: Path) -> None:
    (tmp_path / "dup.csv").write_text("a,b,a\n1,2,3\n")
    message = r"dup\.csv: the header names column 'a' twice \(columns 1 and 3\); rename them"
    with pytest.raises(SchemaError, match=message):
        read_data(tmp_path / "dup.csv")
    (tmp_path / "dup.csv").write_text("x,y,y,y\n1,2,3,4\n")
    with pytest.raises(SchemaError, match=r"'y' 3 times \(columns 2, 3 and 4\)"):
        read_data(tmp_path / "dup.csv")


def test_every_error_is_one_line_edgeml_error(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("a\n1\n2,3\n")
    with pytest.raises(EdgeMLError) as info:
        read_data(tmp_path / "r.csv")
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------- card


def test_data_card(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.parquet", EXPECTED)
    config = DataConfig(assumptions=["rows are independent"], drop=["city"])
    card = read_data(path, config=config).card
    assert card.sources == [
        {
            "uri": str(path),
            "path": str(path.resolve()),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "bytes": path.stat().st_size,
        }
    ]
    assert (card.rows, card.columns) == (3, 4)
    assert card.schema == {k: v for k, v in SCHEMA.items() if k != "city"}
    assert card.assumptions == ["rows are independent"]
    read_at = dt.datetime.fromisoformat(card.read_at)
    assert read_at.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - read_at) < dt.timedelta(minutes=5)


def test_data_card_round_trips_through_json(tmp_path: Path) -> None:
    card = read_data(_write(tmp_path / "d.csv", EXPECTED)).card
    assert DataCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card


@pytest.mark.parametrize("change", ["drop", "add"])
def test_data_card_from_dict_rejects_wrong_keys(change: str) -> None:
    d = DataCard(
        sources=[], rows=1, columns=1, schema={"a": "int"}, read_at="x", assumptions=[]
    ).to_dict()
    if change == "drop":
        del d["rows"]
    else:
        d["colour"] = "red"
    with pytest.raises(BundleError, match="rows" if change == "drop" else "colour"):
        DataCard.from_dict(d)


def test_glob_allows_a_header_only_part(tmp_path: Path) -> None:
    (tmp_path / "1.csv").write_text("a,b\n1,x\n")
    (tmp_path / "2.csv").write_text("a,b\n")
    assert read_data(tmp_path / "*.csv").frame.rows() == [(1, "x")]


def test_column_both_dropped_and_typed_is_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", EXPECTED)
    with pytest.raises(ConfigError, match=r"\['x'\] are both dropped and given a dtype"):
        read_data(path, config=DataConfig(drop=["x"], dtypes={"x": "float"}))


def test_a_json_array_of_records_reads_as_the_api_pages_do(tmp_path: Path) -> None:
    """A .json export: an array of objects, or an object keeping them under "data" (as APIs
    answer), nested objects flattened to parent.child, a BOM allowed; predict reads it too."""
    from edgeml.batch._scan import scan

    records = [{"id": i, "pos": {"x": i / 2}, "tags": ["a"] * i, "city": "Oslo"} for i in range(3)]
    path = tmp_path / "export.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(records).encode())
    ds = read_data(path)
    assert ds.frame.columns == ["id", "city", "pos.x"]
    assert ds.frame["pos.x"].to_list() == [0.0, 0.5, 1.0]
    assert ds.card.assumptions[0].startswith("column 'tags' left out")
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"meta": {"count": 3}, "data": records}))
    assert read_data(wrapped).frame.equals(ds.frame)
    batches = list(scan(path, numbers=["pos.x"], text=["city"], batch_rows=2))
    assert [b.frame["pos.x"].to_list() for b in batches] == [[0.0, 0.5], [1.0]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"a": 1}', "the JSON is one object with no list of records (expected an array of "
         'objects: [{"column": value, ...}, ...])'),
        ("[1, 2]", "record 1 is a JSON number, not an object (expected an array of objects: "
         '[{"column": value, ...}, ...])'),
        ('[{"a": 1}, ["b"]]', "record 2 is a JSON array, not an object (expected an array of "
         'objects: [{"column": value, ...}, ...])'),
        ('"text"', "the JSON is a string, not records (expected an array of objects: "
         '[{"column": value, ...}, ...])'),
        ('{"x": [1], "y": [2]}', "cannot tell which field holds the records (lists: ['x', "
         "'y']); set [data] records"),
        ("[]", "no rows (an empty JSON array)"),
        ('[{"a": 1},\n {"a": 2]', "not JSON (Expecting ',' delimiter on line 2 column 9)"),
    ],
)  # fmt: skip
def test_json_that_is_not_an_array_of_objects_is_one_clear_line(
    tmp_path: Path, body: str, message: str
) -> None:
    from click.testing import CliRunner

    from edgeml.cli import cli

    path = tmp_path / "d.json"
    path.write_text(body)
    result = CliRunner().invoke(cli, ["profile", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: {path}: {message}\n"


def test_quoted_header_names_read_as_the_csv_means_them(tmp_path: Path) -> None:
    """A header name holding a quote is written quoted, the quote doubled (Excel, csv.writer):
    Polars kept the doubled quotes, so --target 'churn "y/n"' was not found and predict refused
    the training file itself. Every reader (read_data, batch predict, streamed training) now
    gives the name as written, with the standard csv module's reading of the header."""
    import csv as csv_module

    from click.testing import CliRunner

    import edgeml
    from edgeml.cli import cli

    names = ['price "TTC" €', "a,b", 'churn "y/n"']
    path = tmp_path / "quoted.csv"
    with path.open("w", newline="") as fh:
        writer = csv_module.writer(fh)
        writer.writerow(names)
        writer.writerows([i % 10, (i * 7) % 13, "yes" if i % 10 > 4 else "no"] for i in range(200))
    assert path.read_text().splitlines()[0] == '"price ""TTC"" €","a,b","churn ""y/n"""'
    frame = read_data(path, keep_raw=[names[2]]).frame
    assert frame.columns == names
    bundle = tmp_path / "m.edgeml"
    for extra in ([], ["--stream"]):
        result = CliRunner().invoke(
            cli, ["train", str(path), "--target", names[2], "--out", str(bundle), *extra]
        )
        assert result.exit_code == 0, result.output
    out = tmp_path / "p.parquet"
    result = CliRunner().invoke(cli, ["predict", str(bundle), str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out).equals(edgeml.load(bundle).predict(frame.drop(names[2])))


def test_nested_ndjson_gives_the_columns_json_gives_in_every_reader(tmp_path: Path) -> None:
    """NDJSON objects nest as JSON's do: their fields are parent.child columns (they were left
    out whole), so a model trained on a .json export predicts an .ndjson one; a list value is
    left out with a note in streamed training too (it stopped the run: 'has type List')."""
    from click.testing import CliRunner

    import edgeml
    from edgeml.cli import cli

    records = [
        {"id": i, "pos": {"x": i % 9, "geo": {"z": i % 4}}, "tags": ["a"] * (i % 3),
         "target": "yes" if i % 9 > 4 else "no"}
        for i in range(300)
    ]  # fmt: skip
    as_json, as_ndjson = tmp_path / "d.json", tmp_path / "d.ndjson"
    as_json.write_text(json.dumps(records))
    as_ndjson.write_text("".join(json.dumps(r) + "\n" for r in records))
    frame = read_data(as_ndjson).frame
    assert frame.columns == ["id", "pos.x", "pos.geo.z", "target"]
    assert frame.equals(read_data(as_json).frame.select(frame.columns))
    bundle, out = tmp_path / "m.edgeml", tmp_path / "p.parquet"
    runner = CliRunner()
    trained = runner.invoke(
        cli, ["train", str(as_json), "--target", "target", "--out", str(bundle)]
    )
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(cli, ["predict", str(bundle), str(as_ndjson), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out).equals(edgeml.load(bundle).predict(frame))
    streamed = tmp_path / "s.edgeml"
    args = ["train", str(as_ndjson), "--target", "target", "--out", str(streamed), "--stream"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((streamed / "manifest.json").read_text())
    assert [c["name"] for c in manifest["input_schema"]] == frame.columns
    assert manifest["data_card"]["assumptions"][0].startswith("column 'tags' left out")
