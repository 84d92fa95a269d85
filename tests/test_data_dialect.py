"""CSV dialects: separators and decimal commas are sniffed, a comma file always reads as one."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeml.config import Config, DataConfig
from edgeml.data import CsvDialect, read_data
from edgeml.data._dialect import sniff_csv
from edgeml.errors import ConfigError, SourceError

EXPECTED = pl.DataFrame(
    {"name": ["bread", "milk; fresh", "jam"], "price": [2.4, 1.05, -3.5], "count": [3, 10, 0]}
)


@pytest.mark.parametrize(
    ("text", "dialect"),
    [
        ('name,price,count\nbread,2.4,3\n"milk; fresh",1.05,10\njam,-3.5,0\n', CsvDialect()),
        ('name;price;count\nbread;2,4;3\nmilk; fresh;1,05;10\njam;-3,5;0\n', None),
        ('name;price;count\nbread;2,4;3\n"milk; fresh";1,05;10\njam;-3,5;0\n',
         CsvDialect(";", True)),
        ("name\tprice\tcount\nbread\t2.4\t3\nmilk; fresh\t1.05\t10\njam\t-3.5\t0\n",
         CsvDialect("\t", False)),
        ("name|price|count\nbread|2.4|3\nmilk; fresh|1.05|10\njam|-3.5|0\n", CsvDialect("|")),
        ('name, price, count\nbread, 2.4, 3\n"milk; fresh", 1.05, 10\njam, -3.5, 0\n',
         CsvDialect(",", False, True)),
    ],
    ids=["comma", "semicolon-unquoted", "semicolon-decimal-comma", "tab", "pipe", "comma-space"],
)  # fmt: skip
def test_dialects_read_to_the_same_frame(tmp_path: Path, text: str, dialect: CsvDialect | None):
    path = tmp_path / "prices.csv"
    path.write_text(text)
    if dialect is None:
        # An unquoted separator inside a field makes that line ragged: reported, not guessed.
        with pytest.raises(SourceError, match=r"more fields than the header's 3 on line 3"):
            read_data(path)
        return
    assert sniff_csv(path) == dialect
    dataset = read_data(path)
    assert dataset.frame.equals(EXPECTED)
    card = dataset.card.sources[0]
    if dialect == CsvDialect():
        assert "separator" not in card
    else:
        assert (card["separator"], card["decimal_comma"]) == (
            dialect.separator,
            dialect.decimal_comma,
        )
        assert card.get("initial_space", False) == dialect.initial_space


def test_a_space_after_each_comma_belongs_to_the_separator(tmp_path: Path) -> None:
    """UCI-style files ("39, State-gov, <=50K"): --target finds its column by its name, and the
    categories are the text a clean row sends, in training, evaluate and batch predict."""
    import json

    from click.testing import CliRunner

    from edgeml.cli import cli

    jobs = ["State-gov", "Private", "Self-emp"]
    rich = [(i % 50 > 25) != (i % 11 == 0) for i in range(300)]
    rows = [(20 + i % 50, jobs[i % 3], ["No", "Yes"][i % 7 < 3], ">50K" if rich[i] else "<=50K")
            for i in range(300)]  # fmt: skip
    spaced = tmp_path / "adult.csv"
    spaced.write_text(
        "age, workclass, member, income\n" + "".join(", ".join(map(str, r)) + "\n" for r in rows)
    )
    clean = tmp_path / "clean.csv"
    clean.write_text(
        "age,workclass,member,income\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)
    )
    assert sniff_csv(spaced) == CsvDialect(",", False, True)
    assert read_data(spaced).frame.equals(read_data(clean).frame)
    bundle = tmp_path / "m.edgeml"
    trained = CliRunner().invoke(cli, ["train", str(spaced), "--target", "income", "--out",
                                       str(bundle)])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    schema = json.loads((bundle / "manifest.json").read_text())["input_schema"]
    categories = {c["name"]: c.get("categories") for c in schema if c["dtype"] == "str"}
    assert sorted(categories["workclass"]) == sorted(jobs)
    assert [c["dtype"] for c in schema] == ["int", "str", "bool", "str"]
    evaluated = CliRunner().invoke(cli, ["evaluate", str(bundle), str(spaced), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    outs = []
    for data in (spaced, clean):
        out = tmp_path / f"{data.stem}.csv"
        result = CliRunner().invoke(cli, ["predict", str(bundle), str(data), "-o", str(out)])
        assert result.exit_code == 0, result.output
        outs.append(pl.read_csv(out))
    assert outs[0].equals(outs[1])


def test_a_comma_file_with_semicolons_in_every_text_field_stays_comma(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('id,note\n1,"a;b;c"\n2,"d;e;f"\n')
    assert sniff_csv(path) == CsvDialect()
    assert read_data(path).frame["note"].to_list() == ["a;b;c", "d;e;f"]


def test_one_column_reads_as_comma(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("x\n1\n2\n")
    assert sniff_csv(path) == CsvDialect()


def test_config_wins_over_sniffing(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("a;b\n1,5;2\n3,5;4\n")
    config = DataConfig(separator=";", decimal_comma=False)
    frame = read_data(path, config=config).frame
    assert frame["a"].to_list() == ["1,5", "3,5"]  # kept as written: decimal commas were off
    assert read_data(path).frame["a"].to_list() == [1.5, 3.5]


def test_a_bad_separator_in_the_config_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"separator: ':' is not allowed"):
        Config.from_dict({"data": {"separator": ":"}})


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False).map(
            lambda v: round(v, 3))),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([",", ";", "\t", "|"]),
)  # fmt: skip
def test_any_separator_round_trips_numbers(tmp_path_factory, rows, separator) -> None:
    path = tmp_path_factory.mktemp("dialect") / "numbers.csv"
    frame = pl.DataFrame(rows, schema={"i": pl.Int64, "x": pl.Float64}, orient="row")
    frame.write_csv(path, separator=separator)
    read = read_data(path).frame
    assert read["i"].to_list() == frame["i"].to_list()
    assert read["x"].cast(pl.Float64).to_list() == frame["x"].to_list()


def test_a_decimal_comma_label_reads_as_a_number(tmp_path: Path) -> None:
    """The target is read as text (so "Yes"/"No" stay labels); written with a decimal comma it
    is still a number, as the file's other numbers are, and a regression target."""
    path = tmp_path / "prices.csv"
    path.write_text("size;colour;price\n1,5;red;2,40\n2;blue;-3,5\n2,5;red;10\n")
    frame = read_data(path, keep_raw=["price", "colour"]).frame
    assert frame["price"].to_list() == [2.4, -3.5, 10.0]
    assert frame["colour"].to_list() == ["red", "blue", "red"]
    labels = tmp_path / "labels.csv"
    labels.write_text("size;label\n1,5;Yes\n2;No\n")
    assert read_data(labels, keep_raw=["label"]).frame["label"].to_list() == ["Yes", "No"]


