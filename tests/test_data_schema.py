"""Type inference in read_data, config overrides, logical_schema and conform."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from edgeml.config import DataConfig
from edgeml.data import POLARS_TYPES, conform, logical_schema, read_data
from edgeml.errors import SchemaError
from edgeml.runtime._schema import WHITESPACE


def _csv(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------ inference


def test_numbers_stored_as_text_become_numbers(tmp_path: Path) -> None:
    # " " and "-" are not null markers, so Polars reads these columns as text.
    path = _csv(tmp_path, 'i,f,s\n" 1",1.5,-\n2, ,x\nNA,"3",y\n')
    frame = read_data(path).frame
    assert frame.schema == pl.Schema({"i": pl.Int64, "f": pl.Float64, "s": pl.String})
    assert frame["i"].to_list() == [1, 2, None]
    assert frame["f"].to_list() == [1.5, None, 3.0]


def test_configured_null_values(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,b\n1,?\n?,x\n")
    frame = read_data(path, config=DataConfig(null_values=["?"])).frame
    assert frame["a"].to_list() == [1, None]
    assert frame["b"].to_list() == [None, "x"]


def test_words_for_a_missing_value_leave_numbers_booleans_and_dates_typed(tmp_path: Path) -> None:
    # Exports mark a missing number with "?" (UCI), "-", "N/A", "NULL", "#N/A" (Excel), ...
    path = _csv(
        tmp_path,
        "n,f,b,d,money,cat\n"
        "1,1.5,yes,2024-01-02,$1.50,-\n"
        "?, n/a ,N/A,N/A,-,x\n"
        "-,#N/A,no,none,$2.00,none\n"
        "NULL,--,NULL,2024-01-03,?,y\n"
        "4,None,Yes,?,$3.00,-\n"
        "Unknown,unk,unknown,Not available,N.D.,unknown\n",
    )
    ds = read_data(path)
    assert ds.card.schema == {"n": "int", "f": "float", "b": "bool", "d": "date",
                              "money": "float", "cat": "str"}  # fmt: skip
    frame = ds.frame
    assert frame["n"].to_list() == [1, None, None, None, 4, None]
    assert frame["f"].to_list() == [1.5, None, None, None, None, None]
    assert frame["b"].to_list() == [True, None, False, None, True, None]
    day = [dt.date(2024, 1, 2), None, None, dt.date(2024, 1, 3), None, None]
    assert frame["d"].to_list() == day
    assert frame["money"].to_list() == [1.5, None, 2.0, None, 3.0, None]
    assert frame["cat"].to_list() == ["-", "x", "none", "y", "-", "unknown"]  # every word kept


def test_a_column_of_nothing_but_missing_words_stays_text(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,b\n-,1\n?,2\n")
    assert read_data(path).frame["a"].to_list() == ["-", "?"]


def test_conform_reads_missing_words_as_null_except_in_text() -> None:
    frame = pl.DataFrame({c: ["1", " ? ", "N/A", "-"] for c in ("i", "f", "s")})
    out = conform(frame, {"i": "int", "f": "float", "s": "str"}, source="x")
    assert out["i"].to_list() == [1, None, None, None]
    assert out["f"].to_list() == [1.0, None, None, None]
    assert out["s"].to_list() == ["1", "?", "N/A", "-"]  # text is only stripped


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Yes", "No", "yes"], [True, False, True]),
        (["TRUE", "false", "True"], [True, False, True]),
        (["y", "N", " y "], [True, False, True]),
        (["T", "f", "t"], [True, False, True]),
    ],
)
def test_yes_no_text_becomes_boolean(
    tmp_path: Path, values: list[str], expected: list[bool]
) -> None:
    path = _csv(tmp_path, "b\n" + "\n".join(f'"{v}"' for v in values) + "\n")
    assert read_data(path).frame["b"].to_list() == expected


@pytest.mark.parametrize(
    "values",
    [["Yes", "No", "Maybe"], ["Yes", "No", "No phone service"], ["y", "t", "n"], ["yes", "true"]],
)
def test_other_text_stays_text(tmp_path: Path, values: list[str]) -> None:
    path = _csv(tmp_path, "b\n" + "\n".join(values) + "\n")
    assert read_data(path).frame["b"].to_list() == values


def test_keep_raw_keeps_labels(tmp_path: Path) -> None:
    path = _csv(tmp_path, "churn,other,n\nYes,True,1\nNo,False,2\n")
    frame = read_data(path, keep_raw=["churn", "other", "n"]).frame
    assert frame["churn"].to_list() == ["Yes", "No"]
    assert frame["other"].to_list() == ["True", "False"]
    assert frame["n"].dtype == pl.Int64  # keep_raw only prevents booleans


def test_iso_dates_and_datetimes(tmp_path: Path) -> None:
    text = (
        "d,t,z,mixed,nope\n"
        "2024-01-31,2024-01-31 10:00:00,2024-01-31T10:00:00Z,2024-01-31,2024-01-31\n"
        "2024-02-01,2024-02-01T11:30:00.25,2024-01-31T12:00:00+02:00,2024-02-01 08:00,soon\n"
    )
    frame = read_data(_csv(tmp_path, text)).frame
    assert logical_schema(frame) == {
        "d": "date", "t": "datetime", "z": "datetime", "mixed": "datetime", "nope": "str"
    }  # fmt: skip
    assert frame["t"][1] == dt.datetime(2024, 2, 1, 11, 30, 0, 250_000)
    # Offsets are converted to UTC and the time zone dropped.
    assert frame["z"].to_list() == [dt.datetime(2024, 1, 31, 10), dt.datetime(2024, 1, 31, 10)]
    assert frame["mixed"][0] == dt.datetime(2024, 1, 31)


def test_all_null_column_is_float(tmp_path: Path) -> None:
    frame = read_data(_csv(tmp_path, "a,b\n1,\n2,NA\n")).frame
    assert frame.schema["b"] == pl.Float64


def test_other_formats_get_the_same_inference(tmp_path: Path) -> None:
    raw = pl.DataFrame(
        {
            "n": ["1", "2"],
            "yn": ["Yes", "No"],
            "d": ["2024-01-01", None],
            "c": pl.Series(["a", "b"], dtype=pl.Categorical),
            "small": pl.Series([1, 2], dtype=pl.Int8),
            "f32": pl.Series([0.5, 1.5], dtype=pl.Float32),
            "ns": pl.Series(
                [dt.datetime(2024, 1, 1)] * 2, dtype=pl.Datetime("ns")
            ).dt.replace_time_zone("Europe/Oslo"),
            "null": [None, None],
        }
    )
    raw.write_parquet(tmp_path / "d.parquet")
    frame = read_data(tmp_path / "d.parquet").frame
    assert logical_schema(frame) == {"n": "int", "yn": "bool", "d": "date", "c": "str",
                                     "small": "int", "f32": "float", "ns": "datetime",
                                     "null": "float"}  # fmt: skip
    assert dict(frame.schema) == (
        {
            "n": pl.Int64, "yn": pl.Boolean, "d": pl.Date, "c": pl.String, "small": pl.Int64,
            "f32": pl.Float64, "ns": pl.Datetime("us"), "null": pl.Float64,
        }
    )  # fmt: skip
    assert frame["ns"][0] == dt.datetime(2023, 12, 31, 23)  # Oslo midnight in UTC


def test_lists_are_left_out_with_a_note_and_objects_flatten(tmp_path: Path) -> None:
    path = tmp_path / "n.ndjson"
    path.write_text('{"a": 1, "tags": ["x"], "at": {"x": 1}}\n{"a": 2, "tags": [], "at": null}\n')
    dataset = read_data(path)
    assert dataset.frame.to_dict(as_series=False) == {"a": [1, 2], "at.x": [1, None]}
    assert dataset.card.assumptions == [
        "column 'tags' left out: its type List(String) is not a flat number, text, boolean, "
        "date or datetime (flatten it into such columns to use it)"
    ]
    dropped = read_data(path, config=DataConfig(drop=["tags", "at.x"]))
    assert dropped.frame.columns == ["a"] and dropped.card.assumptions == []


def test_a_duration_column_is_left_out_with_why_and_how_to_convert_it(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    waits = [dt.timedelta(minutes=m) for m in (5, 90)]
    pl.DataFrame({"a": [1, 2], "wait": waits}).write_parquet(path)
    dataset = read_data(path)
    assert dataset.frame.columns == ["a"]
    assert dataset.card.assumptions == [
        "column 'wait' left out: it holds durations (Duration(time_unit='us')), which edgeml "
        "does not read as numbers (the runtime, ONNX and C executors have no duration type); "
        "to use it, store it as a number of seconds, e.g. in Polars "
        "pl.col('wait').dt.total_seconds(fractional=True)"
    ]


def test_training_says_which_columns_were_left_out(tmp_path: Path) -> None:
    import edgeml

    path = tmp_path / "n.ndjson"
    rows = [f'{{"a": {i % 7}, "tags": ["x"], "y": {i % 2}}}' for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    result = edgeml.train(path, target="y", out=tmp_path / "m.edgeml", cv_folds=0)
    assert result.manifest["metrics"]["notes"][0].startswith("column 'tags' left out")


def test_the_profile_says_which_columns_were_left_out(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from edgeml.cli import cli

    path = tmp_path / "n.ndjson"
    path.write_text('{"a": 1, "tags": ["x"]}\n{"a": 2, "tags": []}\n')
    result = CliRunner().invoke(cli, ["profile", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        "note: column 'tags' left out: its type List(String) is not a flat number, text, "
        "boolean, date or datetime (flatten it into such columns to use it)\n"
    )


# ------------------------------------------------------------------------------------ overrides


def test_overrides(tmp_path: Path) -> None:
    path = _csv(tmp_path, "zip,n,flag,when,yn\n02134,1,1,2024-01-01,Yes\n10001,2,0,,No\n")
    config = DataConfig(
        dtypes={"zip": "category", "n": "float", "flag": "bool", "when": "datetime", "yn": "str"}
    )
    frame = read_data(path, config=config).frame
    assert dict(frame.schema) == (
        {"zip": pl.String, "n": pl.Float64, "flag": pl.Boolean, "when": pl.Datetime("us"),
         "yn": pl.String}
    )  # fmt: skip
    assert frame["zip"].to_list() == ["02134", "10001"]  # leading zero kept
    assert frame["yn"].to_list() == ["Yes", "No"]


def test_float_override_on_text_names_column_row_and_value(tmp_path: Path) -> None:
    path = _csv(tmp_path, "price\n1.5\n2\nabout 3\n4\n")
    with pytest.raises(SchemaError, match=r"d\.csv: column 'price' row 3: .*'about 3' to float"):
        read_data(path, config=DataConfig(dtypes={"price": "float"}))


def test_int_override_refuses_fractions(tmp_path: Path) -> None:
    path = _csv(tmp_path, "n\n1\n2.5\n")
    with pytest.raises(SchemaError, match=r"column 'n' row 2: cannot convert '2.5' to int"):
        read_data(path, config=DataConfig(dtypes={"n": "int"}))


@pytest.mark.parametrize("key", ["dtypes", "drop"])
def test_unknown_column_in_config(tmp_path: Path, key: str) -> None:
    path = _csv(tmp_path, "a,b\n1,2\n")
    value = {"nope": "int"} if key == "dtypes" else ["nope"]
    config = DataConfig(**{key: value})  # type: ignore[arg-type]
    with pytest.raises(
        SchemaError, match=rf"{key} names unknown column\(s\) 'nope'; available: a, b"
    ):
        read_data(path, config=config)


def test_drop(tmp_path: Path) -> None:
    frame = read_data(_csv(tmp_path, "a,b,c\n1,2,3\n"), config=DataConfig(drop=["b"])).frame
    assert frame.columns == ["a", "c"]


# -------------------------------------------------------------------------------- logical_schema


def test_logical_schema_maps_every_flat_dtype() -> None:
    frame = pl.DataFrame(
        {
            "i8": pl.Series([1], dtype=pl.Int8),
            "u64": pl.Series([1], dtype=pl.UInt64),
            "f32": pl.Series([1.0], dtype=pl.Float32),
            "dec": pl.Series([decimal.Decimal("1.5")], dtype=pl.Decimal(10, 2)),
            "b": [True],
            "s": ["x"],
            "cat": pl.Series(["x"], dtype=pl.Categorical),
            "d": [dt.date(2024, 1, 1)],
            "t": pl.Series([dt.datetime(2024, 1, 1)], dtype=pl.Datetime("ms", "UTC")),
            "n": [None],
        }
    )
    assert logical_schema(frame) == {
        "i8": "int", "u64": "int", "f32": "float", "dec": "float", "b": "bool", "s": "str",
        "cat": "str", "d": "date", "t": "datetime", "n": "float",
    }  # fmt: skip


def test_logical_schema_refuses_nested() -> None:
    with pytest.raises(SchemaError, match="'l'"):
        logical_schema(pl.DataFrame({"l": [[1, 2]]}))


# --------------------------------------------------------------------------------------- conform


def test_conform_selects_orders_and_casts() -> None:
    frame = pl.DataFrame(
        {
            "extra": [1, 2, 3],
            "when": ["2024-01-01T10:00:00", None, "2024-01-03 00:00"],
            "day": ["2024-01-01", "2024-01-02", None],
            "yes": ["Yes", "no", None],
            "n": [1, 2, None],
            "s": ["1.5", " 2 ", ""],
        }
    )
    schema = {"s": "float", "n": "float", "yes": "bool", "day": "date", "when": "datetime"}
    out = conform(frame, schema, source="new.csv")
    expected = pl.DataFrame(
        {
            "s": [1.5, 2.0, None],
            "n": [1.0, 2.0, None],
            "yes": [True, False, None],
            "day": [dt.date(2024, 1, 1), dt.date(2024, 1, 2), None],
            "when": [dt.datetime(2024, 1, 1, 10), None, dt.datetime(2024, 1, 3)],
        },
        schema={k: POLARS_TYPES[v] for k, v in schema.items()},
    )
    assert_frame_equal(out, expected)


def test_conform_reads_datetime_shapes_its_sample_did_not_show() -> None:
    # The shapes are guessed from the first, middle and last values; the others must still be
    # read (and read as the full list of shapes reads them), not reported as bad values.
    text = ["2024-01-01T00:00:00"] * 5
    text[1] = "2024-01-01 05:30"
    text[3] = "2024-01-01T06:00:00+02:00"
    out = conform(pl.DataFrame({"t": text}), {"t": "datetime"}, source="new.csv")["t"]
    assert out.to_list() == [
        dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, 5, 30), dt.datetime(2024, 1, 1),
        dt.datetime(2024, 1, 1, 4), dt.datetime(2024, 1, 1),
    ]  # fmt: skip
    with pytest.raises(SchemaError, match=r"column 't' row 2: cannot convert '2024-13-01'"):
        conform(
            pl.DataFrame({"t": ["2024-01-01", "2024-13-01", "2024-01-02"]}),
            {"t": "datetime"},
            source="new.csv",
        )


def test_conform_names_all_missing_columns_and_the_source() -> None:
    with pytest.raises(SchemaError, match=r"batch\.csv: missing column\(s\) 'b', 'c'"):
        conform(pl.DataFrame({"a": [1]}), {"a": "int", "b": "int", "c": "str"}, source="batch.csv")


@pytest.mark.parametrize(
    ("values", "logical", "row", "bad"),
    [
        (["1", "abc"], "float", 2, "'abc'"),
        ([None, "1", "1.5"], "int", 3, "'1.5'"),
        ([0, 1, 2], "bool", 3, "2"),
        (["yes", "maybe"], "bool", 2, "'maybe'"),
        (["2024-01-01", "01/02/2024"], "date", 2, "'01/02/2024'"),
        ([1.0, float("nan"), 2.5], "int", 3, "2.5"),
    ],
)
def test_conform_bad_value_names_column_row_and_value(
    values: list[object], logical: str, row: int, bad: str
) -> None:
    frame = pl.DataFrame({"col": values}, strict=False)
    with pytest.raises(
        SchemaError, match=rf"^b\.csv: column 'col' row {row}: .*{bad} to {logical}$"
    ):
        conform(frame, {"col": logical}, source="b.csv")


def test_conform_refuses_dates_into_numbers() -> None:
    frame = pl.DataFrame({"d": [dt.date(2024, 1, 1)]})
    with pytest.raises(SchemaError, match="column 'd' holds Date values; expected float"):
        conform(frame, {"d": "float"}, source="x")


def test_conform_all_null_column_takes_any_type() -> None:
    frame = pl.DataFrame({"d": [None, None]}, schema={"d": pl.Float64})
    out = conform(frame, {"d": "date"}, source="x")
    assert out.schema == pl.Schema({"d": pl.Date})
    assert out["d"].null_count() == 2


def test_conform_unknown_logical_type() -> None:
    with pytest.raises(SchemaError, match="unknown type 'complex'"):
        conform(pl.DataFrame({"a": [1]}), {"a": "complex"}, source="x")


# ------------------------------------------------------------------------------------ properties

_FINITE = st.floats(allow_nan=False, allow_infinity=False)
_COLUMNS = {
    "int": st.integers(-(2**62), 2**62),
    "float": _FINITE,
    "bool": st.booleans(),
    # text as edgeml reads it: stripped of the whitespace around it ("Male " is "Male")
    "str": st.text(max_size=8).map(lambda text: text.strip(WHITESPACE)),
    "date": st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 1, 1)),
    "datetime": st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
}


@st.composite
def _frames(draw: st.DrawFn) -> pl.DataFrame:
    rows = draw(st.integers(1, 6))
    kinds = draw(st.lists(st.sampled_from(sorted(_COLUMNS)), min_size=1, max_size=5))
    data = {}
    for i, kind in enumerate(kinds):
        values = draw(st.lists(st.none() | _COLUMNS[kind], min_size=rows, max_size=rows))
        data[f"c{i}"] = pl.Series(values, dtype=POLARS_TYPES[kind])
    return pl.DataFrame(data)


@settings(max_examples=60, deadline=None)
@given(_frames())
def test_conform_is_identity_on_typed_frames(frame: pl.DataFrame) -> None:
    assert_frame_equal(conform(frame, logical_schema(frame), source="x"), frame)


@settings(max_examples=60, deadline=None)
@given(_frames())
def test_conform_reads_back_the_text_of_every_type(frame: pl.DataFrame) -> None:
    # What a CSV or a JSON API would hand over: every value as text.
    as_text = frame.select(pl.all().cast(pl.String))
    assert_frame_equal(conform(as_text, logical_schema(frame), source="x"), frame)


@settings(max_examples=40, deadline=None)
@given(_frames())
def test_csv_round_trip_recovers_types(
    tmp_path_factory: pytest.TempPathFactory, frame: pl.DataFrame
) -> None:
    # Text columns are left out: arbitrary text may legitimately look like a number.
    frame = frame.select(c for c, t in logical_schema(frame).items() if t != "str")
    if frame.width == 0:
        return
    path = tmp_path_factory.mktemp("rt") / "d.csv"
    frame.write_csv(path)
    read = read_data(path).frame
    for name, logical in logical_schema(frame).items():
        if frame[name].null_count() == frame.height:
            assert read.schema[name] == pl.Float64  # nothing says what an empty column was
        else:
            assert logical_schema(read.select(name))[name] == logical, name
    assert_frame_equal(conform(read, logical_schema(frame), source="x"), frame)


def test_whole_numbers_beyond_int64_are_kept_as_text(tmp_path: Path) -> None:
    """20-digit ids (Polars reads a CSV's as Int128; a Parquet's may be UInt64) crashed training
    (exit 1, a Polars traceback) or became floats, where 300 distinct ids were one value and
    their rows were dropped as exact duplicates. They are codes: text, exactly as written."""
    from click.testing import CliRunner

    from edgeml.cli import cli
    from edgeml.data import infer_types

    ids = [str(12345678901234567890 + i) for i in range(300)]
    rows = "".join(f"{ids[i]},{i % 7},{'yes' if i % 7 > 3 else 'no'}\n" for i in range(300))
    path = _csv(tmp_path, "id,a,target\n" + rows)
    frame = read_data(path).frame
    assert frame.schema["id"] == pl.String and frame["id"].to_list() == ids
    parquet = tmp_path / "u64.parquet"
    big = [2**63 + i for i in range(3)]
    pl.DataFrame({"id": pl.Series(big, dtype=pl.UInt64), "a": [1, 2, 3]}).write_parquet(parquet)
    assert read_data(parquet).frame["id"].to_list() == [str(v) for v in big]
    text = pl.DataFrame({"id": [ids[0], "7"], "x": ["9223372036854775807", "1"]})
    assert infer_types(text).schema == pl.Schema({"id": pl.String, "x": pl.Int64})
    bundle, out = tmp_path / "m.edgeml", tmp_path / "p.csv"
    trained = CliRunner().invoke(
        cli, ["train", str(path), "--target", "target", "--out", str(bundle), "--json"]
    )
    assert trained.exit_code == 0, trained.output
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["data_card"]["rows_used"] == 300  # no row lost as a "duplicate"
    args = ["predict", str(bundle), str(path), "-o", str(out), "--id-cols", "id"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert pl.read_csv(out, schema_overrides={"id": pl.String})["id"].to_list() == ids
