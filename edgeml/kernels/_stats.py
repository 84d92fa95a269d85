"""Names of the window and group statistics, and their integer codes inside the njit cores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from numba import njit

from edgeml.errors import DataError

__all__ = ["STATISTICS", "emit_stats", "stat_codes"]

#: Statistics the rolling and group kernels compute, in code order (code = position).
STATISTICS: tuple[str, ...] = ("count", "sum", "mean", "std", "var", "min", "max")

COUNT, SUM, MEAN, STD, VAR, MIN, MAX = range(len(STATISTICS))


def stat_codes(stats: str | Sequence[str]) -> npt.NDArray[np.int64]:
    """Codes of the named statistics, in the order given; unknown names raise ``DataError``.

    >>> stat_codes(["mean", "max"]).tolist()
    [2, 6]
    """
    names = [stats] if isinstance(stats, str) else list(stats)
    if not names:
        raise DataError(f"stats: expected one or more of {', '.join(STATISTICS)}")
    unknown = [name for name in names if name not in STATISTICS]
    if unknown:
        raise DataError(f"stats: unknown {unknown}; expected some of {', '.join(STATISTICS)}")
    return np.array([STATISTICS.index(name) for name in names], dtype=np.int64)


@njit(cache=True, nogil=True, inline="always")
def emit_stats(out, row, base, stats, n, mean, m2, total, pos, neg, lo_v, hi_v):
    """Write the requested statistics of one window aggregate into ``out[row, base:]``."""
    count = n + pos + neg
    for s in range(stats.size):
        code = stats[s]
        value = np.nan
        if code == COUNT:
            value = count
        elif count == 0:
            value = np.nan
        elif code == MIN:
            value = lo_v
        elif code == MAX:
            value = hi_v
        elif code in (SUM, MEAN):
            if pos > 0 and neg > 0:
                value = np.nan
            elif pos > 0:
                value = np.inf
            elif neg > 0:
                value = -np.inf
            elif code == SUM:
                value = total
            else:
                value = mean
        elif pos == 0 and neg == 0 and n >= 2:  # VAR or STD: undefined with an infinity
            value = m2 / (n - 1.0)
            if code == STD:
                value = np.sqrt(value)
        out[row, base + s] = value
