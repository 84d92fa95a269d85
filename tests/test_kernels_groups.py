"""The group layout helpers: sorting arbitrary input, CSR offsets, mapping results back."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeml.errors import DataError
from edgeml.kernels import lag, offsets_from_sorted, restore_order, sort_groups
from tests.kernels_reference import SETTINGS


@SETTINGS
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(-5, 5)), max_size=50))
def test_sort_groups_orders_by_code_then_time_stably(rows) -> None:
    codes = np.array([r[0] for r in rows], dtype=np.int64)
    times = np.array([r[1] for r in rows], dtype=np.int64)
    order, offsets = sort_groups(codes, times)
    expected = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1], i))
    assert order.tolist() == expected
    assert offsets[0] == 0 and offsets[-1] == len(rows)
    assert offsets.size - 1 == len(set(codes.tolist()))
    for g in range(offsets.size - 1):
        assert len(set(codes[order][offsets[g] : offsets[g + 1]].tolist())) == 1
    values = np.arange(len(rows), dtype=np.float64)
    assert restore_order(values[order], order).tolist() == values.tolist()


@SETTINGS
@given(st.lists(st.integers(0, 5), max_size=30), st.integers(6, 8))
def test_n_groups_keeps_code_numbers_and_empty_groups(codes, n_groups) -> None:
    _, offsets = sort_groups(codes, n_groups=n_groups)
    assert offsets.size == n_groups + 1
    for g in range(n_groups):
        assert offsets[g + 1] - offsets[g] == codes.count(g)


def test_unsorted_lag_round_trip() -> None:
    codes = np.array([2, 1, 2, 1, 2])
    times = np.array([30, 5, 10, 1, 20])
    x = np.array([3.0, 50.0, 1.0, 10.0, 2.0])
    order, offsets = sort_groups(codes, times)
    got = restore_order(lag(x[order], offsets), order)
    np.testing.assert_array_equal(got, [2.0, 10.0, np.nan, np.nan, 1.0])


def test_datetime_times_and_2d_restore() -> None:
    stamps = np.array(["2024-01-02", "2024-01-01"], dtype="M8[D]")
    order, offsets = sort_groups([0, 0], stamps)
    assert order.tolist() == [1, 0] and offsets.tolist() == [0, 2]
    table = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert restore_order(table, order).tolist() == [[3.0, 4.0], [1.0, 2.0]]


def test_empty_input() -> None:
    order, offsets = sort_groups(np.empty(0, np.int64), np.empty(0, np.int64))
    assert order.size == 0 and offsets.tolist() == [0]
    assert offsets_from_sorted([], n_groups=2).tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: offsets_from_sorted([2, 1]), "sorted"),
        (lambda: offsets_from_sorted([0, 3], n_groups=3), "codes in"),
        (lambda: offsets_from_sorted([0], n_groups=-1), "non-negative"),
        (lambda: sort_groups([0, 1], [1]), "rows"),
        (lambda: sort_groups([0.5]), "integer"),
        (lambda: sort_groups(["a"]), "integer"),
        (lambda: sort_groups([[0]]), "1-D"),
        (lambda: sort_groups([0], np.array(["NaT"], "M8[ns]")), "NaT"),
        (lambda: restore_order(np.zeros(2), [0]), "row indices"),
    ],
)
def test_bad_input_is_a_data_error(call, message) -> None:
    with pytest.raises(DataError, match=message):
        call()


@pytest.mark.parametrize("order", [[0, 0, 1], [0, 5, 1], [0, -1, 1], [0.0, 1.0, 2.0]])
def test_restore_order_refuses_a_non_permutation(order) -> None:
    with pytest.raises(DataError, match="permutation"):
        restore_order(np.zeros((3, 2)), np.array(order))


def test_restore_order_fortran_and_other_dtypes() -> None:
    values = np.asfortranarray(np.arange(6.0).reshape(3, 2))
    got = restore_order(values, np.array([2, 0, 1]))
    assert got.tolist() == [[2.0, 3.0], [4.0, 5.0], [0.0, 1.0]] and got.flags.f_contiguous
    assert restore_order(np.array([1, 2, 3]), np.array([2, 0, 1])).tolist() == [2, 3, 1]
