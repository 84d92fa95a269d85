"""Per-group lag, difference and time since the previous row, over rows sorted by (entity, time).

A row with fewer than k earlier rows in its group gets NaN; NaN values pass through (a lag of a
NaN reading is NaN, a difference with a NaN side is NaN) and ±inf follow IEEE arithmetic.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from edgeml.errors import DataError
from edgeml.kernels._validate import as_matrix, as_times, check_offsets, check_sorted_times

__all__ = ["diff", "lag", "time_since_previous"]

FloatArray = npt.NDArray[np.float64]


@njit(cache=True, nogil=True, parallel=True)
def _shift_core(values, offsets, k, subtract, out):
    for g in prange(offsets.size - 1):
        start = offsets[g]
        stop = offsets[g + 1]
        for i in range(start, stop):
            for c in range(values.shape[1]):
                if i - k < start:
                    out[i, c] = np.nan
                elif subtract:
                    out[i, c] = values[i, c] - values[i - k, c]
                else:
                    out[i, c] = values[i - k, c]


@njit(cache=True, nogil=True, parallel=True)
def _gap_core(times, offsets, out):
    for g in prange(offsets.size - 1):
        start = offsets[g]
        for i in range(start, offsets[g + 1]):
            out[i] = np.nan if i == start else float(times[i] - times[i - 1])


def _shift(values: npt.ArrayLike, offsets: npt.ArrayLike, k: int, subtract: bool) -> FloatArray:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise DataError(f"k: expected a non-negative whole number of rows, got {k!r}")
    matrix, was_vector = as_matrix(values)
    bounds = check_offsets(offsets, matrix.shape[0])
    out = np.empty_like(matrix)
    if out.size:
        _shift_core(matrix, bounds, int(k), subtract, out)
    return out[:, 0] if was_vector else out


def lag(values: npt.ArrayLike, offsets: npt.ArrayLike, k: int = 1) -> FloatArray:
    """Value k rows earlier in the same group; NaN for a group's first k rows.

    >>> lag([1.0, 2.0, 3.0, 7.0], [0, 3, 4], 1).tolist()
    [nan, 1.0, 2.0, nan]
    """
    return _shift(values, offsets, k, subtract=False)


def diff(values: npt.ArrayLike, offsets: npt.ArrayLike, k: int = 1) -> FloatArray:
    """``x[i] - x[i - k]`` within the group; NaN for a group's first k rows or a NaN side.

    >>> diff([1.0, 2.0, 4.0, 7.0], [0, 3, 4], 1).tolist()
    [nan, 1.0, 2.0, nan]
    """
    return _shift(values, offsets, k, subtract=True)


def time_since_previous(times: npt.ArrayLike, offsets: npt.ArrayLike) -> FloatArray:
    """``t[i] - t[i-1]`` in ns (float64) within the group; NaN for each group's first row.

    >>> time_since_previous([0, 5, 9, 3], [0, 3, 4]).tolist()
    [nan, 5.0, 4.0, nan]
    """
    clock = as_times(times)
    bounds = check_offsets(offsets, clock.size)
    check_sorted_times(clock, bounds)
    out = np.empty(clock.size)
    if out.size:
        _gap_core(clock, bounds, out)
    return out
