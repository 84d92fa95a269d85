"""Input checks shared by the typed wrappers: shapes, dtypes, group offsets.

The njit cores trust their inputs (an out-of-range index there is memory corruption, not an
exception), so every public wrapper passes its arrays through these first and raises
:class:`~edgeml.errors.DataError` naming the argument and what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edgeml.errors import DataError

__all__ = [
    "as_codes",
    "as_matrix",
    "as_times",
    "as_vector",
    "check_offsets",
    "check_sorted_times",
    "positive_ints",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def as_matrix(values: npt.ArrayLike, name: str = "values") -> tuple[FloatArray, bool]:
    """``values`` as a C-contiguous float64 (n, k) matrix, and whether it was 1-D."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim == 1:
        return np.ascontiguousarray(array, dtype=np.float64).reshape(-1, 1), True
    if array.ndim == 2:
        return np.ascontiguousarray(array, dtype=np.float64), False
    raise DataError(f"{name}: expected a 1-D or 2-D array, got {array.ndim} dimensions")


def as_vector(values: npt.ArrayLike, name: str = "values") -> FloatArray:
    """``values`` as a contiguous 1-D float64 array."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array, got {array.ndim} dimensions")
    return np.ascontiguousarray(array, dtype=np.float64)


def as_codes(codes: npt.ArrayLike, name: str = "codes") -> IntArray:
    """Integer codes as a contiguous 1-D int64 array (floats must hold whole numbers)."""
    array = np.asarray(codes)
    if array.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array, got {array.ndim} dimensions")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise DataError(f"{name}: expected integer codes, got non-integer floats")
    elif array.dtype.kind not in "biu":
        raise DataError(f"{name}: expected integer codes, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.int64)


def as_times(times: npt.ArrayLike, name: str = "times") -> IntArray:
    """Timestamps as int64 nanoseconds: int arrays as given, datetime64 converted to ns."""
    array = np.asarray(times)
    if array.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array, got {array.ndim} dimensions")
    if array.dtype.kind == "M":
        if np.isnat(array).any():
            raise DataError(f"{name}: missing timestamps (NaT) are not allowed")
        return np.ascontiguousarray(array.astype("datetime64[ns]").view(np.int64))
    if array.dtype.kind not in "iu":
        raise DataError(f"{name}: expected int64 nanoseconds or datetime64, got {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.int64)


def check_offsets(offsets: npt.ArrayLike, n_rows: int) -> IntArray:
    """Validate CSR group boundaries: 1-D, starts at 0, ends at ``n_rows``, non-decreasing."""
    array = np.asarray(offsets)
    if array.ndim != 1 or array.size < 1 or array.dtype.kind not in "iu":
        raise DataError("offsets: expected a 1-D integer array of length n_groups + 1")
    result = np.ascontiguousarray(array, dtype=np.int64)
    if result[0] != 0 or result[-1] != n_rows:
        raise DataError(
            f"offsets: expected to start at 0 and end at the row count {n_rows}, "
            f"got {result[0]} … {result[-1]}"
        )
    if np.any(np.diff(result) < 0):
        raise DataError("offsets: group boundaries must be non-decreasing")
    return result


def check_sorted_times(times: IntArray, offsets: IntArray) -> None:
    """Raise unless ``times`` is non-decreasing inside every group."""
    if times.size < 2:
        return
    steps = np.diff(times) < 0
    # A step across a group boundary may go backwards: each group starts its own clock.
    steps[offsets[1:-1][(offsets[1:-1] > 0) & (offsets[1:-1] < times.size)] - 1] = False
    if steps.any():
        row = int(np.flatnonzero(steps)[0]) + 1
        raise DataError(
            f"times: row {row} is earlier than the row before it in the same group; "
            "sort rows by (entity, time) first (see sort_groups)"
        )


def positive_ints(values: Sequence[int] | npt.ArrayLike, name: str) -> IntArray:
    """A non-empty 1-D int64 array of strictly positive integers (window lengths, spans)."""
    array = np.atleast_1d(np.asarray(values))
    if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iu":
        raise DataError(f"{name}: expected one or more positive integers, got {values!r}")
    result = np.ascontiguousarray(array, dtype=np.int64)
    if np.any(result <= 0):
        raise DataError(f"{name}: expected positive integers, got {result.tolist()}")
    return result