def test_a_decimal_comma_file_trains_a_regression(tmp_path: Path) -> None:
    import edgeml

    rows = [f"{1 + i / 100:.2f};{['red', 'blue'][i % 2]};{3 * (1 + i / 100) + i % 2:.3f}"
            for i in range(200)]  # fmt: skip
    path = tmp_path / "prices.csv"
    path.write_text("size;colour;price\n" + "\n".join(r.replace(".", ",") for r in rows) + "\n")
    result = edgeml.train(path, target="price", cv_folds=0, out=tmp_path / "m.edgeml")
    assert result.manifest["task"] == "regression"
    assert result.metrics["holdout"]["r2"] > 0.9


def test_tab_separated_files_read_by_their_name(tmp_path: Path) -> None:
    path = tmp_path / "prices.tsv"
    path.write_text("name\tprice\tcount\nbread\t2.4\t3\nmilk; fresh\t1.05\t10\njam\t-3.5\t0\n")
    assert read_data(path).frame.equals(EXPECTED)


def test_an_excel_sep_line_names_the_separator_and_is_skipped(tmp_path: Path) -> None:
    """Excel writes "sep=;" as the first line of a file whose separator is not the locale's:
    read_data, batch scans (predict, stream and Dask training) and row counts skip it and use
    its separator; a ragged line is still named by its line in the file."""
    from edgeml.batch._scan import scan

    text = 'sep=;\r\nname;price;count\r\nbread;2,4;3\r\n"milk; fresh";1,05;10\r\njam;-3,5;0\r\n'
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert sniff_csv(path) == CsvDialect(";", True, False, skip_lines=1)
    dataset = read_data(path)
    assert dataset.frame.equals(EXPECTED)
    assert dataset.card.sources[0]["skip_lines"] == 1
    scanned = scan(path, numbers=["price"], text=["name"], integers=["count"], batch_rows=2)
    assert scanned.count_rows() == 3
    batches = list(scanned)
    assert [(b.first_row, b.first_line) for b in batches] == [(0, 3), (2, 5)]
    assert pl.concat([b.frame for b in batches]).select(EXPECTED.columns).equals(EXPECTED)
    # a given separator wins, and the line is still not data
    config = DataConfig(separator=";", decimal_comma=False)
    assert read_data(path, config=config).frame["price"].to_list() == ["2,4", "1,05", "-3,5"]
    path.write_text(text + "pie;1;2;3\r\n")
    with pytest.raises(SourceError, match=r"more fields than the header's 3 on line 6$"):
        read_data(path)


