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
    ],
    ids=["comma", "semicolon-unquoted", "semicolon-decimal-comma", "tab", "pipe"],
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
