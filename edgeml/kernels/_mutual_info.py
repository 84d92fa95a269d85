"""Mutual information of each feature with the target, from histograms on quantile bins.

Each feature is binned by its own :func:`quantile_edges` (NaN is a bin of its own, so
missingness that predicts the target counts); the target is used as classes (classification)
or binned by quantiles (regression). Rows with a NaN target are dropped. MI is in nats, the
plug-in estimate ``Σ p(a,b)·ln(p(a,b) / (p(a)·p(b)))``; no rows gives 0.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from edgeml.errors import DataError
from edgeml.kernels._binning import bin_core, quantile_edges
from edgeml.kernels._validate import as_matrix, as_vector

__all__ = ["mutual_information", "mutual_information_binned"]


@njit(cache=True, nogil=True, parallel=True)
def _mi_core(bins, n_bins, target, n_classes, out):
    n = bins.shape[0]
    for c in prange(bins.shape[1]):
        width = n_bins[c]
        table = np.zeros((width, n_classes))
        for i in range(n):
            table[bins[i, c], target[i]] += 1.0
        rows = table.sum(axis=1)
        cols = table.sum(axis=0)
        total = 0.0
        for a in range(width):
            for b in range(n_classes):
                joint = table[a, b]
                if joint > 0.0:
                    total += joint / n * np.log(joint * n / (rows[a] * cols[b]))
        out[c] = max(total, 0.0)  # rounding can leave -1e-17 for independent columns


def mutual_information_binned(
    bins: npt.ArrayLike, target_codes: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """MI (nats) of each column of non-negative int ``bins`` (n, k) with int ``target_codes``.

    >>> mutual_information_binned(np.array([[0], [0], [1], [1]]), [0, 0, 1, 1]).round(4).tolist()
    [0.6931]
    """
    matrix = np.asarray(bins)
    codes = np.asarray(target_codes)
    if matrix.ndim == 1:
        matrix = matrix.reshape(-1, 1)
    if matrix.ndim != 2 or matrix.dtype.kind not in "iu" or codes.dtype.kind not in "iu":
        raise DataError("bins, target_codes: expected integer bin codes, (n, k) and (n,)")
    if codes.ndim != 1 or codes.size != matrix.shape[0]:
        raise DataError(f"target_codes: expected {matrix.shape[0]} rows, got shape {codes.shape}")
    if (matrix.size and matrix.min() < 0) or (codes.size and codes.min() < 0):
        raise DataError("bins, target_codes: expected non-negative codes")
    out = np.zeros(matrix.shape[1])
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        return out
    n_bins = (matrix.max(axis=0) + 1).astype(np.int64)
    _mi_core(
        np.ascontiguousarray(matrix, dtype=np.int64),
        n_bins,
        np.ascontiguousarray(codes, dtype=np.int64),
        int(codes.max()) + 1,
        out,
    )
    return out


def mutual_information(
    values: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    task: Literal["classification", "regression"] = "classification",
    n_bins: int = 16,
) -> npt.NDArray[np.float64]:
    """MI (nats) of each column of ``values`` (n, k) with ``target`` on ``n_bins`` quantile bins.

    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> mutual_information(x, [0, 0, 1, 1], n_bins=2).round(4).tolist()
    [0.6931]
    """
    if task not in ("classification", "regression"):
        raise DataError(f"task: expected classification or regression, got {task!r}")
    matrix, _ = as_matrix(values)
    y = as_vector(target, "target")
    if y.size != matrix.shape[0]:
        raise DataError(f"target: expected {matrix.shape[0]} rows like values, got {y.size}")
    keep = ~np.isnan(y)
    matrix, y = matrix[keep], y[keep]
    if task == "classification":
        if np.isinf(y).any():
            raise DataError("target: classification labels cannot be infinite")
        codes = np.unique(y, return_inverse=True)[1].astype(np.int64)
    else:
        codes = np.empty(y.size, dtype=np.int64)
        if y.size:
            bin_core(y, quantile_edges(y, n_bins), codes)
    bins = np.empty(matrix.shape, dtype=np.int64)
    column = np.empty(matrix.shape[0], dtype=np.int64)
    for c in range(matrix.shape[1]):
        if column.size:
            bin_core(
                np.ascontiguousarray(matrix[:, c]), quantile_edges(matrix[:, c], n_bins), column
            )
        # Shift so NaN's -1 becomes bin 0 and real bins start at 1.
        bins[:, c] = column + 1
    return mutual_information_binned(bins, codes)
