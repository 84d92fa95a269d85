"""Lag, difference, time since the previous row and EWM against Polars and NumPy loops."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeml.errors import DataError
from edgeml.kernels import diff, ewm_alpha, ewm_mean, lag, time_since_previous
from tests.kernels_reference import (
    ANY_VALUE,
    FINITE_OR_NAN,
    SETTINGS,
    assert_close,
    group_codes,
    grouped,
)


def frame_of(values: np.ndarray, times: np.ndarray, offsets: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"g": group_codes(offsets), "t": times, "x": values[:, 0]})


def column(frame: pl.DataFrame, expr: pl.Expr) -> np.ndarray:
    return frame.select(expr).to_series().to_numpy().astype(np.float64)


@SETTINGS
@given(grouped(ANY_VALUE), st.integers(0, 4))
def test_lag_and_diff_match_polars_shift_over(data, k) -> None:
    values, times, offsets = data
    frame = frame_of(values, times, offsets)
    # Polars keeps NaN as a value in shift/diff, exactly as documented for the kernels.
    assert_close(lag(values[:, 0], offsets, k), column(frame, pl.col("x").shift(k).over("g")))
    with np.errstate(invalid="ignore"):
        expected = column(frame, pl.col("x").diff(k).over("g"))
    assert_close(diff(values[:, 0], offsets, k), expected)
    assert lag(values, offsets, k).shape == values.shape


@SETTINGS
@given(grouped(ANY_VALUE))
def test_time_since_previous_matches_polars(data) -> None:
    values, times, offsets = data
    frame = frame_of(values, times, offsets)
    expected = column(frame, pl.col("t").diff().over("g"))
    assert_close(time_since_previous(times, offsets), expected)


@SETTINGS
@given(grouped(FINITE_OR_NAN), st.sampled_from([0.1, 0.5, 0.9, 1.0]))
def test_ewm_matches_polars(data, alpha) -> None:
    values, times, offsets = data
    frame = frame_of(values, times, offsets)
    x = pl.col("x").fill_nan(None)
    smoothed = x.ewm_mean(alpha=alpha, adjust=False, ignore_nulls=True, min_samples=1)
    expected = column(frame, smoothed.forward_fill().over("g"))
    assert_close(ewm_mean(values[:, 0], offsets, alpha=alpha), expected)


def ewm_loop(x: np.ndarray, offsets: np.ndarray, alpha: float) -> np.ndarray:
    """The documented recurrence, one row at a time, in IEEE arithmetic."""
    out = np.empty(x.size)
    for g in range(offsets.size - 1):
        state, seen = np.nan, False
        for i in range(offsets[g], offsets[g + 1]):
            if not np.isnan(x[i]):
                with np.errstate(invalid="ignore"):
                    state = alpha * x[i] + (1 - alpha) * state if seen and alpha < 1 else x[i]
                seen = True
            out[i] = state
    return out


@SETTINGS
@given(grouped(st.sampled_from([1.0, -2.0, np.nan, np.inf, -np.inf])), st.sampled_from([0.3, 1.0]))
def test_ewm_with_infinities_follows_ieee(data, alpha) -> None:
    """inf persists in the state; opposite infinities give NaN, which then persists."""
    values, _, offsets = data
    assert_close(
        ewm_mean(values[:, 0], offsets, alpha=alpha), ewm_loop(values[:, 0], offsets, alpha)
    )


def test_ewm_halflife_and_state_on_nan() -> None:
    assert ewm_alpha(halflife=2.0) == pytest.approx(1 - 0.5**0.5)
    out = ewm_mean([np.nan, 4.0, np.nan, 0.0], [0, 4], halflife=1.0)
    assert out[0] != out[0] and out[1:].tolist() == pytest.approx([4.0, 4.0, 2.0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lag([1.0], [0, 1], -1), "non-negative"),
        (lambda: lag([1.0], [0, 1], 1.5), "non-negative"),
        (lambda: ewm_mean([1.0], [0, 1]), "exactly one"),
        (lambda: ewm_mean([1.0], [0, 1], alpha=0.5, halflife=2.0), "exactly one"),
        (lambda: ewm_mean([1.0], [0, 1], alpha=0.0), "alpha"),
        (lambda: ewm_mean([1.0], [0, 1], halflife=-1.0), "halflife"),
        (lambda: time_since_previous([3, 2], [0, 2]), "earlier"),
        (lambda: time_since_previous([3.5], [0, 1]), "nanoseconds"),
    ],
)
def test_bad_input_is_a_data_error(call, message) -> None:
    with pytest.raises(DataError, match=message):
        call()


def test_empty_input() -> None:
    assert lag(np.empty(0), [0], 1).shape == (0,)
    assert ewm_mean(np.empty((0, 3)), [0, 0], alpha=0.5).shape == (0, 3)
    assert time_since_previous(np.empty(0, np.int64), [0]).shape == (0,)
