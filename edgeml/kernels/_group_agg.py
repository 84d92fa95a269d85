"""Aggregations per key (count, sum, mean, std, var, min, max), as a table or joined per row.

Same rules as the rolling windows: NaN skipped, an empty group gives NaN (``count`` 0), ±inf
make sum/mean ±inf (both → NaN) and std/var NaN, std/var use ddof=1. Keys are int codes in
``[0, n_groups)``; a negative code is a missing key and its row gets NaN in every column. Output
column order: ``c * n_stats + s`` (input column, then statistic). Split into a fitted table and
a join so a FeaturePlan can learn the table on training rows and apply it to new ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from edgeml.errors import DataError
from edgeml.kernels._stats import emit_stats, stat_codes
from edgeml.kernels._validate import as_codes, as_matrix

__all__ = ["group_agg", "group_join", "group_stats"]

FloatArray = npt.NDArray[np.float64]


@njit(cache=True, nogil=True, parallel=True)
def _group_core(values, codes, n_groups, stats, out):
    n_stats = stats.size
    for c in prange(values.shape[1]):
        n = np.zeros(n_groups)
        total = np.zeros(n_groups)
        pos = np.zeros(n_groups, dtype=np.int64)
        neg = np.zeros(n_groups, dtype=np.int64)
        lo_v = np.full(n_groups, np.inf)
        hi_v = np.full(n_groups, -np.inf)
        for i in range(values.shape[0]):
            g = codes[i]
            v = values[i, c]
            if g < 0 or np.isnan(v):
                continue
            if v == np.inf:
                pos[g] += 1
            elif v == -np.inf:
                neg[g] += 1
            else:
                n[g] += 1.0
                total[g] += v
            lo_v[g] = min(lo_v[g], v)
            hi_v[g] = max(hi_v[g], v)
        mean = np.zeros(n_groups)
        for g in range(n_groups):
            if n[g] > 0:
                mean[g] = total[g] / n[g]
        # Second pass about the mean: no cancellation for large offsets (1e9 + noise).
        m2 = np.zeros(n_groups)
        shift = np.zeros(n_groups)
        for i in range(values.shape[0]):
            g = codes[i]
            v = values[i, c]
            if g >= 0 and np.isfinite(v):
                d = v - mean[g]
                m2[g] += d * d
                shift[g] += d
        for g in range(n_groups):
            if n[g] > 0:
                m2[g] -= shift[g] * shift[g] / n[g]  # corrected two-pass (Chan, Golub, LeVeque)
                m2[g] = max(m2[g], 0.0)
                mean[g] += shift[g] / n[g]
            emit_stats(
                out,
                g,
                c * n_stats,
                stats,
                n[g],
                mean[g],
                m2[g],
                total[g],
                pos[g],
                neg[g],
                lo_v[g],
                hi_v[g],
            )


@njit(cache=True, nogil=True, parallel=True)
def _join_core(table, codes, out):
    for i in prange(codes.size):
        g = codes[i]
        for j in range(table.shape[1]):
            out[i, j] = table[g, j] if 0 <= g < table.shape[0] else np.nan


def group_stats(
    values: npt.ArrayLike,
    codes: npt.ArrayLike,
    stats: Sequence[str] = ("count", "mean", "std", "min", "max"),
    *,
    n_groups: int | None = None,
) -> FloatArray:
    """Per-key table (n_groups, k·stats) of the non-NaN values; ``n_groups`` defaults to max+1.

    >>> group_stats([1.0, 3.0, np.nan, 5.0], [0, 0, 1, 2], ["count", "mean"]).tolist()
    [[2.0, 2.0], [0.0, nan], [1.0, 5.0]]
    """
    matrix, _ = as_matrix(values)
    keys = as_codes(codes)
    if keys.size != matrix.shape[0]:
        raise DataError(f"codes: expected {matrix.shape[0]} rows like values, got {keys.size}")
    largest = int(keys.max()) if keys.size else -1
    groups = largest + 1 if n_groups is None else n_groups
    if groups < 0 or largest >= groups:
        raise DataError(f"codes: expected codes below n_groups={groups}, got {largest}")
    codes_array = stat_codes(stats)
    out = np.empty((groups, matrix.shape[1] * codes_array.size))
    if out.size:
        _group_core(matrix, keys, groups, codes_array, out)
    return out


def group_join(table: npt.ArrayLike, codes: npt.ArrayLike) -> FloatArray:
    """Row i gets ``table[codes[i]]``; a code outside ``[0, n_groups)`` (unseen, missing) → NaN.

    >>> group_join(np.array([[1.0], [2.0]]), [1, -1, 0, 7]).tolist()
    [[2.0], [nan], [1.0], [nan]]
    """
    matrix, _ = as_matrix(table, "table")
    keys = as_codes(codes)
    out = np.empty((keys.size, matrix.shape[1]))
    if out.size:
        _join_core(matrix, keys, out)
    return out


def group_agg(
    values: npt.ArrayLike,
    codes: npt.ArrayLike,
    stats: Sequence[str] = ("count", "mean", "std", "min", "max"),
    *,
    n_groups: int | None = None,
) -> FloatArray:
    """Statistics of each row's key over all rows, joined back per row: (n, k·stats).

    >>> group_agg([1.0, 3.0, 5.0], [0, 0, 1], ["mean"]).tolist()
    [[2.0], [2.0], [5.0]]
    """
    return group_join(group_stats(values, codes, stats, n_groups=n_groups), codes)
