"""Population stability index between a reference sample and a new one, on fixed bins: the
bins counted by the Numba binning kernel, the PSI by
:func:`edgeml.metrics.drift.psi_from_counts`."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edgeml.kernels._binning import bin_index
from edgeml.kernels._validate import as_vector
from edgeml.metrics.drift import PSI_EPSILON, psi_from_counts

__all__ = ["PSI_EPSILON", "bin_counts", "psi", "psi_from_counts"]

# The PSI formula and its epsilon live in edgeml.metrics.drift (NumPy only, so the server can use it
# without Numba): one implementation for monitoring and for these kernels.


def bin_counts(values: npt.ArrayLike, edges: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Counts per bin: ``len(edges) + 1`` value bins, then one last bin for NaN.

    >>> bin_counts([0.0, 5.0, 6.0, np.nan], [1.0]).tolist()
    [1, 2, 1]
    """
    cuts = as_vector(edges, "edges")
    bins = bin_index(values, cuts)
    bins[bins < 0] = cuts.size + 1  # NaN is a bucket of its own: missingness can drift too
    return np.bincount(bins, minlength=cuts.size + 2).astype(np.int64)


def psi(
    expected: npt.ArrayLike,
    actual: npt.ArrayLike,
    edges: npt.ArrayLike,
    epsilon: float = PSI_EPSILON,
) -> float:
    """PSI of ``actual`` against ``expected`` on ``edges`` (NaN its own bin, empty bins ε).

    >>> psi([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [2.5])
    0.0
    """
    return psi_from_counts(bin_counts(expected, edges), bin_counts(actual, edges), epsilon)
