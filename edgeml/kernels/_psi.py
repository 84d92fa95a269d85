"""Population stability index between a reference sample and a new one, on fixed bins."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edgeml.errors import DataError
from edgeml.kernels._binning import bin_index
from edgeml.kernels._validate import as_vector

__all__ = ["PSI_EPSILON", "bin_counts", "psi", "psi_from_counts"]

#: Proportion given to an empty bin so the logarithm stays finite.
PSI_EPSILON = 1e-4


def bin_counts(values: npt.ArrayLike, edges: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Counts per bin: ``len(edges) + 1`` value bins, then one last bin for NaN.

    >>> bin_counts([0.0, 5.0, 6.0, np.nan], [1.0]).tolist()
    [1, 2, 1]
    """
    cuts = as_vector(edges, "edges")
    bins = bin_index(values, cuts)
    bins[bins < 0] = cuts.size + 1  # NaN is a bucket of its own: missingness can drift too
    return np.bincount(bins, minlength=cuts.size + 2).astype(np.int64)


def psi_from_counts(
    expected: npt.ArrayLike, actual: npt.ArrayLike, epsilon: float = PSI_EPSILON
) -> float:
    """``Σ (a - e)·ln(a / e)`` over bin proportions, an empty bin counted as ``epsilon``.

    NaN if either sample is empty. Counts as stored in a monitoring baseline.

    >>> round(psi_from_counts([50, 50], [90, 10]), 6)
    0.87889
    """
    e = as_vector(expected, "expected")
    a = as_vector(actual, "actual")
    if e.size != a.size:
        raise DataError(f"actual: expected {e.size} bins like expected, got {a.size}")
    if np.any(e < 0) or np.any(a < 0) or not (np.all(np.isfinite(e)) and np.all(np.isfinite(a))):
        raise DataError("counts: expected finite, non-negative bin counts")
    if not 0.0 < epsilon < 1.0:
        raise DataError(f"epsilon: expected 0 < epsilon < 1, got {epsilon!r}")
    if e.sum() == 0 or a.sum() == 0:
        return float("nan")
    p = np.where(e > 0, e / e.sum(), epsilon)
    q = np.where(a > 0, a / a.sum(), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


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
