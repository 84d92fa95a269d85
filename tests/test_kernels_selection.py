"""Binning, mutual information, correlation matrices and PSI against NumPy / SciPy references."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from edgeml.errors import DataError
from edgeml.kernels import (
    bin_counts,
    bin_index,
    mutual_information,
    mutual_information_binned,
    pearson,
    psi,
    psi_from_counts,
    quantile_edges,
    rank_columns,
    spearman,
)
from tests.kernels_reference import ANY_VALUE, FINITE_OR_NAN, NICE, SETTINGS, assert_close

vectors = st.lists(ANY_VALUE, max_size=50).map(lambda v: np.array(v, dtype=np.float64))


def matrices(values: st.SearchStrategy[float], max_rows: int = 30) -> st.SearchStrategy:
    return st.integers(0, max_rows).flatmap(
        lambda n: st.integers(1, 4).flatmap(
            lambda k: st.lists(values, min_size=n * k, max_size=n * k).map(
                lambda flat: np.array(flat, dtype=np.float64).reshape(n, k)
            )
        )
    )


def ref_edges(x: np.ndarray, n_bins: int) -> np.ndarray:
    finite = x[np.isfinite(x)]
    if finite.size == 0 or n_bins == 1:
        return np.empty(0)
    return np.unique(np.quantile(finite, np.arange(1, n_bins) / n_bins))


def ref_bins(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), -1, np.searchsorted(edges, x, side="right"))


def ref_mi(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in MI of two integer label vectors, from the contingency table."""
    if a.size == 0:
        return 0.0
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1.0)
    p = table / a.size
    outer = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
    nz = p > 0
    return max(float(np.sum(p[nz] * np.log(p[nz] / outer[nz]))), 0.0)


def ref_pearson(x: np.ndarray) -> np.ndarray:
    k = x.shape[1]
    out = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(k):
            if np.isinf(x[:, i]).any() or np.isinf(x[:, j]).any():
                continue
            both = ~np.isnan(x[:, i]) & ~np.isnan(x[:, j])
            a, b = x[both, i], x[both, j]
            if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
                continue
            out[i, j] = 1.0 if i == j else np.corrcoef(a, b)[0, 1]
    return out


def ref_ranks(x: np.ndarray) -> np.ndarray:
    out = np.full(x.shape, np.nan)
    for c in range(x.shape[1]):
        keep = ~np.isnan(x[:, c])
        out[keep, c] = sps.rankdata(x[keep, c])
    return out


@SETTINGS
@given(vectors, st.integers(1, 8), vectors)
def test_binning_matches_numpy(train, n_bins, new) -> None:
    edges = quantile_edges(train, n_bins)
    assert_close(edges, ref_edges(train, n_bins))
    np.testing.assert_array_equal(bin_index(new, edges), ref_bins(new, edges))
    counts = bin_counts(new, edges)
    assert counts.sum() == new.size and counts[-1] == np.isnan(new).sum()


@SETTINGS
@given(matrices(ANY_VALUE), st.integers(1, 5), st.data())
def test_mutual_information_matches_histogram_reference(x, n_bins, draw) -> None:
    y_class = np.array(draw.draw(st.lists(st.integers(0, 2), min_size=len(x), max_size=len(x))))
    y_reg = np.array(draw.draw(st.lists(FINITE_OR_NAN, min_size=len(x), max_size=len(x))))
    for task, y in (("classification", y_class.astype(float)), ("regression", y_reg)):
        got = mutual_information(x, y, task=task, n_bins=n_bins)
        keep = ~np.isnan(y)
        target = (
            y[keep] if task == "classification" else ref_bins(y[keep], ref_edges(y[keep], n_bins))
        )
        expected = [
            ref_mi(ref_bins(x[keep, c], ref_edges(x[keep, c], n_bins)), target)
            for c in range(x.shape[1])
        ]
        assert_close(got, np.array(expected))


def test_mutual_information_ranks_informative_features() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 5000)
    x = np.column_stack([y + rng.normal(0, 0.3, y.size), rng.normal(size=y.size)])
    x[rng.random(y.size) < 0.1, 0] = np.nan
    mi = mutual_information(x, y)
    assert mi[0] > 0.3 > 0.01 > mi[1]
    assert mutual_information_binned(np.zeros((3, 2), np.int64), [0, 1, 0]).tolist() == [0, 0]


@SETTINGS
@given(matrices(st.one_of(NICE, NICE, st.sampled_from([np.nan, np.inf, -np.inf]))))
def test_pearson_and_spearman_pairwise_complete(x) -> None:
    assert_close(pearson(x), ref_pearson(x))
    assert_close(rank_columns(x), ref_ranks(x))
    assert_close(spearman(x), ref_pearson(ref_ranks(x)))


def test_no_missing_values_equal_numpy_and_scipy() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    x[:, 1] += 1e9  # a large offset must not cost precision
    assert_close(pearson(x), np.corrcoef(x, rowvar=False))
    assert_close(spearman(x), sps.spearmanr(x).statistic)


def test_psi_matches_formula() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=2000), rng.normal(0.3, 1.2, size=1500)
    b[:50] = np.nan
    edges = quantile_edges(a, 10)
    p = np.array([np.mean(ref_bins(a, edges) == k) for k in [*range(edges.size + 1), -1]])
    q = np.array([np.mean(ref_bins(b, edges) == k) for k in [*range(edges.size + 1), -1]])
    p, q = np.where(p > 0, p, 1e-4), np.where(q > 0, q, 1e-4)
    assert psi(a, b, edges) == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-12)
    assert psi(a, a, edges) == 0.0
    assert np.isnan(psi(np.empty(0), a, edges))
    assert psi_from_counts([10, 0], [5, 5]) > 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: quantile_edges([1.0], 0), "n_bins"),
        (lambda: bin_index([1.0], [2.0, 1.0]), "increasing"),
        (lambda: bin_index([1.0], [np.nan]), "finite"),
        (lambda: mutual_information([1.0], [0, 1]), "rows"),
        (lambda: mutual_information([1.0], [0], task="ranking"), "task"),
        (lambda: mutual_information([1.0], [np.inf]), "infinite"),
        (lambda: mutual_information_binned(np.array([[-1]]), [0]), "non-negative"),
        (lambda: psi_from_counts([1, 2], [1]), "bins"),
        (lambda: psi_from_counts([1, -2], [1, 1]), "non-negative"),
        (lambda: psi_from_counts([1, 2], [1, 1], epsilon=0), "epsilon"),
    ],
)
def test_bad_input_is_a_data_error(call, message) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=message):
            call()
