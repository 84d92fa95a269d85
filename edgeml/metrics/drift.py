"""The population stability index (PSI): the one implementation behind every drift number.

``edgeml monitor``, its HTML report and time series, the server's ``/metrics`` and
``--retrain-if-drift`` all compute PSI here, on baselines this module builds at training time
(``Manifest.monitoring.features``). NumPy and :mod:`edgeml.errors` only: the server and
the Numba kernels import it.

A baseline records how one model feature looked in training, as one of three kinds:

- ``"categories"``: a categorical input (native or frequency encoding): the share of each
  training category, an ``"other"`` bucket (rare categories cut from the vocabulary in training,
  unseen ones live) and the missing share. Live values are the raw values as text, so two
  categories never merge and an unseen one is counted, not lost among missing values.
- ``"values"``: a numeric feature with at most :data:`MAX_VALUES` distinct values (0/1 flags,
  one-hot columns, small counts): one bucket per value, an ``"other"`` bucket for any value
  training never had, and missing.
- ``"quantiles"``: any other numeric feature: :data:`BINS` quantile bins ``[edge, next edge)``
  (the last closed; a live value outside the training range goes to the first or last bin and
  counts as out of range), and missing. A baseline without ``kind`` (bundles written before
  kinds existed) is read as quantiles.

PSI is ``Σ (a - e)·ln(a / e)`` over the bucket shares of live (``a``) and training (``e``)
rows, a share below :data:`PSI_EPSILON` (an empty bucket) counted as that; NaN when either side
has no rows. Missing is always a bucket of its own, so a rise in missing values moves the PSI.

>>> base = numeric_baseline(np.array([0.0] * 84 + [1.0] * 16))
>>> base["kind"], base["values"], base["counts"]
('values', [0.0, 1.0], [84, 16])
>>> round(feature_psi(base, np.ones(200)), 3)
9.129
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from edgeml.errors import BundleError, DataError

__all__ = [
    "BINS",
    "MAX_VALUES",
    "PSI_EPSILON",
    "Buckets",
    "Kind",
    "baseline_kind",
    "buckets",
    "category_baseline",
    "feature_psi",
    "numeric_baseline",
    "psi_from_counts",
    "quantile_baseline",
]

#: Share given to an empty bucket so the logarithm stays finite.
PSI_EPSILON = 1e-4
#: Quantile bins of a numeric baseline: ten resolve a PSI of 0.1 without sparse bins.
BINS = 10
#: A numeric feature with at most this many distinct training values gets one bucket per value.
MAX_VALUES = 10
#: Quantile edges are estimated on at most this many rows; counts use every row.
EDGE_SAMPLE = 10_000

Kind = Literal["quantiles", "values", "categories"]
KINDS: tuple[str, ...] = ("quantiles", "values", "categories")


def psi_from_counts(
    expected: npt.ArrayLike, actual: npt.ArrayLike, epsilon: float = PSI_EPSILON
) -> float:
    """``Σ (a - e)·ln(a / e)`` over bucket shares, a share below ``epsilon`` (an empty bucket)
    counted as ``epsilon``.

    Counts may be fractional (shares work as well). NaN when either side sums to zero.

    >>> round(psi_from_counts([50, 50], [90, 10]), 6)
    0.87889
    >>> psi_from_counts([1, 2], [0, 0])
    nan
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.ndim != 1 or a.ndim != 1:
        raise DataError(f"PSI needs two 1-D count vectors, got shapes {e.shape} and {a.shape}")
    if e.size != a.size:
        raise DataError(f"actual: expected {e.size} bins like expected, got {a.size}")
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(a))) or np.any(e < 0) or np.any(a < 0):
        raise DataError("counts: expected finite, non-negative bin counts")
    if not 0.0 < epsilon < 1.0:
        raise DataError(f"epsilon: expected 0 < epsilon < 1, got {epsilon!r}")
    if e.sum() <= 0 or a.sum() <= 0:
        return math.nan
    # A share below epsilon (an empty bucket, or one of 1e-300) counts as epsilon: the log
    # stays finite and no bucket's PSI term can grow without bound.
    p = np.maximum(e / e.sum(), epsilon)
    q = np.maximum(a / a.sum(), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


# -- baselines (training time) -------------------------------------------------------------------


def numeric_baseline(column: npt.ArrayLike, sample: np.ndarray | None = None) -> dict[str, Any]:
    """A ``values`` baseline for a feature with at most :data:`MAX_VALUES` distinct finite
    values, else a ``quantiles`` one (edges estimated on ``sample`` rows when given).

    >>> numeric_baseline([1.0, 0.0, np.nan, 1.0])
    {'kind': 'values', 'values': [0.0, 1.0], 'counts': [1, 2], 'missing': 0.25}
    """
    x = np.asarray(column, dtype=np.float64).reshape(-1)
    finite = x[np.isfinite(x)]
    distinct = np.unique(finite)
    if 0 < distinct.size <= MAX_VALUES and finite.size == np.count_nonzero(~np.isnan(x)):
        counts = np.bincount(np.searchsorted(distinct, finite), minlength=distinct.size)
        return {
            "kind": "values",
            "values": distinct.tolist(),
            "counts": counts.tolist(),
            "missing": _missing_share(x),
        }
    return quantile_baseline(x, sample)


def quantile_baseline(column: npt.ArrayLike, sample: np.ndarray | None = None) -> dict[str, Any]:
    """Quantile bin edges over the finite values, counts per bin and the missing share.

    >>> sum(quantile_baseline([1.0, 2.0, np.nan, 4.0])["counts"])
    3
    """
    x = np.asarray(column, dtype=np.float64).reshape(-1)
    missing = _missing_share(x)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return {"kind": "quantiles", "edges": [], "counts": [], "missing": missing}
    picked = x[sample] if sample is not None else x
    picked = picked[np.isfinite(picked)]
    quantiles = np.linspace(0.0, 1.0, BINS + 1)
    edges = np.unique(np.quantile(picked if picked.size else finite, quantiles))
    # The sample may miss the extremes; widen the outer edges so every value is counted.
    edges[0], edges[-1] = min(edges[0], finite.min()), max(edges[-1], finite.max())
    # Bins are [edge, next edge), the last one closed, as numpy.histogram has them;
    # searchsorted + bincount is ~3x faster than histogram's non-uniform path.
    counts = np.bincount(
        np.searchsorted(edges[1:-1], finite, side="right"), minlength=max(edges.size - 1, 1)
    )
    return {"kind": "quantiles", "edges": edges.tolist(), "counts": counts.tolist(),
            "missing": missing}  # fmt: skip


def category_baseline(
    column: str, categories: Sequence[str], texts: Sequence[str | None]
) -> dict[str, Any]:
    """Counts of each category of ``categories`` among ``texts`` (the raw training values as
    text), of the others (rare categories cut from the vocabulary) and the missing share.

    >>> category_baseline("contract", ["monthly", "yearly"], ["yearly", None, "weekly", "yearly"])
    {'kind': 'categories', 'column': 'contract', 'categories': ['monthly', 'yearly'], \
'counts': [0, 2], 'other': 1, 'missing': 0.25}
    """
    index = {c: i for i, c in enumerate(categories)}
    counts = [0] * len(index)
    other = missing = 0
    for text in texts:
        if text is None:
            missing += 1
        elif text in index:
            counts[index[text]] += 1
        else:
            other += 1
    return {
        "kind": "categories",
        "column": column,
        "categories": list(categories),
        "counts": counts,
        "other": other,
        "missing": missing / len(texts) if len(texts) else 0.0,
    }


def baseline_kind(baseline: Mapping[str, Any], name: str = "feature") -> Kind:
    """The kind of a stored baseline; ``quantiles`` for one written before kinds existed.

    >>> baseline_kind({"edges": [0.0, 1.0], "counts": [3], "missing": 0.0})
    'quantiles'
    """
    if not isinstance(baseline, Mapping):
        raise BundleError(f"manifest monitoring baseline of {name!r} is not a table")
    kind = baseline.get("kind", "quantiles")
    if kind == "numeric":  # the prediction baseline's word for quantiles
        kind = "quantiles"
    if kind not in KINDS:
        raise BundleError(
            f"manifest monitoring baseline of {name!r}: kind {kind!r}; "
            f"expected one of: {', '.join(KINDS)}"
        )
    return kind


# -- live buckets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Buckets:
    """Training and live shares per bucket (the kind's buckets, then missing), the live row
    count, the live missing share and the share ``outside`` what training had: values outside
    the training range (quantiles), values training never had (values), categories not in the
    vocabulary (categories) — NaN without rows. ``unseen`` counts those rows."""

    labels: tuple[str, ...]
    train: np.ndarray
    live: np.ndarray
    rows: int
    missing: float
    outside: float
    unseen: int

    @property
    def psi(self) -> float:
        """PSI of live against training on these buckets (NaN without live rows)."""
        return psi_from_counts(self.train, self.live) if self.rows else math.nan


def buckets(baseline: Mapping[str, Any], values: Any, name: str = "feature") -> Buckets:
    """Bucket ``values`` on ``baseline``: numbers for ``quantiles`` and ``values``, text (or
    ``None`` for missing) for ``categories``.

    >>> b = buckets({"kind": "categories", "column": "c", "categories": ["a", "b"],
    ...              "counts": [3, 1], "other": 0, "missing": 0.0}, ["a", "z", None, "b"])
    >>> b.labels, b.live.tolist(), b.unseen
    (('a', 'b', 'other', 'missing'), [0.25, 0.25, 0.25, 0.25], 1)
    """
    kind = baseline_kind(baseline, name)
    if kind == "categories":
        return _category_buckets(baseline, values, name)
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if kind == "values":
        return _value_buckets(baseline, x, name)
    return _quantile_buckets(baseline, x, name)


def feature_psi(baseline: Mapping[str, Any], values: Any) -> float:
    """PSI of ``values`` against ``baseline`` (NaN without values).

    >>> feature_psi({"edges": [0.0, 1.0, 2.0], "counts": [5, 5], "missing": 0.0}, [0.5, 1.5])
    0.0
    """
    return buckets(baseline, values).psi


def _category_buckets(baseline: Mapping[str, Any], texts: Any, name: str) -> Buckets:
    categories = [str(c) for c in _list(baseline, "categories", name)]
    counts = _counts(baseline, len(categories), name)
    index = {c: i for i, c in enumerate(categories)}
    live = np.zeros(len(categories) + 2)
    for text in texts:
        if text is None:
            live[-1] += 1
        else:
            live[index.get(text, len(categories))] += 1
    other = baseline.get("other", 0) or 0
    if isinstance(other, bool) or not isinstance(other, int | float) or not other >= 0:
        raise BundleError(f"manifest monitoring baseline of {name!r}: other is {other!r}")
    train = np.append(counts, float(other))
    labels = (*categories, "other", "missing")
    return _shares(baseline, labels, train, live, int(live[-2]))


def _value_buckets(baseline: Mapping[str, Any], x: np.ndarray, name: str) -> Buckets:
    known = _floats(baseline, "values", name)
    counts = _counts(baseline, known.size, name)
    missing = np.isnan(x)
    present = x[~missing]
    position = np.searchsorted(known, present)
    inside = position < known.size
    hit = np.zeros(present.size, dtype=bool)
    hit[inside] = known[position[inside]] == present[inside]
    live = np.bincount(position[hit], minlength=known.size).astype(np.float64)
    other = float(np.count_nonzero(~hit))
    live = np.append(live, [other, float(np.count_nonzero(missing))])
    labels = (*(f"{v:g}" for v in known), "other", "missing")
    return _shares(baseline, labels, np.append(counts, 0.0), live, int(other))


def _quantile_buckets(baseline: Mapping[str, Any], x: np.ndarray, name: str) -> Buckets:
    edges = _floats(baseline, "edges", name)
    counts = _floats(baseline, "counts", name)
    missing = np.isnan(x)
    present = x[~missing]
    if edges.size == 0:
        # No finite training value: one bucket ("any value"); every live value is outside.
        train = np.array([0.0 if counts.sum() == 0 else 1.0])
        live = np.array([float(present.size)])
        outside = present.size
        labels: tuple[str, ...] = ("any value",)
    else:
        if counts.size != max(edges.size - 1, 1) or not np.all(np.isfinite(counts)):
            raise BundleError(
                f"manifest monitoring baseline of {name!r}: {counts.size} counts do not fit "
                f"{edges.size} edges"
            )
        train = counts
        bins = np.searchsorted(edges[1:-1], present, side="right")
        live = np.bincount(bins, minlength=counts.size).astype(np.float64)
        outside = int(np.count_nonzero((present < edges[0]) | (present > edges[-1])))
        labels = tuple(
            f"[{edges[i]:g}, {edges[i + 1]:g})" if edges.size > 1 else f"{edges[0]:g}"
            for i in range(counts.size)
        )
    live = np.append(live, float(np.count_nonzero(missing)))
    return _shares(baseline, (*labels, "missing"), train, live, outside)


def _shares(
    baseline: Mapping[str, Any],
    labels: tuple[str, ...],
    train_counts: np.ndarray,
    live_counts: np.ndarray,
    unseen: int,
) -> Buckets:
    """Counts as shares of all rows: the training counts cover non-missing rows only, so scaled
    by the non-missing share they sit beside the missing share as one distribution."""
    base_missing = baseline.get("missing", 0.0) or 0.0
    if (
        isinstance(base_missing, bool)
        or not isinstance(base_missing, int | float)
        or not (0.0 <= base_missing <= 1.0)
    ):
        raise BundleError(f"manifest monitoring baseline: missing share {base_missing!r}")
    base_missing = float(base_missing)
    total = float(train_counts.sum())
    train = train_counts / total * (1.0 - base_missing) if total > 0 else train_counts * 0.0
    train = np.append(train, base_missing)
    n = int(live_counts.sum())
    if n == 0:
        return Buckets(labels, train, live_counts, 0, math.nan, math.nan, 0)
    live = live_counts / n
    return Buckets(labels, train, live, n, float(live[-1]), unseen / n, unseen)


def _list(baseline: Mapping[str, Any], key: str, name: str) -> list[Any]:
    value = baseline.get(key, [])
    if not isinstance(value, list):
        raise BundleError(f"manifest monitoring baseline of {name!r}: {key} is not a list")
    return value


def _floats(baseline: Mapping[str, Any], key: str, name: str) -> np.ndarray:
    try:
        return np.asarray(_list(baseline, key, name), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise BundleError(
            f"manifest monitoring baseline of {name!r}: {key} holds something not a number"
        ) from None


def _counts(baseline: Mapping[str, Any], size: int, name: str) -> np.ndarray:
    counts = _floats(baseline, "counts", name)
    if counts.size != size or not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise BundleError(
            f"manifest monitoring baseline of {name!r}: expected {size} non-negative counts, "
            f"got {counts.size}"
        )
    return counts


def _missing_share(x: np.ndarray) -> float:
    return float(np.isnan(x).mean()) if x.size else 0.0
