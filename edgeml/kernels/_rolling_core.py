"""The njit core of the fused rolling pass: a two-stack sliding-window aggregate per group.

Why two stacks and not running sums with add/remove: subtracting a value that leaves the
window loses precision (values near 1e9 with unit noise lose every digit of the variance) and an
infinity that leaves turns the sum into NaN for good. Here nothing is ever subtracted. The
window ``[lo, i]`` is split into a *front* ``[lo, mid)`` held as suffix aggregates and a *back*
``[mid, i]`` held as one running aggregate; when ``lo`` passes ``mid`` the front is rebuilt from
``[lo, i]``. Every row is added to the back once and to a rebuilt front at most once, so the pass
is O(rows) per window. Aggregates are (count, mean, M2) merged by Welford / Chan et al., plus a
plain sum, counts of +inf and -inf (kept out of the moments), min and max. Moments are taken
about a shift set to a value of the window at each rebuild, so values near 1e9 with unit noise
are handled as numbers near 1 (the subtraction of two close floats is exact).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from edgeml.kernels._stats import emit_stats

__all__ = ["rolling_core"]


@njit(cache=True, nogil=True, parallel=True)
def rolling_core(values, times, offsets, windows, by_time, stats, out):
    """Fill ``out[:, (c * n_windows + w) * n_stats + s]`` for every column c, window w, stat s.

    ``by_time`` False: window w of row i is rows ``max(start, i - windows[w] + 1) .. i``.
    ``by_time`` True: rows j <= i of the same group with ``times[j] > times[i] - windows[w]``.
    """
    n_cols = values.shape[1]
    n_windows = windows.size
    n_stats = stats.size
    for g in prange(offsets.size - 1):
        start = offsets[g]
        m = offsets[g + 1] - start
        if m == 0:
            continue
        x = np.empty(m)
        # Suffix aggregates of the front stack, indexed by row within the group.
        f_n = np.empty(m)
        f_mean = np.empty(m)
        f_m2 = np.empty(m)
        f_sum = np.empty(m)
        f_pos = np.empty(m, dtype=np.int64)
        f_neg = np.empty(m, dtype=np.int64)
        f_min = np.empty(m)
        f_max = np.empty(m)
        for c in range(n_cols):
            for r in range(m):
                x[r] = values[start + r, c]
            for w in range(n_windows):
                width = windows[w]
                base = (c * n_windows + w) * n_stats
                lo = 0
                mid = 0
                b_n = 0.0
                b_mean = 0.0
                b_m2 = 0.0
                b_sum = 0.0
                b_pos = 0
                b_neg = 0
                b_min = np.inf
                b_max = -np.inf
                # Moments are kept about a shift near the window's values (exact subtraction,
                # small magnitudes), re-chosen at every rebuild, when the back is empty.
                shift = 0.0
                for r in range(m):
                    if np.isfinite(x[r]):
                        shift = x[r]
                        break
                for i in range(m):
                    v = x[i]
                    if not np.isnan(v):
                        if v == np.inf:
                            b_pos += 1
                        elif v == -np.inf:
                            b_neg += 1
                        else:
                            b_n += 1.0
                            delta = (v - shift) - b_mean
                            b_mean += delta / b_n
                            b_m2 += delta * ((v - shift) - b_mean)
                            b_sum += v
                        b_min = min(b_min, v)
                        b_max = max(b_max, v)
                    if by_time:
                        limit = times[start + i] - width
                        while times[start + lo] <= limit:
                            lo += 1
                    else:
                        lo = max(0, i - width + 1)
                    if lo > mid:
                        # Rebuild the front from [lo, i]; the back starts empty after row i.
                        if np.isfinite(v):
                            shift = v
                        a_n = 0.0
                        a_mean = 0.0
                        a_m2 = 0.0
                        a_sum = 0.0
                        a_pos = 0
                        a_neg = 0
                        a_min = np.inf
                        a_max = -np.inf
                        for j in range(i, lo - 1, -1):
                            u = x[j]
                            if not np.isnan(u):
                                if u == np.inf:
                                    a_pos += 1
                                elif u == -np.inf:
                                    a_neg += 1
                                else:
                                    a_n += 1.0
                                    delta = (u - shift) - a_mean
                                    a_mean += delta / a_n
                                    a_m2 += delta * ((u - shift) - a_mean)
                                    a_sum += u
                                a_min = min(a_min, u)
                                a_max = max(a_max, u)
                            f_n[j] = a_n
                            f_mean[j] = a_mean
                            f_m2[j] = a_m2
                            f_sum[j] = a_sum
                            f_pos[j] = a_pos
                            f_neg[j] = a_neg
                            f_min[j] = a_min
                            f_max[j] = a_max
                        mid = i + 1
                        b_n = 0.0
                        b_mean = 0.0
                        b_m2 = 0.0
                        b_sum = 0.0
                        b_pos = 0
                        b_neg = 0
                        b_min = np.inf
                        b_max = -np.inf
                    if lo < mid and f_n[lo] + f_pos[lo] + f_neg[lo] > 0:
                        n_a = f_n[lo]
                        if b_n == 0.0:
                            n = n_a
                            mean = f_mean[lo]
                            m2 = f_m2[lo]
                        elif n_a == 0.0:
                            n = b_n
                            mean = b_mean
                            m2 = b_m2
                        else:  # Chan et al.: merge two (count, mean, M2) without subtraction
                            n = n_a + b_n
                            delta = b_mean - f_mean[lo]
                            mean = f_mean[lo] + delta * (b_n / n)
                            m2 = f_m2[lo] + b_m2 + delta * delta * (n_a * b_n / n)
                        emit_stats(
                            out,
                            start + i,
                            base,
                            stats,
                            n,
                            shift + mean,
                            m2,
                            f_sum[lo] + b_sum,
                            f_pos[lo] + b_pos,
                            f_neg[lo] + b_neg,
                            min(f_min[lo], b_min),
                            max(f_max[lo], b_max),
                        )
                    else:
                        emit_stats(
                            out,
                            start + i,
                            base,
                            stats,
                            b_n,
                            shift + b_mean,
                            b_m2,
                            b_sum,
                            b_pos,
                            b_neg,
                            b_min,
                            b_max,
                        )
