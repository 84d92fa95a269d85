"""Rolling window kernels against Polars (finite values, NaN) and a brute-force NumPy reference
(±inf, tied timestamps), plus numerical stability far from zero."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeml.errors import DataError
from edgeml.kernels import (
    STATISTICS,
    restore_order,
    rolling,
    rolling_names,
    rolling_rows,
    rolling_span,
    sort_groups,
)
from tests.kernels_reference import (
    FINITE_OR_NAN,
    NICE,
    SETTINGS,
    assert_close,
    brute_rolling,
    group_codes,
    grouped,
)

POLARS_STATS = ("sum", "mean", "std", "var", "min", "max")


def polars_rolling(frame: pl.DataFrame, stat: str, width: int, by_time: bool) -> np.ndarray:
    """The Polars expression a user would write: nulls for NaN, min_samples=1, over the group."""
    x = pl.col("x").fill_nan(None)
    if stat == "count":
        x = x.is_not_null().cast(pl.Float64)
        stat = "sum"
    if by_time:
        expr = getattr(x, f"rolling_{stat}_by")("t", window_size=f"{width}i", min_samples=1)
    else:
        expr = getattr(x, f"rolling_{stat}")(window_size=width, min_samples=1)
    return frame.select(expr.over("g")).to_series().to_numpy().astype(np.float64)


@SETTINGS
@given(grouped(FINITE_OR_NAN, strict_times=True), st.integers(1, 8), st.data())
def test_rows_and_spans_match_polars(data, width, draw) -> None:
    values, times, offsets = data
    stats = draw.draw(st.lists(st.sampled_from(STATISTICS), min_size=1, max_size=3, unique=True))
    frame = pl.DataFrame({"g": group_codes(offsets), "t": times, "x": values[:, 0]})
    by_rows = rolling_rows(values, offsets, [width], stats)
    by_time = rolling_span(values, times, offsets, [width], stats)
    for s, stat in enumerate(stats):
        assert_close(by_rows[:, s], polars_rolling(frame, stat, width, by_time=False))
        assert_close(by_time[:, s], polars_rolling(frame, stat, width, by_time=True))


@SETTINGS
@given(grouped(n_cols=2), st.lists(st.integers(1, 9), min_size=1, max_size=3), st.data())
def test_fused_matches_brute_force_with_inf_and_ties(data, widths, draw) -> None:
    values, times, offsets = data
    stats = draw.draw(st.lists(st.sampled_from(STATISTICS), min_size=1, max_size=7, unique=True))
    for clock, kernel in ((None, rolling_rows), (times, rolling_span)):
        args = (values, offsets) if clock is None else (values, clock, offsets)
        out = kernel(*args, widths, stats)
        assert out.shape == (values.shape[0], 2 * len(widths) * len(stats))
        column = 0  # documented order: input column, then window, then statistic
        for c in range(2):
            for width in widths:
                for stat in stats:
                    expected = brute_rolling(values[:, c], clock, offsets, width, stat)
                    assert_close(out[:, column], expected)
                    column += 1


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20), NICE), max_size=40),
    st.integers(1, 6),
)
def test_unsorted_input_through_sort_groups(rows, width) -> None:
    codes = np.array([r[0] for r in rows], dtype=np.int64)
    times = np.array([r[1] for r in rows], dtype=np.int64)
    x = np.array([r[2] for r in rows], dtype=np.float64)
    order, offsets = sort_groups(codes, times)
    got = restore_order(rolling_rows(x[order], offsets, [width], ["mean", "max"]), order)
    frame = pl.DataFrame({"g": codes, "t": times, "x": x}).with_row_index("row")
    expected = (
        frame.sort(["g", "t"], maintain_order=True)
        .with_columns(
            m=pl.col("x").rolling_mean(width, min_samples=1).over("g"),
            M=pl.col("x").rolling_max(width, min_samples=1).over("g"),
        )
        .sort("row")
    )
    assert_close(got[:, 0], expected["m"].to_numpy())
    assert_close(got[:, 1], expected["M"].to_numpy())


def test_std_far_from_zero_is_accurate() -> None:
    """Values near 1e9 with unit noise, drifting: running add/remove sums lose every digit."""
    rng = np.random.default_rng(3)
    n = 60_000
    values = 1e9 + np.cumsum(rng.normal(0, 50, n)) + rng.normal(0, 1, n)
    offsets = np.array([0, 20_000, 20_001, 60_000])
    out = rolling_rows(values, offsets, [7, 300], ["std", "mean"])
    for w, width in enumerate((7, 300)):
        for g in range(3):
            start, stop = offsets[g], offsets[g + 1]
            segment = values[start:stop]
            for i in range(0, stop - start, 997):  # a sample of rows is plenty
                window = segment[max(0, i - width + 1) : i + 1]
                expected_std = np.std(window - window.mean(), ddof=1) if window.size > 1 else np.nan
                assert_close(out[start + i, 2 * w], expected_std)
                assert_close(out[start + i, 2 * w + 1], np.mean(window))


def test_infinity_leaving_the_window_does_not_poison_it() -> None:
    x = np.array([1.0, np.inf, 2.0, 3.0, -np.inf, np.inf, 5.0, 6.0])
    out = rolling_rows(x, [0, 8], [2], ["sum", "mean", "std", "min", "max"])
    assert out[:, 0].tolist()[3] == 5.0  # inf left the window two rows ago
    assert np.isnan(out[5, 0]) and out[6, 0] == np.inf and out[7, 0] == 11.0
    assert np.isnan(out[6, 2]) and out[7, 2] == pytest.approx(np.sqrt(0.5))
    assert out[5, 3] == -np.inf and out[5, 4] == np.inf


def test_empty_window_and_count() -> None:
    x = np.array([np.nan, np.nan, 1.0])
    out = rolling_rows(x, [0, 3], [2], STATISTICS)
    assert out[0, 0] == 0.0 and np.isnan(out[0, 1:]).all()
    assert out[2].tolist()[:3] == [1.0, 1.0, 1.0] and np.isnan(out[2, 3:5]).all()


def test_single_window_helper_and_names() -> None:
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    assert rolling(x[:, 0], [0, 2], 2, "sum").tolist() == [1.0, 4.0]
    assert rolling(x, [0, 2], 2, "max").tolist() == [[1.0, 10.0], [3.0, 30.0]]
    assert rolling(x[:, 0], [0, 2], 5, "count", times=[0, 10]).tolist() == [1.0, 1.0]
    names = rolling_names(["a", "b"], [5, 20], ["mean", "std"])
    assert names[:3] == ["a_mean_5", "a_std_5", "a_mean_20"] and names[-1] == "b_std_20"


def test_datetime_times_and_empty_input() -> None:
    stamps = np.array(["2024-01-01T00:00", "2024-01-01T00:10", "2024-01-01T00:20"], "M8[s]")
    out = rolling_span([1.0, 2.0, 4.0], stamps, [0, 3], [15 * 60 * 10**9], ["mean"])
    assert out[:, 0].tolist() == [1.0, 1.5, 3.0]
    assert rolling_rows(np.empty(0), [0], [3], ["mean"]).shape == (0, 1)
    assert rolling_span(np.empty((0, 2)), np.empty(0, np.int64), [0, 0], [3], ["min"]).shape == (
        0,
        2,
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rolling_rows([1.0], [0, 2], [2]), "offsets"),
        (lambda: rolling_rows([1.0], [1, 1], [2]), "offsets"),
        (lambda: rolling_rows([1.0, 2.0], [0, 2, 1, 2], [2]), "non-decreasing"),
        (lambda: rolling_rows([1.0], [0, 1], [0]), "windows"),
        (lambda: rolling_rows([1.0], [0, 1], [2], ["median"]), "median"),
        (lambda: rolling_rows(np.zeros((1, 1, 1)), [0, 1], [2]), "dimensions"),
        (lambda: rolling_rows(["a"], [0, 1], [2]), "numeric"),
        (lambda: rolling_span([1.0, 2.0], [5, 4], [0, 2], [3]), "earlier"),
        (lambda: rolling_span([1.0, 2.0], [5], [0, 2], [3]), "rows"),
        (lambda: rolling_span([1.0], [1.5], [0, 1], [3]), "nanoseconds"),
    ],
)
def test_bad_input_is_a_data_error(call, message) -> None:
    with pytest.raises(DataError, match=message):
        call()


def test_times_may_restart_at_each_group() -> None:
    out = rolling_span([1.0, 2.0, 3.0], [50, 60, 10], [0, 2, 3], [100], ["sum"])
    assert out[:, 0].tolist() == [1.0, 3.0, 3.0]
