"""Quantile binning: edges learned from training values, then a bin index for any value.

Edges are the interior ``i / n_bins`` quantiles (linear interpolation) of the finite training
values with duplicates dropped, so heavy ties give fewer bins. Bin of x = number of edges <= x:
bin 0 is below the first edge, ±inf fall in the first/last bin, NaN gets -1 (its own bin).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from edgeml.errors import DataError
from edgeml.kernels._validate import as_vector

__all__ = ["MISSING_BIN", "bin_index", "quantile_edges"]

#: Bin index given to NaN.
MISSING_BIN = -1


@njit(cache=True, nogil=True, parallel=True)
def bin_core(values, edges, out):
    """``out[i]`` = number of edges <= values[i] (binary search), -1 for NaN."""
    for i in prange(values.size):
        v = values[i]
        if np.isnan(v):
            out[i] = -1
            continue
        lo = 0
        hi = edges.size
        while lo < hi:  # first edge > v
            mid = (lo + hi) // 2
            if edges[mid] <= v:
                lo = mid + 1
            else:
                hi = mid
        out[i] = lo


def quantile_edges(values: npt.ArrayLike, n_bins: int = 10) -> npt.NDArray[np.float64]:
    """Sorted unique interior edges (at most ``n_bins - 1``) of the finite values; none → empty.

    >>> quantile_edges([1.0, 2.0, 3.0, 4.0, np.nan], 2).tolist()
    [2.5]
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise DataError(f"n_bins: expected a positive whole number, got {n_bins!r}")
    vector = as_vector(values)
    finite = vector[np.isfinite(vector)]
    if finite.size == 0 or n_bins == 1:
        return np.empty(0)
    levels = np.arange(1, n_bins) / n_bins
    return np.unique(np.quantile(finite, levels))


def bin_index(values: npt.ArrayLike, edges: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Bin of each value for ``edges`` from :func:`quantile_edges`: 0..len(edges), NaN → -1.

    >>> bin_index([0.0, 2.5, 9.0, np.nan, -np.inf], [2.5]).tolist()
    [0, 1, 1, -1, 0]
    """
    vector = as_vector(values)
    cuts = as_vector(edges, "edges")
    if not np.all(np.isfinite(cuts)) or np.any(np.diff(cuts) <= 0):
        raise DataError("edges: expected finite, strictly increasing bin edges")
    out = np.empty(vector.size, dtype=np.int64)
    if out.size:
        bin_core(vector, cuts, out)
    return out