def test_a_title_above_the_header_is_skipped_by_every_reader(tmp_path: Path) -> None:
    """A report's title, export date, blank line or # comments above the header: reading said
    'a row has more fields than the header's 1 on line 4' (the title was the header). Training,
    the card, predict and row counts start at the header; a file starting with it is as ever."""

    from edgeml.batch._scan import scan

    rows = "".join(f"{i},{i % 7 * 1.5},{'yes' if i % 3 else 'no'}\n" for i in range(240))
    path = tmp_path / "report.csv"
    path.write_text("Sales report\nGenerated 2024-03-01\n\n# one row per order\nid,x,y\n" + rows)
    assert sniff_csv(path) == CsvDialect(",", skip_lines=4, preamble=4)
    dataset = read_data(path)
    assert dataset.frame.columns == ["id", "x", "y"] and dataset.frame.height == 240
    assert any("skipped 4 line(s) above the header" in a for a in dataset.card.assumptions)
    assert scan(path, numbers=["x"], text=["y"], batch_rows=100).count_rows() == 240
    assert _trained_and_predicted(tmp_path, path, target="y").height == 240
    # a one-column file, and a ragged table under a title, are not guessed at
    single = tmp_path / "single.csv"
    single.write_text("name\nann\nbob\n")
    assert sniff_csv(single).skip_lines == 0
    path.write_text("Sales report\nid,x,y\n1,2,3\n4,5,6,7\n")
    assert sniff_csv(path).skip_lines == 0


def test_the_streamed_data_card_notes_skipped_title_lines(tmp_path: Path) -> None:
    """Streamed training read a titled file (the title skipped) but its data card, unlike the
    in-memory one, did not say so: both now carry the same note, for every file of a glob."""
    from edgeml.scale import train_stream

    rows = "".join(f"{i},{i % 7 * 1.5},{'yes' if i % 3 else 'no'}\n" for i in range(240))
    (tmp_path / "a.csv").write_text("Sales report\n\nid,x,y\n" + rows)
    (tmp_path / "b.csv").write_text("id,x,y\n" + rows)
    (tmp_path / "c.csv").write_text("# orders\nid,x,y\n" + rows)
    glob = str(tmp_path / "*.csv")
    notes = [n for n in read_data(glob).card.assumptions if "above the header" in n]
    assert notes == [
        f"{tmp_path / 'a.csv'}: skipped 2 line(s) above the header (a title, blank or # lines)",
        f"{tmp_path / 'c.csv'}: skipped 1 line(s) above the header (a title, blank or # lines)",
    ]
    streamed = train_stream(glob, target="y", out=tmp_path / "s.edgeml", chunk_rows=100)
    assert [n for n in streamed.manifest["data_card"]["assumptions"] if "above" in n] == notes


def test_an_empty_header_cell_is_named_as_pandas_names_it_in_every_reader(tmp_path: Path) -> None:
    """A pandas index written by to_csv has an empty name: training named it column_0 (Polars'
    DataFrame constructor) and predict, reading the file's "", refused the training file itself
    ('missing column(s) column_0'). Every reader names it "Unnamed: 0"."""

    colours = ["red", "green", "blue"]
    path = tmp_path / "indexed.csv"
    path.write_text(
        ",x,y\n" + "".join(f"{colours[i % 3]},{i % 7},{i % 3 == 0}\n" for i in range(240))
    )
    assert read_data(path).frame.columns == ["Unnamed: 0", "x", "y"]
    spaced = tmp_path / "spaced.csv"
    spaced.write_text(", x, y\n" + "".join(f"a, {i}, {i % 2}\n" for i in range(5)))
    assert read_data(spaced).frame.columns == ["Unnamed: 0", "x", "y"]
    assert _trained_and_predicted(tmp_path, path, target="y").height == 240


def test_excel_trailing_empty_columns_are_read_by_predict_too(tmp_path: Path) -> None:
    """Excel writes a sheet's formatted but empty columns as empty header cells (",,"): training
    named them "Unnamed: 3" and "Unnamed: 4", and predict refused the training file itself
    ("the header names column '' twice (columns 4 and 5)")."""
    path = tmp_path / "sheet.csv"
    rows = "".join(f"{['a', 'b', 'c'][i % 3]},{i % 7},{i % 3 == 0},,\r\n" for i in range(240))
    path.write_bytes(("\ufeffkind,x,y,,\r\n" + rows).encode())
    assert read_data(path).frame.columns == ["kind", "x", "y", "Unnamed: 3", "Unnamed: 4"]
    assert _trained_and_predicted(tmp_path, path, target="y").height == 240


