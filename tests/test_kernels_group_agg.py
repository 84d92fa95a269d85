"""Group aggregations against Polars ``over`` and a NumPy reference (±inf, missing keys)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeml.errors import DataError
from edgeml.kernels import STATISTICS, group_agg, group_join, group_stats
from tests.kernels_reference import (
    ANY_VALUE,
    FINITE_OR_NAN,
    SETTINGS,
    assert_close,
    window_stat,
)

rows = st.lists(st.tuples(st.integers(-1, 4), FINITE_OR_NAN), max_size=40)


@SETTINGS
@given(rows)
def test_matches_polars_over(data) -> None:
    codes = np.array([r[0] for r in data], dtype=np.int64)
    x = np.array([r[1] for r in data], dtype=np.float64)
    stats = ["count", "sum", "mean", "std", "var", "min", "max"]
    got = group_agg(x, codes, stats)
    frame = pl.DataFrame({"g": codes, "x": x})
    v = pl.col("x").fill_nan(None)
    exprs = [v.count(), v.sum(), v.mean(), v.std(), v.var(), v.min(), v.max()]
    expected = frame.select(
        [e.over("g").cast(pl.Float64).alias(str(i)) for i, e in enumerate(exprs)]
    )
    for s, stat in enumerate(stats):
        column = expected[str(s)].to_numpy().astype(np.float64)
        if stat == "sum":  # Polars sums an all-null group to 0; an empty group is NaN here
            column[np.asarray(expected["0"]) == 0] = np.nan
        column[codes < 0] = np.nan  # a missing key belongs to no group
        assert_close(got[:, s], column)


@SETTINGS
@given(st.lists(st.tuples(st.integers(-1, 4), ANY_VALUE), max_size=40), st.integers(5, 7))
def test_table_matches_numpy_with_infinities(data, n_groups) -> None:
    codes = np.array([r[0] for r in data], dtype=np.int64)
    x = np.array([[r[1], -r[1]] for r in data], dtype=np.float64).reshape(-1, 2)
    table = group_stats(x, codes, STATISTICS, n_groups=n_groups)
    assert table.shape == (n_groups, 2 * len(STATISTICS))
    for g in range(n_groups):
        for c in range(2):
            for s, stat in enumerate(STATISTICS):
                expected = window_stat(x[codes == g, c], stat)
                assert_close(table[g, c * len(STATISTICS) + s], expected)


def test_large_offset_std() -> None:
    rng = np.random.default_rng(0)
    x = 1e9 + rng.normal(0, 1, 10_000)
    codes = rng.integers(0, 3, x.size)
    got = group_stats(x, codes, ["std", "mean"])
    for g in range(3):
        part = x[codes == g]
        assert_close(got[g], [np.std(part - part.mean(), ddof=1), part.mean()])


def test_join_unseen_and_missing_keys() -> None:
    table = group_stats([1.0, 2.0, 10.0], [0, 0, 1], ["mean"])
    np.testing.assert_array_equal(
        group_join(table, [1, 5, -1, 0]), [[10.0], [np.nan], [np.nan], [1.5]]
    )
    assert group_agg(np.empty(0), np.empty(0, np.int64)).shape == (0, 5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: group_stats([1.0], [0, 1]), "rows"),
        (lambda: group_stats([1.0], [3], n_groups=2), "below"),
        (lambda: group_stats([1.0], [0], ["mode"]), "mode"),
        (lambda: group_stats([1.0], [0.5]), "integer"),
    ],
)
def test_bad_input_is_a_data_error(call, message) -> None:
    with pytest.raises(DataError, match=message):
        call()
