"""Rolling window statistics per group: several windows × statistics × columns in one pass.

Every window ends at (and includes) the current row: a feature at time t may use the reading at
t, never a later one. NaN values are skipped (``count`` counts the rest); a window with no value
gives NaN for every statistic but ``count`` (0). ±inf are values: ``min``/``max`` see them, a sum
or mean with +inf is +inf (-inf likewise, both → NaN) and ``std``/``var`` are NaN, as NumPy's
``nan*`` functions give on the window. ``std``/``var`` use ddof=1 (NaN under two values), like
Polars' ``rolling_std``.

Output column order: input column, then window, then statistic — column
``(c * n_windows + w) * n_stats + s`` — and :func:`rolling_names` lists the names in that order.
The output is Fortran-ordered (each feature contiguous): the kernel writes each feature as a
stream, and ``pl.from_numpy`` takes it without a transposing copy (0.005 s instead of ~1 s for
5M rows × 16 features).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edgeml.errors import DataError
from edgeml.kernels._rolling_core import rolling_core
from edgeml.kernels._stats import stat_codes
from edgeml.kernels._validate import (
    as_matrix,
    as_times,
    check_offsets,
    check_sorted_times,
    positive_ints,
)

__all__ = ["rolling", "rolling_names", "rolling_rows", "rolling_span"]

FloatArray = npt.NDArray[np.float64]


def rolling_rows(
    values: npt.ArrayLike,
    offsets: npt.ArrayLike,
    windows: Sequence[int] | npt.ArrayLike,
    stats: Sequence[str] = ("mean", "std", "min", "max"),
) -> FloatArray:
    """Stats over the last N rows of each group: rows ``max(start, i-N+1)..i``, NaN skipped.

    ``values`` is (n,) or (n, k), sorted by (entity, time); returns (n, k·windows·stats).

    >>> rolling_rows([1.0, 2.0, np.nan, 4.0], [0, 4], [2], ["mean", "count"]).tolist()
    [[1.0, 1.0], [1.5, 2.0], [2.0, 1.0], [4.0, 1.0]]
    """
    matrix, _ = as_matrix(values)
    bounds = check_offsets(offsets, matrix.shape[0])
    widths = positive_ints(windows, "windows")
    return _run(matrix, np.empty(0, dtype=np.int64), bounds, widths, False, stats)


def rolling_span(
    values: npt.ArrayLike,
    times: npt.ArrayLike,
    offsets: npt.ArrayLike,
    spans: Sequence[int] | npt.ArrayLike,
    stats: Sequence[str] = ("mean", "std", "min", "max"),
) -> FloatArray:
    """Stats over a time span: rows j <= i of the group with ``times[j] > times[i] - span``.

    Times are int64 ns (or datetime64), non-decreasing within each group; spans are ns. The
    window is (t - span, t] but also ends at row i, so a later row with an equal timestamp is
    not seen (as a stream would not see it yet). Returns (n, k·spans·stats).

    >>> rolling_span([1.0, 2.0, 4.0], [0, 5, 20], [0, 3], [10], ["sum"]).tolist()
    [[1.0], [3.0], [4.0]]
    """
    matrix, _ = as_matrix(values)
    bounds = check_offsets(offsets, matrix.shape[0])
    clock = as_times(times)
    if clock.size != matrix.shape[0]:
        raise DataError(f"times: expected {matrix.shape[0]} rows like values, got {clock.size}")
    check_sorted_times(clock, bounds)
    widths = positive_ints(spans, "spans")
    return _run(matrix, clock, bounds, widths, True, stats)


def rolling(
    values: npt.ArrayLike,
    offsets: npt.ArrayLike,
    window: int,
    stat: str = "mean",
    *,
    times: npt.ArrayLike | None = None,
) -> FloatArray:
    """One statistic over one window, shaped like ``values``; ``window`` is a span in ns if
    ``times`` is given, else a row count (see :func:`rolling_rows`, :func:`rolling_span`).

    >>> rolling([3.0, 1.0, 2.0], [0, 3], 2, "max").tolist()
    [3.0, 3.0, 2.0]
    """
    matrix, was_vector = as_matrix(values)
    if times is None:
        result = rolling_rows(matrix, offsets, [window], [stat])
    else:
        result = rolling_span(matrix, times, offsets, [window], [stat])
    return result[:, 0] if was_vector else result


def rolling_names(
    columns: Sequence[str], windows: Sequence[object], stats: Sequence[str]
) -> list[str]:
    """Output column names ``{column}_{stat}_{window}`` in the fused kernels' column order.

    >>> rolling_names(["x"], ["5", "1h"], ["mean", "max"])
    ['x_mean_5', 'x_max_5', 'x_mean_1h', 'x_max_1h']
    """
    return [f"{col}_{stat}_{win}" for col in columns for win in windows for stat in stats]


def _run(
    matrix: FloatArray,
    clock: npt.NDArray[np.int64],
    bounds: npt.NDArray[np.int64],
    widths: npt.NDArray[np.int64],
    by_time: bool,
    stats: Sequence[str],
) -> FloatArray:
    codes = stat_codes(stats)
    out = np.empty((matrix.shape[0], matrix.shape[1] * widths.size * codes.size), order="F")
    if out.size:
        rolling_core(matrix, clock, bounds, widths, by_time, codes, out)
    return out
