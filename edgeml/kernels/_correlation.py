"""Pearson and Spearman correlation matrices with pairwise-complete rows (NaN-aware).

Pearson: for columns i, j, the rows where both are non-NaN; NaN with fewer than two such rows or
a column constant on them (variance under 1e-12 of its sum of squares about the column's mean;
so the diagonal is 1 or NaN), and every entry of a column holding ±inf is
NaN (as ``np.corrcoef`` gives). Spearman: each column is ranked over its own non-NaN values
(average ranks for ties; ±inf rank as extremes), then Pearson on the ranks. With NaN this ranks
once per column rather than once per pair (pandas re-ranks each pair): O(n·k) ranking instead of
O(n·log n·k²), which is what a correlation filter over hundreds of candidates can afford.

The products are BLAS matrix multiplications on column-centred data (no hand loop does better),
with masks for the pairwise counts and sums; centring first keeps the one-pass covariance
formula accurate (no cancellation from large means).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from edgeml.kernels._validate import as_matrix

__all__ = ["pearson", "rank_columns", "spearman"]

FloatArray = npt.NDArray[np.float64]

# Relative size under which a centred sum of squares is rounding, not variance.
_FLAT = 1e-12


@njit(cache=True, nogil=True, parallel=True)
def _rank_core(matrix, out):
    n = matrix.shape[0]
    for c in prange(matrix.shape[1]):
        column = matrix[:, c].copy()
        order = np.argsort(column)  # NaN sorts last
        valid = 0
        for i in range(n):
            if np.isnan(column[i]):
                out[i, c] = np.nan
            else:
                valid += 1
        start = 0
        while start < valid:
            stop = start + 1
            while stop < valid and column[order[stop]] == column[order[start]]:
                stop += 1
            rank = 0.5 * (start + stop + 1)  # average of the 1-based ranks start+1 .. stop
            for r in range(start, stop):
                out[order[r], c] = rank
            start = stop


def rank_columns(values: npt.ArrayLike) -> FloatArray:
    """1-based average ranks of each column over its non-NaN values; NaN stays NaN.

    >>> rank_columns([3.0, np.nan, 1.0, 3.0]).ravel().tolist()
    [2.5, nan, 1.0, 2.5]
    """
    matrix, _ = as_matrix(values)
    out = np.empty_like(matrix)
    if out.size:
        _rank_core(matrix, out)
    return out


def pearson(values: npt.ArrayLike) -> FloatArray:
    """(k, k) Pearson correlations of the columns of ``values`` (n, k), pairwise complete.

    >>> pearson(np.array([[1.0, 2.0], [2.0, 4.5], [3.0, np.nan]])).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    matrix, _ = as_matrix(values)
    k = matrix.shape[1]
    present = ~np.isnan(matrix)
    infinite = np.asarray(np.isinf(matrix).any(axis=0))
    usable = present & ~infinite  # a column with ±inf is NaN everywhere: keep it out of sums
    counts = usable.sum(axis=0)
    centre = np.zeros(k)
    np.divide(np.where(usable, matrix, 0.0).sum(axis=0), counts, out=centre, where=counts > 0)
    mask = usable.astype(np.float64)
    data = np.where(usable, matrix - centre, 0.0)
    pairs = mask.T @ mask  # rows where both i and j are usable
    sums = data.T @ mask  # sums[i, j] = Σ x_i over rows where j is usable too
    squares = (data * data).T @ mask
    cross = data.T @ data
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = cross - sums * sums.T / pairs
        var_i = squares - sums * sums / pairs
        var_j = var_i.T
        result = cov / np.sqrt(var_i * var_j)
    # A column constant on the pair's rows leaves only rounding in its variance: call it zero.
    flat = ~(var_i > _FLAT * squares)
    bad = (pairs < 2) | flat | flat.T | infinite[:, None] | infinite[None, :]
    result[bad] = np.nan
    np.clip(result, -1.0, 1.0, out=result)
    # Exact ones on the diagonal (rounding gives 1 ± 1e-16 there otherwise).
    diagonal = np.diagonal(result).copy()
    np.fill_diagonal(result, np.where(np.isnan(diagonal), np.nan, 1.0))
    return result


def spearman(values: npt.ArrayLike) -> FloatArray:
    """(k, k) Spearman correlations: Pearson on per-column ranks (see module docstring).

    >>> spearman(np.array([[1.0, 10.0], [2.0, 100.0], [3.0, 1000.0]])).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    return pearson(rank_columns(values))
