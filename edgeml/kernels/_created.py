"""Created features from pairs of columns: products, ratios, differences, degree-2 terms.

Ratios are safe: ``a / b`` is NaN where ``b == 0`` (instead of ±inf, which would make a split on
the feature depend on the sign of a zero); everything else follows IEEE arithmetic (a NaN side
→ NaN, ``inf / inf`` → NaN, ``x / inf`` → 0). Pair orders match :func:`created_names`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations, combinations_with_replacement, permutations
from typing import Literal

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from edgeml.errors import DataError
from edgeml.kernels._validate import as_codes, as_matrix

__all__ = ["OPERATIONS", "create_features", "created_names", "pair_indices", "pairwise"]

FloatArray = npt.NDArray[np.float64]
Kind = Literal["product", "ratio", "difference", "poly2"]

#: Binary operations of :func:`pairwise`, in code order.
OPERATIONS: tuple[str, ...] = ("product", "ratio", "difference", "sum")
_SYMBOLS = {"product": "*", "ratio": "/", "difference": "-", "sum": "+"}
# Each kind of created feature: the operation and which pairs (i, j) of columns it takes.
_KINDS = {
    "product": ("product", combinations),
    "ratio": ("ratio", permutations),
    "difference": ("difference", combinations),
    "poly2": ("product", combinations_with_replacement),
}


@njit(cache=True, nogil=True, parallel=True)
def _pairwise_core(matrix, left, right, op, out):
    for i in prange(matrix.shape[0]):
        for p in range(left.size):
            a = matrix[i, left[p]]
            b = matrix[i, right[p]]
            if op == 0:
                out[i, p] = a * b
            elif op == 1:
                out[i, p] = np.nan if b == 0.0 else a / b
            elif op == 2:
                out[i, p] = a - b
            else:
                out[i, p] = a + b


def pairwise(
    values: npt.ArrayLike, left: npt.ArrayLike, right: npt.ArrayLike, op: str
) -> FloatArray:
    """Column p of the result is ``values[:, left[p]] <op> values[:, right[p]]``.

    >>> pairwise(np.array([[6.0, 0.0, 3.0]]), [0, 0], [1, 2], "ratio").tolist()
    [[nan, 2.0]]
    """
    if op not in OPERATIONS:
        raise DataError(f"op: unknown {op!r}; expected one of {', '.join(OPERATIONS)}")
    matrix, _ = as_matrix(values)
    lhs = as_codes(left, "left")
    rhs = as_codes(right, "right")
    if lhs.size != rhs.size:
        raise DataError(f"left/right: expected equal lengths, got {lhs.size} and {rhs.size}")
    for name, index in (("left", lhs), ("right", rhs)):
        if index.size and (index.min() < 0 or index.max() >= matrix.shape[1]):
            raise DataError(f"{name}: column indices must lie in [0, {matrix.shape[1]})")
    out = np.empty((matrix.shape[0], lhs.size))
    if out.size:
        _pairwise_core(matrix, lhs, rhs, OPERATIONS.index(op), out)
    return out


def pair_indices(n_columns: int, kind: Kind) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(left, right) column indices of ``kind``: i<j (product, difference), i≠j (ratio), i≤j
    (poly2), in itertools order.

    >>> [a.tolist() for a in pair_indices(3, "product")]
    [[0, 0, 1], [1, 2, 2]]
    """
    if kind not in _KINDS:
        raise DataError(f"kind: unknown {kind!r}; expected one of {', '.join(_KINDS)}")
    pairs = list(_KINDS[kind][1](range(n_columns), 2))
    left = np.array([p[0] for p in pairs], dtype=np.int64)
    right = np.array([p[1] for p in pairs], dtype=np.int64)
    return left, right


def create_features(values: npt.ArrayLike, kind: Kind) -> FloatArray:
    """All pairs of ``kind`` over the columns of ``values`` (n, k); names: :func:`created_names`.

    >>> create_features(np.array([[2.0, 3.0]]), "poly2").tolist()
    [[4.0, 6.0, 9.0]]
    """
    matrix, _ = as_matrix(values)
    left, right = pair_indices(matrix.shape[1], kind)
    return pairwise(matrix, left, right, _KINDS[kind][0])


def created_names(columns: Sequence[str], kind: Kind) -> list[str]:
    """Names of :func:`create_features`' columns: ``a*b``, ``a/b``, ``a-b``, ``a^2``.

    >>> created_names(["a", "b"], "poly2")
    ['a^2', 'a*b', 'b^2']
    """
    left, right = pair_indices(len(columns), kind)
    symbol = _SYMBOLS[_KINDS[kind][0]]
    return [
        f"{columns[i]}^2" if i == j else f"{columns[i]}{symbol}{columns[j]}"
        for i, j in zip(left.tolist(), right.tolist(), strict=True)
    ]
