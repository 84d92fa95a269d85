"""Mergeable statistics of training rows seen chunk by chunk, for a prep plan fitted at scale.

A :class:`Summary` of each chunk (a batch of a file, a Dask partition) is merged into one; the
merged summary holds exact counts and a bounded uniform sample. Exact, whatever the data size:
the row count, each column's missing count, its minimum, maximum and first value, and the
category counts of text, boolean and integer columns (up to :data:`MAX_COUNTED` distinct values
a column; a column with more, such as an identifier, is judged on the sample). From the sample
(the ``size`` rows with the smallest per-row hash ``u``, a uniform sample that merges exactly as
it would have been drawn from all rows at once): quantiles (IQR fences, median imputation,
robust scaling), outlier counts (scaled to all rows), correlations, calendar parts and the
vocabulary of a column with more than :data:`MAX_COUNTED` categories.

>>> import polars as pl
>>> a = summarize(pl.DataFrame({"x": [1.0, None], "c": ["a", "b"], "__u": [0.5, 0.1]}),
...               {"x": "float", "c": "str"}, size=2)
>>> b = summarize(pl.DataFrame({"x": [7.0], "c": ["a"], "__u": [0.3]}),
...               {"x": "float", "c": "str"}, size=2)
>>> m = a.merge(b)
>>> m.rows, m.missing["x"], m.high["x"], sorted(m.counts["c"].items())
(3, 1, 7.0, [('a', 2), ('b', 1)])
>>> m.sample["__u"].to_list()
[0.1, 0.3]
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from edgeml.prep._stats import ColumnStats

__all__ = ["MAX_COUNTED", "SAMPLE_KEY", "Summary", "summarize"]

# Distinct values counted exactly per column; beyond this a column's counts are dropped (None).
MAX_COUNTED = 10_000
# The sample's per-row hash in [0, 1): the rows with the smallest values are the sample.
SAMPLE_KEY = "__u"
_COUNTED = ("str", "bool", "int")
_ORDERED = ("float", "int", "bool", "date", "datetime")


@dataclass(frozen=True, kw_only=True)
class Summary:
    """Exact counts of all rows summarised so far, and the bounded sample (see the module)."""

    rows: int
    dtypes: dict[str, str]
    missing: dict[str, int]
    low: dict[str, Any]
    high: dict[str, Any]
    first: dict[str, Any]
    counts: dict[str, dict[Any, int] | None]
    sample: pl.DataFrame
    size: int

    def merge(self, other: Summary) -> Summary:
        """The summary of both chunks' rows (``self``'s rows first)."""
        if other.rows == 0:
            return self
        if self.rows == 0:
            return other
        counts: dict[str, dict[Any, int] | None] = {}
        for name in self.dtypes:
            mine, theirs = self.counts.get(name), other.counts.get(name)
            if mine is None or theirs is None:
                counts[name] = None
                continue
            total = Counter(mine)
            total.update(theirs)
            counts[name] = dict(total) if len(total) <= MAX_COUNTED else None
        sample = _smallest(pl.concat([self.sample, other.sample], how="vertical_relaxed"),
                           self.size)  # fmt: skip
        return Summary(
            rows=self.rows + other.rows,
            dtypes=self.dtypes,
            missing={c: self.missing[c] + other.missing[c] for c in self.dtypes},
            low={c: _pick(min, self.low[c], other.low[c]) for c in self.dtypes},
            high={c: _pick(max, self.high[c], other.high[c]) for c in self.dtypes},
            first={c: _pick(_first, self.first[c], other.first[c]) for c in self.dtypes},
            counts=counts,
            sample=sample,
            size=self.size,
        )

    def column_stats(self, sampled: dict[str, ColumnStats]) -> dict[str, ColumnStats]:
        """The prep plan's statistics: exact where this summary has them, else ``sampled``'s
        (computed on :attr:`sample`), with the sample's outlier count scaled to all rows."""
        scale = self.rows / max(self.sample.height, 1)
        out: dict[str, ColumnStats] = {}
        for name, seen in sampled.items():
            if name not in self.dtypes:  # a feature computed on the sample: all it has
                out[name] = seen
                continue
            dtype = self.dtypes[name]
            counts = self.counts.get(name)
            if dtype in ("float", "date", "datetime"):
                low, high = self.low[name], self.high[name]
                distinct = 0 if low is None else 1 if low == high else 2
            elif counts is not None:
                distinct = len(counts)
            else:  # too many to count: unique on every sampled row stands for unique on all
                distinct = self.rows if seen.distinct == seen.rows else MAX_COUNTED + 1
            numeric = dtype in ("float", "int")
            out[name] = dataclasses.replace(
                seen,
                rows=self.rows,
                missing=self.missing[name],
                distinct=distinct,
                first=self.first[name],
                low=_number(self.low[name]) if numeric else seen.low,
                high=_number(self.high[name]) if numeric else seen.high,
                outside=round(seen.outside * scale),
                order=None,  # the sample's row order is not the data's: unknown, so kept
            )
        return out

    def value_counts(self, name: str) -> pl.DataFrame | None:
        """Exact category counts of ``name`` as a frame (``name`` as text, ``count``), or None
        when the column has too many distinct values to count."""
        counts = self.counts.get(name)
        if counts is None:
            return None
        return pl.DataFrame(
            {name: [str(k) for k in counts], "count": list(counts.values())},
            schema={name: pl.String, "count": pl.UInt32},
        )


