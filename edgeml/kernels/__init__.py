"""Numba kernels for feature extraction, creation and selection: NumPy arrays in and out.

Per-entity kernels take rows sorted by (entity, time) and CSR ``offsets`` (length
``n_groups + 1``; group g is rows ``offsets[g]:offsets[g + 1]``); :func:`sort_groups` sorts any
input and :func:`restore_order` maps results back. Each public function validates its inputs
(raising :class:`~edgeml.errors.DataError`) and calls an ``@njit(cache=True, nogil=True)`` core.

>>> import numpy as np
>>> order, offsets = sort_groups([1, 0, 1, 0], [0, 0, 1, 1])
>>> x = np.array([10.0, 1.0, 20.0, 3.0])
>>> restore_order(rolling_rows(x[order], offsets, [2], ["mean"]), order).ravel().tolist()
[10.0, 1.0, 15.0, 2.0]
"""

from edgeml.kernels._binning import MISSING_BIN, bin_index, quantile_edges
from edgeml.kernels._correlation import pearson, rank_columns, spearman
from edgeml.kernels._created import (
    OPERATIONS,
    create_features,
    created_names,
    pair_indices,
    pairwise,
)
from edgeml.kernels._ewm import ewm_alpha, ewm_mean
from edgeml.kernels._group_agg import group_agg, group_join, group_stats
from edgeml.kernels._groups import SortedGroups, offsets_from_sorted, restore_order, sort_groups
from edgeml.kernels._lags import diff, lag, time_since_previous
from edgeml.kernels._mutual_info import mutual_information, mutual_information_binned
from edgeml.kernels._psi import PSI_EPSILON, bin_counts, psi, psi_from_counts
from edgeml.kernels._rolling import rolling, rolling_names, rolling_rows, rolling_span
from edgeml.kernels._stats import STATISTICS

__all__ = [
    "MISSING_BIN",
    "OPERATIONS",
    "PSI_EPSILON",
    "STATISTICS",
    "SortedGroups",
    "bin_counts",
    "bin_index",
    "create_features",
    "created_names",
    "diff",
    "ewm_alpha",
    "ewm_mean",
    "group_agg",
    "group_join",
    "group_stats",
    "lag",
    "mutual_information",
    "mutual_information_binned",
    "offsets_from_sorted",
    "pair_indices",
    "pairwise",
    "pearson",
    "psi",
    "psi_from_counts",
    "quantile_edges",
    "rank_columns",
    "restore_order",
    "rolling",
    "rolling_names",
    "rolling_rows",
    "rolling_span",
    "sort_groups",
    "spearman",
    "time_since_previous",
]
