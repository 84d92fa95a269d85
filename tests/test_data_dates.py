"""Dates written the common non-ISO ways are read as dates, with their format found per column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from edgeml.config import DataConfig, load_config
from edgeml.data import infer_types, infer_with_formats, read_data
from edgeml.data._dates import SHAPES, detect_format
from edgeml.errors import ConfigError, SchemaError
from edgeml.util.dateformat import check_format, example, parse_with


def _csv(tmp_path: Path, name: str, columns: dict[str, list[str]]) -> Path:
    path = tmp_path / name
    pl.DataFrame(columns).write_csv(path)
    return path


@pytest.mark.parametrize(
    ("values", "fmt", "first"),
    [
        (["03/15/2024", "12/01/2024"], "%m/%d/%Y", dt.date(2024, 3, 15)),
        (["15/03/2024", "01/12/2024"], "%d/%m/%Y", dt.date(2024, 3, 15)),
        (["15.03.2024", "1.2.2024"], "%d.%m.%Y", dt.date(2024, 3, 15)),
        (["2024/03/15", "2024/1/2"], "%Y/%m/%d", dt.date(2024, 3, 15)),
        (["15-Mar-2024", "01-dec-2024"], "%d-%b-%Y", dt.date(2024, 3, 15)),
        (["Mar 15, 2024", "Dec 1, 2024"], "%b %d, %Y", dt.date(2024, 3, 15)),
        (["03-15-2024", "12-01-2024"], "%m-%d-%Y", dt.date(2024, 3, 15)),
        (["03/15/2024 14:05", "12/01/2024 0:00"], "%m/%d/%Y %H:%M",
         dt.datetime(2024, 3, 15, 14, 5)),
        (["15.03.2024 14:05:07", "01.12.2024 00:00:00"], "%d.%m.%Y %H:%M:%S",
         dt.datetime(2024, 3, 15, 14, 5, 7)),
        (["3/15/2024 2:05 PM", "12/1/2024 12:00 am"], "%m/%d/%Y %I:%M %p",
         dt.datetime(2024, 3, 15, 14, 5)),
        (["03/15/2024 02:05:07 pm"], "%m/%d/%Y %I:%M:%S %p", dt.datetime(2024, 3, 15, 14, 5, 7)),
        (["3/15/24", "12/1/99"], "%m/%d/%y", dt.date(2024, 3, 15)),
        (["15-03-24 14:05", "1-12-99 0:00"], "%d-%m-%y %H:%M", dt.datetime(2024, 3, 15, 14, 5)),
        (["15-Mar-24", "01-Dec-99"], "%d-%b-%y", dt.date(2024, 3, 15)),
        (["March 15, 2024", "Dec 1, 2024"], "%B %d, %Y", dt.date(2024, 3, 15)),
        (["15 march 2024", "1 September 2024"], "%d %B %Y", dt.date(2024, 3, 15)),
    ],
)  # fmt: skip
def test_each_shape_is_found_and_read(values, fmt, first):
    frame, formats, _ = infer_with_formats(pl.DataFrame({"d": [*values, None, " "]}))
    assert formats == {"d": fmt}
    assert frame["d"][0] == first
    assert frame["d"].null_count() == 2


def test_day_month_order_comes_from_the_values():
    assert detect_format(pl.Series(["01/02/2024", "13/02/2024"])) == ("%d/%m/%Y", "certain")
    assert detect_format(pl.Series(["01/02/2024", "02/13/2024"])) == ("%m/%d/%Y", "certain")
    # no order reads both (13 first, then 13 second): text
    assert detect_format(pl.Series(["13/02/2024", "02/13/2024"])) is None
    # a day that no month has in the order the values show: text
    assert detect_format(pl.Series(["02/31/2024", "02/13/2024"])) is None


def test_all_ambiguous_takes_the_order_another_column_showed_and_says_so():
    frame = pl.DataFrame({"a": ["01/02/2024", "03/04/2024"], "b": ["25/12/2024", "01/01/2024"]})
    out, formats, notes = infer_with_formats(frame)
    assert formats == {"a": "%d/%m/%Y", "b": "%d/%m/%Y"}
    assert out["a"][0] == dt.date(2024, 2, 1)
    assert len(notes) == 1 and "'a'" in notes[0] and "another column" in notes[0]
    alone, formats, notes = infer_with_formats(frame.select("a"))
    assert formats == {"a": "%m/%d/%Y"} and alone["a"][0] == dt.date(2024, 1, 2)
    assert "default" in notes[0] and "date_formats" in notes[0]
    dots, formats, _ = infer_with_formats(pl.DataFrame({"a": ["01.02.2024"]}))
    assert formats == {"a": "%d.%m.%Y"} and dots["a"][0] == dt.date(2024, 2, 1)


@pytest.mark.parametrize(
    "values",
    [
        ["03/15/202", "04/01/202"],  # three-digit years are not guessed
        ["1.2.10", "1.3.11", "2.0.12"],  # version numbers, not dates with two-digit years
        ["03/15/2024", "hello"],
        ["Mar 15 2024", "Foo 15 2024"],
        ["1/2", "3/4"],
        ["12/31/2024 25:00"],
    ],
)
def test_text_that_is_not_one_shape_stays_text(values):
    frame, formats, _ = infer_with_formats(pl.DataFrame({"d": values}))
    assert formats == {} and frame["d"].dtype == pl.String


def test_iso_columns_are_read_as_before_with_no_format():
    frame, formats, notes = infer_with_formats(
        pl.DataFrame({"d": ["2024-03-15", "2024-03-16"], "t": ["2024-03-15T01:02:03Z", None]})
    )
    assert formats == {} and notes == []
    assert frame.schema == {"d": pl.Date(), "t": pl.Datetime("us")}


def test_read_data_records_formats_in_the_card(tmp_path):
    path = _csv(tmp_path, "a.csv", {"when": ["03/15/2024", "04/01/2024"], "x": ["1", "2"]})
    ds = read_data(path)
    assert ds.frame["when"].dtype == pl.Date
    assert ds.card.date_formats == {"when": "%m/%d/%Y"}
    assert ds.card.schema["when"] == "date"


def test_the_override_reads_a_column_its_own_way(tmp_path):
    path = _csv(tmp_path, "a.csv", {"when": ["03/04/2024", "05/06/2024"]})
    ds = read_data(path, config=DataConfig(date_formats={"when": "%d/%m/%Y"}))
    assert ds.frame["when"][0] == dt.date(2024, 4, 3)
    assert ds.card.date_formats == {"when": "%d/%m/%Y"}
    assert ds.card.assumptions == []  # the user said so: nothing was assumed


def test_a_bad_override_is_named(tmp_path):
    path = _csv(tmp_path, "a.csv", {"when": ["03/15/2024"]})
    with pytest.raises(SchemaError, match=r"date_formats names unknown column\(s\) 'nope'"):
        read_data(path, config=DataConfig(date_formats={"nope": "%d/%m/%Y"}))
    expected = r"'when' row 1: cannot convert '03/15/2024' to date; expected the format %d/%m/%Y"
    with pytest.raises(SchemaError, match=expected + r" \(as 15/03/2024\)"):
        read_data(path, config=DataConfig(date_formats={"when": "%d/%m/%Y"}))
    toml = tmp_path / "edgeml.toml"
    toml.write_text('[data]\ndate_formats = { when = "%d/%m/%G" }\n')
    with pytest.raises(ConfigError, match=r"date_formats.when: .*unknown directive '%G'"):
        load_config(toml)
    toml.write_text('[data]\ndate_formats = { when = "%d/%m/%Y" }\n')
    assert load_config(toml).data.date_formats == {"when": "%d/%m/%Y"}


def test_check_format_refuses_what_executors_would_read_differently():
    for bad in ("%Y-%m", "%d/%m/%Y %H", "%Y%j", "%d/%m/%Y %I:%M", "%Y/%m/%d/%Y", "%Y|%m|%d"):
        with pytest.raises(ValueError, match="date format"):
            check_format(bad)
    for fmt in SHAPES:
        check_format(fmt)
        assert parse_with(example(fmt), fmt) is not None


def test_infer_types_keeps_its_signature():
    assert infer_types(pl.DataFrame({"d": ["Mar 15, 2024"]}))["d"][0] == dt.date(2024, 3, 15)