def summarize(
    frame: pl.DataFrame, dtypes: dict[str, str], *, size: int, cutoff: float = 1.0
) -> Summary:
    """The summary of one chunk: ``frame`` holds the columns of ``dtypes`` and
    :data:`SAMPLE_KEY` (the per-row hash that picks the sample). Rows whose key is not below
    ``cutoff`` are left out of the sample at once (given a row count, a cutoff a few times
    ``size / rows`` keeps what a distributed job ships to its driver small)."""
    exprs: list[pl.Expr] = []
    for i, (name, dtype) in enumerate(dtypes.items()):
        value = pl.col(name).fill_nan(None) if dtype == "float" else pl.col(name)
        present = value.drop_nulls()
        exprs += [value.is_null().sum().alias(f"{i}|m"), present.first().alias(f"{i}|f")]
        if dtype in _ORDERED:
            exprs += [present.min().alias(f"{i}|lo"), present.max().alias(f"{i}|hi")]
    facts = frame.select(exprs).row(0, named=True) if exprs else {}
    counts: dict[str, dict[Any, int] | None] = {}
    for name, dtype in dtypes.items():
        if dtype not in _COUNTED:
            continue
        values = frame[name].drop_nulls()
        if values.n_unique() > MAX_COUNTED:
            counts[name] = None
            continue
        table = values.value_counts()
        counts[name] = dict(zip(table[name].to_list(), table["count"].to_list(), strict=True))
    names = list(dtypes)
    return Summary(
        rows=frame.height,
        dtypes=dict(dtypes),
        missing={c: int(facts.get(f"{i}|m") or 0) for i, c in enumerate(names)},
        low={c: facts.get(f"{i}|lo") for i, c in enumerate(names)},
        high={c: facts.get(f"{i}|hi") for i, c in enumerate(names)},
        first={c: facts.get(f"{i}|f") for i, c in enumerate(names)},
        counts=counts,
        sample=_smallest(frame.filter(pl.col(SAMPLE_KEY) < cutoff), size),
        size=size,
    )


def _smallest(frame: pl.DataFrame, size: int) -> pl.DataFrame:
    """The ``size`` rows of ``frame`` with the smallest :data:`SAMPLE_KEY`, in that order
    (a partial selection: no copy of the rows that are not kept)."""
    if frame.height > size:
        keys = frame[SAMPLE_KEY].to_numpy()
        frame = frame[np.argpartition(keys, size - 1)[:size]]
    return frame.sort(SAMPLE_KEY)


def _first(a: Any, b: Any) -> Any:
    return a


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _pick(how: Any, a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None else how(a, b)
