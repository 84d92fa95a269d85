"""Created features (products, ratios, differences, degree-2 terms) against NumPy."""

from __future__ import annotations

from itertools import combinations, combinations_with_replacement, permutations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeml.errors import DataError
from edgeml.kernels import create_features, created_names, pair_indices, pairwise
from tests.kernels_reference import ANY_VALUE, SETTINGS, assert_close

matrices = st.integers(0, 12).flatmap(
    lambda n: st.integers(1, 4).flatmap(
        lambda k: st.lists(ANY_VALUE, min_size=n * k, max_size=n * k).map(
            lambda flat: np.array(flat, dtype=np.float64).reshape(n, k)
        )
    )
)


def safe_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.where(b == 0, np.nan, a / b)


@SETTINGS
@given(matrices)
def test_matches_numpy(x) -> None:
    k = x.shape[1]
    with np.errstate(all="ignore"):
        cases = {
            "product": [x[:, i] * x[:, j] for i, j in combinations(range(k), 2)],
            "ratio": [safe_ratio(x[:, i], x[:, j]) for i, j in permutations(range(k), 2)],
            "difference": [x[:, i] - x[:, j] for i, j in combinations(range(k), 2)],
            "poly2": [x[:, i] * x[:, j] for i, j in combinations_with_replacement(range(k), 2)],
        }
    for kind, columns in cases.items():
        expected = np.empty((x.shape[0], len(columns)))
        for p, col in enumerate(columns):
            expected[:, p] = col
        got = create_features(x, kind)
        assert_close(got, expected)
        assert len(created_names([f"c{i}" for i in range(k)], kind)) == got.shape[1]


def test_names_and_selected_pairs() -> None:
    assert created_names(["a", "b", "c"], "ratio")[:3] == ["a/b", "a/c", "b/a"]
    assert created_names(["a", "b"], "difference") == ["a-b"]
    assert created_names(["a", "b"], "product") == ["a*b"]
    left, right = pair_indices(3, "poly2")
    assert list(zip(left.tolist(), right.tolist(), strict=True))[:3] == [(0, 0), (0, 1), (0, 2)]
    x = np.array([[1.0, 0.0, -2.0], [4.0, 2.0, 0.0]])
    np.testing.assert_array_equal(
        pairwise(x, [0, 2], [1, 1], "ratio"), [[np.nan, np.nan], [2.0, 0.0]]
    )
    np.testing.assert_array_equal(pairwise(x, [0], [2], "sum"), [[-1.0], [4.0]])
    assert pairwise(x, [], [], "product").shape == (2, 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pairwise(np.zeros((1, 2)), [0], [2], "product"), "right"),
        (lambda: pairwise(np.zeros((1, 2)), [0, 1], [1], "product"), "equal lengths"),
        (lambda: pairwise(np.zeros((1, 2)), [0], [1], "power"), "power"),
        (lambda: create_features(np.zeros((1, 2)), "cube"), "cube"),
    ],
)
def test_bad_input_is_a_data_error(call, message) -> None:
    with pytest.raises(DataError, match=message):
        call()
