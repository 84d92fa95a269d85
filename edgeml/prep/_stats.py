"""Per-column training statistics for the prep decisions, in two vectorised passes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import polars as pl

_NUMERIC = ("float", "int")


@dataclass(frozen=True, kw_only=True)
class ColumnStats:
    """What the prep plan needs to know about one training column.

    ``missing`` counts nulls and NaN. ``distinct`` counts non-missing values (for floats only
    whether there are 0, 1 or more, from min/max: an exact count of floats costs a hash pass and
    decides nothing). Quartiles are over finite values; ``outside`` counts non-missing values
    (±inf included) beyond the ``k``·IQR fences, 0 when the IQR is 0.
    """

    rows: int
    missing: int
    distinct: int
    first: Any = None
    low: float | None = None
    high: float | None = None
    q1: float | None = None
    q3: float | None = None
    outside: int = 0
    # integers: |Pearson r| of the value with the row's position (None: unknown); a key that
    # grows with the rows may be a time or a sequence, which carries meaning
    order: float | None = None

    def fences(self, k: float) -> tuple[float, float] | None:
        """``(Q1 - k·IQR, Q3 + k·IQR)``, or None without a positive IQR."""
        if self.q1 is None or self.q3 is None or self.q3 <= self.q1:
            return None
        iqr = self.q3 - self.q1
        return self.q1 - k * iqr, self.q3 + k * iqr


def column_stats(frame: pl.DataFrame, dtypes: dict[str, str], k: float) -> dict[str, ColumnStats]:
    """Statistics of every column in ``dtypes``, with outliers counted against ``k``·IQR fences.

    >>> stats = column_stats(pl.DataFrame({"x": [1.0, 2.0, None]}), {"x": "float"}, 3.0)
    >>> stats["x"].missing, stats["x"].distinct
    (1, 2)
    """
    if not dtypes:
        return {}
    exprs = {
        (i, key): expr
        for i, (name, dtype) in enumerate(dtypes.items())
        for key, expr in _facts(name, dtype).items()
    }
    row = frame.select(expr.alias(f"{i}|{key}") for (i, key), expr in exprs.items()).row(0)
    values = dict(zip(exprs, row, strict=True))
    stats: dict[str, ColumnStats] = {}
    for i, (name, dtype) in enumerate(dtypes.items()):
        facts = {key: value for (j, key), value in values.items() if j == i}
        distinct = facts["distinct"]
        if dtype == "float":
            distinct = 0 if facts["low"] is None else 1 if facts["low"] == facts["high"] else 2
        order = facts.pop("order", None)
        order = None if order is None or math.isnan(order) else abs(order)
        stats[name] = ColumnStats(rows=frame.height, order=order, **{**facts, "distinct": distinct})
    bounded = {
        name: fences
        for name, s in stats.items()
        if dtypes[name] in _NUMERIC and (fences := s.fences(k)) is not None
    }
    if bounded:
        counts = frame.select(
            (~_missing_to_null(name, dtypes[name]).is_between(lo, hi)).sum().alias(name)
            for name, (lo, hi) in bounded.items()
        ).row(0, named=True)
        stats = {
            name: ColumnStats(**{**s.__dict__, "outside": int(counts.get(name) or 0)})
            for name, s in stats.items()
        }
    return stats


def _missing_to_null(name: str, dtype: str) -> pl.Expr:
    column = pl.col(name)
    return column.fill_nan(None) if dtype == "float" else column


def _facts(name: str, dtype: str) -> dict[str, pl.Expr]:
    value = _missing_to_null(name, dtype)
    present = value.drop_nulls()
    exprs = {
        "missing": value.is_null().sum(),
        "first": present.first(),
        # Floats: distinct is derived from min/max below.
        "distinct": pl.lit(None) if dtype == "float" else present.n_unique(),
    }
    if dtype in _NUMERIC:
        numbers = present.cast(pl.Float64)
        finite = numbers.filter(numbers.is_finite())
        exprs |= {
            "low": numbers.min(),
            "high": numbers.max(),
            "q1": finite.quantile(0.25),
            "q3": finite.quantile(0.75),
        }
    if dtype == "int":
        exprs["order"] = pl.corr(pl.int_range(pl.len()).cast(pl.Float64), value.cast(pl.Float64))
    return exprs