def _trained_and_predicted(tmp_path: Path, path: Path, *, target: str) -> pl.DataFrame:
    """``edgeml train`` on ``path``, then ``edgeml predict`` of the same file: its predictions."""
    from click.testing import CliRunner

    from edgeml.cli import cli

    bundle, out = tmp_path / "m.edgeml", tmp_path / "p.csv"
    command = ["train", str(path), "--target", target, "--out", str(bundle)]
    trained = CliRunner().invoke(cli, command)
    assert trained.exit_code == 0, trained.output
    result = CliRunner().invoke(cli, ["predict", str(bundle), str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return pl.read_csv(out)


def test_a_totals_row_at_the_end_of_a_report_is_left_out_and_noted(tmp_path: Path) -> None:
    """An Excel report ends with a blank row and 'Total,,,20846,...': its 'Total' made the
    column of dates text (a category of every date) and its sums outliers. The row and the
    blank rows around it are left out, in a note; a 'Total' that is a value of its column
    (another row holds it too) keeps its row."""
    rows = "".join(f"{i % 12 + 1}/{i % 28 + 1}/2024,{i % 5},{'ab'[i % 2]}\r\n" for i in range(60))
    path = tmp_path / "report.csv"
    path.write_bytes(("\ufeffday,units,kind,,\r\n" + rows + ",,\r\nTotal,120,,\r\n,,\r\n").encode())
    dataset = read_data(path)
    assert dataset.frame.height == 60
    assert dataset.card.schema["day"] == "date"
    assert dataset.card.assumptions == [
        f"{path}: left out the last 3 row(s), a totals row ('Total') and 2 blank row(s) "
        "below the data"
    ]
    valued = tmp_path / "valued.csv"
    valued.write_text("kind,n\nTotal,1\nPart,2\nPart,3\nTotal,\n")
    assert read_data(valued).frame.height == 4


def test_a_header_row_of_codes_above_the_names_is_skipped(tmp_path: Path) -> None:
    """UCI's credit default sheet has two header rows, codes over names (',X1,X2,Y' over
    'ID,LIMIT_BAL,SEX,default payment next month'): the names row was read as data, so every
    column was text, the amounts left out as identifiers and the names a class of the target.
    The names are the header; the codes line is skipped, in a note; predict reads it alike."""
    rows = "".join(f"{i},{(i % 9 + 1) * 10000},{i % 2 + 1},{i % 3 == 0:d}\n" for i in range(1, 241))
    path = tmp_path / "credit.csv"
    path.write_text(",X1,X2,Y\nID,LIMIT_BAL,SEX,default payment next month\n" + rows)
    dataset = read_data(path)
    assert dataset.frame.columns == ["ID", "LIMIT_BAL", "SEX", "default payment next month"]
    assert (dataset.frame.height, dataset.card.schema["LIMIT_BAL"]) == (240, "int")
    assert dataset.card.assumptions == [
        f"{path}: read line 2 as the header; line 1 above it, a first header row of codes, skipped"
    ]
    assert _trained_and_predicted(tmp_path, path, target="default payment next month").height == 240
    names = tmp_path / "names.csv"  # a first data row of text is data, not a second header
    names.write_text("city,zone,n\nOslo,north,NA\n" + "Rome,south,4\n" * 5)
    assert read_data(names).frame.height == 6


def test_a_file_separated_by_single_spaces_is_read_as_a_table(tmp_path: Path) -> None:
    """UCI's german.data and other .data files separate fields with one space: reading found
    none of , ; TAB | and read one column ('checking duration history class'), so --target
    class was not found. A header and lines that all split at spaces into as many fields are
    read so; predict reads the file alike."""
    rows = "".join(f"A1{i % 3} {6 + i % 40} A3{i % 5} {1 + (i % 7 == 0)}\n" for i in range(240))
    path = tmp_path / "german.csv"
    path.write_text("checking duration history class\n" + rows)
    dataset = read_data(path)
    assert dataset.frame.columns == ["checking", "duration", "history", "class"]
    assert dataset.card.schema["duration"] == "int"
    assert _trained_and_predicted(tmp_path, path, target="class").height == 240
    titled = tmp_path / "titled.csv"  # a title above a comma-separated table is still a title
    titled.write_text("Sales report March\nitem,price\nbread,2.40\nmilk,1.05\n")
    assert read_data(titled).frame.columns == ["item", "price"]
