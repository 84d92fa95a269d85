"""The runtime's date-format parser and Polars agree: same value where both read the text, and
both refuse the same text (hypothesis, on text built around each format and mutated)."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeml.data._dates import SHAPES, parse_text
from edgeml.runtime.contract import convert_value
from edgeml.util.dateformat import has_time, parse_with

FORMATS = (*SHAPES, "%Y-%m-%d %H:%M:%S", "%d_%m_%YT%H:%M", "%Y/%m/%d %I:%M%p", "%B%d%y",
           "%d%b%Y")  # fmt: skip
_MONTHS = ["Jan", "feb", "MAR", "apr", "May", "jun", "Jul", "aug", "Sep", "oct", "Nov", "dec"]
_SPACE = st.sampled_from(["", "", "", " ", "  ", "\t", "\u3000"])


def _number(low: int, high: int) -> st.SearchStrategy[str]:
    plain = st.integers(low, high).map(str)
    padded = st.integers(low, high).map(lambda k: f"{k:02d}")
    odd = st.text("0123456789", min_size=0, max_size=5)
    return st.one_of(plain, padded, odd)


TOKENS = {
    "%Y": st.one_of(_number(1, 9999), st.integers(1, 9999).map(lambda y: f"+{y}")),
    "%y": st.one_of(_number(0, 99), st.sampled_from(["+5", "-5", "100", "2024"])),
    "%m": _number(0, 13),
    "%d": _number(0, 32),
    "%H": _number(0, 25),
    "%I": _number(0, 13),
    "%p": st.sampled_from(["AM", "pm", "Pm", "aM", "P", "p.m.", "XM", ""]),
    "%M": _number(0, 61),
    "%S": _number(0, 61),
    "%b": st.one_of(st.sampled_from(_MONTHS), st.text("abcdefjmnoprsuvyJMAS", max_size=4)),
    "%B": st.one_of(
        st.sampled_from([*_MONTHS, "March", "SEPTEMBER", "Sept", "june", "Marc", "Mayo", "Julyy"]),
        st.text("abcdefhijlmnoprstuvyJMAS", max_size=10),
    ),
}
_LITERAL_NOISE = st.sampled_from(["", "/", "-", ".", ",", " ", ":", "x", "T"])


@st.composite
def text_for(draw: st.DrawFn, fmt: str) -> str:
    """Text close to ``fmt``: each directive a plausible (or not) token, each separator kept
    or, now and then, changed; whitespace in front of tokens."""
    out = []
    k = 0
    while k < len(fmt):
        if fmt[k] == "%":
            out.append(draw(_SPACE) + draw(TOKENS[fmt[k : k + 2]]))
            k += 2
        else:
            keep = draw(st.integers(0, 9)) > 0
            out.append(fmt[k] if keep else draw(_LITERAL_NOISE))
            k += 1
    return "".join(out)


_OUTSIDE = "a year outside 1-9999"
_FIRST, _LAST = dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59)
_EPOCH = dt.datetime(1970, 1, 1)


def polars_read(values: list[str], fmt: str) -> list[dt.datetime | str | None]:
    """What Polars reads; ``_OUTSIDE`` for a year Python's datetime cannot hold (the runtime
    refuses those, a difference the module docstring states)."""
    parsed = pl.Series("v", values).to_frame().select(parse_text(pl.col("v"), fmt)).to_series()
    micros = parsed.cast(pl.Datetime("us")).dt.epoch("us").to_list()
    low, high = ((t - _EPOCH) // dt.timedelta(microseconds=1) for t in (_FIRST, _LAST))
    return [
        None if m is None else _OUTSIDE if not low <= m <= high
        else _EPOCH + dt.timedelta(microseconds=m)
        for m in micros
    ]  # fmt: skip


@st.composite
def case(draw: st.DrawFn) -> tuple[str, list[str]]:
    fmt = draw(st.sampled_from(FORMATS))
    return fmt, draw(st.lists(text_for(fmt), min_size=1, max_size=20))


@settings(max_examples=500, deadline=None)
@given(case())
def test_the_runtime_reads_what_polars_reads(generated):
    fmt, values = generated
    for value, expected in zip(values, polars_read(values, fmt), strict=True):
        if expected == _OUTSIDE:
            assert parse_with(value, fmt) is None, (fmt, value)
        else:
            assert parse_with(value, fmt) == expected, (fmt, value)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(FORMATS), st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)))
def test_a_written_stamp_reads_back(fmt, stamp):
    # strftime pads %Y to 4 digits only on some platforms: write the year padded ourselves
    text = stamp.strftime(fmt.replace("%Y", f"{stamp.year:04d}"))
    if "%y" in fmt:  # two digits name a year of 1970-2069 only
        stamp = stamp.replace(year=1970 + (stamp.year - 1970) % 100)
        text = stamp.strftime(fmt)
    want = stamp.replace(microsecond=0)
    if not has_time(fmt):
        want = dt.datetime(stamp.year, stamp.month, stamp.day)
    elif "%S" not in fmt:
        want = want.replace(second=0)
    assert parse_with(text, fmt) == want
    assert polars_read([text], fmt) == [want]
    assert convert_value(" " + text + "\n", "datetime", fmt) == want  # stripped as conform does


def test_the_property_can_fail():
    # a parser that took 3-digit months would disagree with Polars on this text
    assert polars_read(["2024/123/01"], "%Y/%m/%d") == [None]
    assert parse_with("2024/123/01", "%Y/%m/%d") is None
