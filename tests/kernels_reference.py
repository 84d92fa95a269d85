"""Plain NumPy references and hypothesis strategies shared by the tests/test_kernels_*.py files.

The references are written the slow, obvious way (one window at a time) so that they state the
documented semantics directly; the kernels must agree with them within 1e-9.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# The no-JIT run (test_kernels_nojit.py) lowers this: pure-Python kernels are ~1000× slower.
EXAMPLES = int(os.environ.get("EDGEML_KERNEL_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the first example of a session includes JIT compilation
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RTOL = 1e-9

FloatArray = npt.NDArray[np.float64]

# Values in quarter steps keep sums exact enough that rounding never decides a comparison,
# mixed with the special values every kernel must handle.
NICE = st.integers(-400, 400).map(lambda v: v / 4.0)
SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf])
FINITE_OR_NAN = st.one_of(NICE, NICE, NICE, st.just(np.nan))
ANY_VALUE = st.one_of(NICE, NICE, NICE, SPECIAL)


@st.composite
def grouped(
    draw: st.DrawFn,
    values: st.SearchStrategy[float] = ANY_VALUE,
    max_groups: int = 5,
    max_size: int = 12,
    strict_times: bool = False,
    n_cols: int = 1,
) -> tuple[FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(values (n, n_cols), times, offsets) sorted by (group, time); groups may be empty."""
    sizes = draw(st.lists(st.integers(0, max_size), min_size=0, max_size=max_groups))
    offsets = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))).astype(np.int64)
    n = int(offsets[-1])
    flat = draw(st.lists(values, min_size=n * n_cols, max_size=n * n_cols))
    matrix = np.array(flat, dtype=np.float64).reshape(n, n_cols)
    low = 1 if strict_times else 0
    steps = draw(st.lists(st.integers(low, 6), min_size=n, max_size=n))
    times = np.empty(n, dtype=np.int64)
    for g, size in enumerate(sizes):
        start = int(offsets[g])
        times[start : start + size] = 1_000 + np.cumsum(steps[start : start + size])
    return matrix, times, offsets


def window_stat(window: FloatArray, stat: str) -> float:
    """A statistic of one window's values, by the documented rules (NumPy ``nan*`` semantics)."""
    vals = window[~np.isnan(window)]
    if stat == "count":
        return float(vals.size)
    if vals.size == 0:
        return np.nan
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if stat == "sum":
            return float(np.sum(vals))
        if stat == "mean":
            return float(vals.mean())
        if stat in ("std", "var"):
            if vals.size < 2 or np.isinf(vals).any():
                return np.nan
            var = float(np.var(vals, ddof=1))
            return var if stat == "var" else float(np.sqrt(var))
        if stat == "min":
            return float(vals.min())
        if stat == "max":
            return float(vals.max())
    raise ValueError(stat)


def brute_rolling(
    values: FloatArray,
    times: npt.NDArray[np.int64] | None,
    offsets: npt.NDArray[np.int64],
    width: int,
    stat: str,
) -> FloatArray:
    """One column: rows-window if ``times`` is None, else the causal (t - width, t] window."""
    out = np.empty(values.size)
    for g in range(offsets.size - 1):
        start, stop = int(offsets[g]), int(offsets[g + 1])
        for i in range(start, stop):
            if times is None:
                lo = max(start, i - width + 1)
            else:
                lo = start
                while times[lo] <= times[i] - width:
                    lo += 1
            out[i] = window_stat(values[lo : i + 1], stat)
    return out


def assert_close(actual: FloatArray, expected: FloatArray, rtol: float = RTOL) -> None:
    """Equal within ``rtol`` (relative, plus the same absolute floor), NaN where NaN, inf alike."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol, equal_nan=True)


def group_codes(offsets: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The group number of each row, from CSR offsets."""
    return np.repeat(np.arange(offsets.size - 1), np.diff(offsets)).astype(np.int64)
