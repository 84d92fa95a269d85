"""Exponentially weighted mean per group, over rows sorted by (entity, time)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from edgeml.errors import DataError
from edgeml.kernels._validate import as_matrix, check_offsets

__all__ = ["ewm_alpha", "ewm_mean"]

FloatArray = npt.NDArray[np.float64]


@njit(cache=True, nogil=True, parallel=True)
def _ewm_core(values, offsets, alpha, out):
    keep = 1.0 - alpha
    for g in prange(offsets.size - 1):
        for c in range(values.shape[1]):
            state = np.nan
            seen = False
            for i in range(offsets[g], offsets[g + 1]):
                v = values[i, c]
                if not np.isnan(v):
                    if not seen or keep == 0.0:  # keep == 0: avoid 0 * inf = NaN from the past
                        state = v
                        seen = True
                    else:
                        state = alpha * v + keep * state
                out[i, c] = state


def ewm_alpha(*, alpha: float | None = None, halflife: float | None = None) -> float:
    """The smoothing factor from exactly one of ``alpha`` (0 < α ≤ 1) or ``halflife`` (rows).

    >>> ewm_alpha(halflife=1.0)
    0.5
    """
    if alpha is not None and halflife is None:
        if not math.isfinite(alpha) or not 0.0 < alpha <= 1.0:
            raise DataError(f"alpha: expected 0 < alpha <= 1, got {alpha!r}")
        return float(alpha)
    if halflife is not None and alpha is None:
        if not math.isfinite(halflife) or halflife <= 0:
            raise DataError(f"halflife: expected a positive number of rows, got {halflife!r}")
        return 1.0 - math.exp(-math.log(2.0) / halflife)
    raise DataError("ewm: give exactly one of alpha or halflife")


def ewm_mean(
    values: npt.ArrayLike,
    offsets: npt.ArrayLike,
    *,
    alpha: float | None = None,
    halflife: float | None = None,
) -> FloatArray:
    """``s = α·x + (1-α)·s`` from the group's first non-NaN value; NaN keeps and outputs ``s``.

    Not bias-adjusted (Polars ``adjust=False``), so a stream needs only the last state. NaN
    before the first value; ±inf enter the state by IEEE rules (opposite infinities → NaN, kept).

    >>> ewm_mean([2.0, np.nan, 4.0, 1.0], [0, 3, 4], alpha=0.5).tolist()
    [2.0, 2.0, 3.0, 1.0]
    """
    smoothing = ewm_alpha(alpha=alpha, halflife=halflife)
    matrix, was_vector = as_matrix(values)
    bounds = check_offsets(offsets, matrix.shape[0])
    out = np.empty_like(matrix)
    if out.size:
        _ewm_core(matrix, bounds, smoothing, out)
    return out[:, 0] if was_vector else out
