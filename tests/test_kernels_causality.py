"""No leakage: a row's per-entity features never depend on later rows of its entity.

Cutting every group short (dropping its last rows, even rows that share the last kept row's
timestamp) must leave the features of the kept rows unchanged, bit for bit.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from edgeml.kernels import (
    STATISTICS,
    diff,
    ewm_mean,
    lag,
    rolling_rows,
    rolling_span,
    time_since_previous,
)
from tests.kernels_reference import SETTINGS, grouped


def every_feature(values: np.ndarray, times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return np.column_stack(
        [
            rolling_rows(values, offsets, [1, 3, 50], STATISTICS),
            rolling_span(values, times, offsets, [1, 4, 1000], STATISTICS),
            lag(values, offsets, 2),
            diff(values, offsets, 1),
            ewm_mean(values, offsets, alpha=0.3),
            time_since_previous(times, offsets),
        ]
    )


@SETTINGS
@given(grouped(n_cols=2), st.data())
def test_dropping_later_rows_changes_no_earlier_feature(data, draw) -> None:
    values, times, offsets = data
    keep = np.zeros(values.shape[0], dtype=bool)
    kept_offsets = [0]
    for g in range(offsets.size - 1):
        size = int(offsets[g + 1] - offsets[g])
        cut = draw.draw(st.integers(0, size))
        keep[offsets[g] : offsets[g] + cut] = True
        kept_offsets.append(kept_offsets[-1] + cut)
    full = every_feature(values, times, offsets)
    short = every_feature(values[keep], times[keep], np.array(kept_offsets))
    np.testing.assert_array_equal(short, full[keep])
