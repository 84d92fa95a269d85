"""Target balance and leakage suspects: columns that alone predict the target almost perfectly.

A column is grouped into at most ``min(100, rows // 10)`` groups (quantile bins of its ranks for
numbers and dates; its most common values plus "other" for text and booleans; null is a group of
its own, since missingness itself can leak). Then:

* classification: the accuracy of predicting each group's majority class. A suspect scores at
  least 0.99 *and* removes at least 80% of the errors of always predicting the majority class,
  so a 99%-majority target does not make every column a suspect.
* regression: the larger of |Spearman correlation| and the R² of predicting each group's mean;
  a suspect scores at least 0.99.

Capping the groups matters: with one group per distinct value, any high-cardinality column
would "predict" the target by memorising it (10 rows per group keeps a random column far below
0.99). Not fewer groups either: a bin straddling the class boundary costs up to half a bin, so a
perfect threshold on 50 bins could score as low as 0.99; on 100 bins it scores at least 0.995.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from edgeml.data._schema import logical_schema

__all__ = ["LeakageSuspect", "TargetProfile", "find_leakage", "target_profile"]

Task = Literal["classification", "regression"]

_MAX_CLASSES_INT = 20  # an integer target with at most this many values is a class label
_MAX_GROUPS = 100
_MIN_ROWS_PER_GROUP = 10
_LEAK_SCORE = 0.99
_LEAK_ERROR_REDUCTION = 0.8


@dataclass(frozen=True, kw_only=True)
class TargetProfile:
    """Balance of the target: class counts for classification, summary stats for regression.

    ``task`` is None when the target cannot be judged (all null, or a date column).
    """

    name: str
    dtype: str
    task: Task | None
    missing: int
    classes: list[dict[str, Any]] | None = None  # [{"label", "count", "share"}], largest first
    stats: dict[str, float | None] | None = None  # mean, std, min, median, max


@dataclass(frozen=True, kw_only=True)
class LeakageSuspect:
    """A column that predicts the target almost perfectly on its own."""

    column: str
    score: float
    method: Literal["majority_accuracy", "spearman", "binned_r2"]
    baseline: float | None = None  # majority-class accuracy (classification only)


def target_profile(frame: pl.DataFrame, target: str) -> TargetProfile:
    """Describe ``frame[target]``: its task, missing count and balance."""
    logical = logical_schema(frame.select(target))[target]
    t = pl.col(target).fill_nan(None) if logical == "float" else pl.col(target)
    values = frame.select(t).to_series().drop_nulls()
    missing = frame.height - values.len()
    task = _task(logical, values)
    classes = stats = None
    if task == "classification":
        counts = values.value_counts(name="count").sort(["count", target], descending=[True, False])
        n = values.len()
        classes = [
            {"label": label, "count": int(count), "share": count / n}
            for label, count in counts.iter_rows()
        ]
    elif task == "regression":
        stats = (
            values.cast(pl.Float64)
            .to_frame()
            .select(mean=t.mean(), std=t.std(), min=t.min(), median=t.median(), max=t.max())
            .row(0, named=True)
        )
    return TargetProfile(
        name=target, dtype=logical, task=task, missing=missing, classes=classes, stats=stats
    )


def _task(logical: str, values: pl.Series) -> Task | None:
    if values.is_empty() or logical in ("date", "datetime"):
        return None
    if logical in ("str", "bool"):
        return "classification"
    if logical == "int" and values.n_unique() <= _MAX_CLASSES_INT:
        return "classification"
    return "regression"


def find_leakage(
    frame: pl.DataFrame, *, target: str, task: Task, candidates: list[str]
) -> list[LeakageSuspect]:
    """Columns among ``candidates`` that alone predict ``target`` almost perfectly."""
    schema = logical_schema(frame)
    t = pl.col(target).fill_nan(None) if schema[target] == "float" else pl.col(target)
    data = frame.with_columns(t).filter(pl.col(target).is_not_null())
    n = data.height
    if n == 0 or not candidates:
        return []
    groups = max(2, min(_MAX_GROUPS, n // _MIN_ROWS_PER_GROUP))
    keys = [_group_key(data, c, schema[c], groups).alias(c) for c in candidates]
    # One long table (column, key, target) so every column is scored by the same group_by.
    long = data.select(*keys, pl.col(target).alias("__target")).unpivot(
        index="__target", variable_name="column", value_name="key"
    )
    if task == "classification":
        top_class = data.select(pl.len().over(target).max()).item()
        suspects = _classification_suspects(long, n, baseline=top_class / n)
    else:
        suspects = _regression_suspects(long, data, target, candidates, schema)
    return sorted(suspects, key=lambda s: (-s.score, s.column))


def _group_key(data: pl.DataFrame, name: str, logical: str, groups: int) -> pl.Expr:
    """A text key with at most ``groups`` non-null values; null rows keep a null key."""
    col = pl.col(name)
    if logical in ("int", "float", "date", "datetime"):
        if logical == "float":
            col = col.fill_nan(None)
        # Quantile bin by rank: ties share a bin, so a value never straddles two groups.
        bins = ((col.rank("min") - 1) * groups / col.count()).floor().cast(pl.Int64)
        return bins.cast(pl.String)
    counts = data.get_column(name).drop_nulls().value_counts(sort=True, name="\x00n")
    top = counts.get_column(name).head(groups - 1).cast(pl.String)
    text = col.cast(pl.String)
    # The rest share one group; "\x00" keeps its key from colliding with a real value.
    return (
        pl.when(col.is_null())
        .then(None)
        .when(text.is_in(top.implode()))
        .then(text)
        .otherwise(pl.lit("\x00other"))
    )


def _classification_suspects(
    long: pl.DataFrame, n: int, *, baseline: float
) -> list[LeakageSuspect]:
    counts = long.group_by("column", "key", "__target").len()
    if baseline >= 1.0:
        return []  # one class: nothing to leak
    scores = (
        counts.group_by("column", "key")
        .agg(pl.col("len").max())
        .group_by("column")
        .agg(score=pl.col("len").sum() / n)
    )
    out = []
    for column, score in scores.iter_rows():
        reduction = (score - baseline) / (1.0 - baseline)
        if score >= _LEAK_SCORE and reduction >= _LEAK_ERROR_REDUCTION:
            out.append(
                LeakageSuspect(
                    column=column, score=score, method="majority_accuracy", baseline=baseline
                )
            )
    return out


def _regression_suspects(
    long: pl.DataFrame,
    data: pl.DataFrame,
    target: str,
    candidates: list[str],
    schema: dict[str, str],
) -> list[LeakageSuspect]:
    y = pl.col("__target").cast(pl.Float64)
    total = (
        long.filter(pl.col("column") == candidates[0]).select(((y - y.mean()) ** 2).sum()).item()
    )
    if not total:
        return []  # constant target
    r2 = (
        long.group_by("column", "key")
        .agg(sse=((y - y.mean()) ** 2).sum())
        .group_by("column")
        .agg(score=1.0 - pl.col("sse").sum() / total)
    )
    best: dict[str, tuple[float, Any]] = {c: (s, "binned_r2") for c, s in r2.iter_rows()}
    numeric = [c for c in candidates if schema[c] in ("int", "float", "bool", "date", "datetime")]
    if numeric:
        ty = pl.col(target).cast(pl.Float64)
        rho = data.select(
            [_spearman(pl.col(c).to_physical().cast(pl.Float64), ty).alias(c) for c in numeric]
            # to_physical: dates become day numbers, datetimes microseconds
        ).row(0, named=True)
        for c, value in rho.items():
            if value is not None and abs(value) > best[c][0]:
                best[c] = (abs(value), "spearman")
    return [
        LeakageSuspect(column=c, score=score, method=method)
        for c, (score, method) in best.items()
        if score >= _LEAK_SCORE
    ]


def _spearman(x: pl.Expr, y: pl.Expr) -> pl.Expr:
    x = x.fill_nan(None)
    both = x.is_not_null() & y.is_not_null()
    rho = pl.corr(x.filter(both), y.filter(both), method="spearman")
    return pl.when(rho.is_nan()).then(None).otherwise(rho)
