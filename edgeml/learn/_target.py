"""The target: which task it implies, and its encoding as class codes or floats."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from edgeml.data import label_key, labelled_text, one_spelling
from edgeml.errors import TargetError

Task = Literal["binary", "multiclass", "regression"]

# An integer target with at most this many distinct, consecutive values is read as class codes.
_MAX_INT_CLASSES = 10


@dataclass(frozen=True, kw_only=True)
class TargetEncoding:
    """How target labels map to what LightGBM learns: class codes 0..K-1, or floats."""

    name: str
    task: Task
    classes: list[Any] | None = None

    def encode(self, series: pl.Series, *, source: str = "data") -> np.ndarray:
        """Labels to codes (classification) or floats (regression); an unknown label is named.

        >>> enc = TargetEncoding(name="y", task="binary", classes=["No", "Yes"])
        >>> enc.encode(pl.Series("y", ["Yes", "No"])).tolist()
        [1, 0]
        >>> TargetEncoding(name="price", task="regression").encode(pl.Series(["5", None, "ab"]))
        Traceback (most recent call last):
        edgeml.errors.TargetError: data: target 'price' holds 'ab', not a number; must be numeric...
        """
        if self.classes is None:
            try:
                return series.cast(pl.Float64).to_numpy()
            except pl.exceptions.InvalidOperationError:
                read = series.cast(pl.Float64, strict=False)
                unread = series.filter(read.is_null() & series.is_not_null())
                held = f" holds {unread[0]!r}, not a number;" if len(unread) else ""
                raise TargetError(
                    f"{source}: target {self.name!r}{held} must be numeric for regression"
                ) from None
        codes: dict[Any, int] = {label: i for i, label in enumerate(self.classes)}
        labels = series.to_list()
        if series.dtype == pl.String:
            # "yes ", "YES" are the class "Yes" (label_key); exact spellings first, so a bundle
            # whose classes differ only in case (older edgeml) still reads each one.
            keys: dict[str, list[int]] = {}
            for label, code in codes.items():
                keys.setdefault(label_key(str(label)), []).append(code)
            folded = {k: v[0] for k, v in keys.items() if len(v) == 1}
            codes.update(
                (v, folded[label_key(v)])
                for v in set(labels) - codes.keys()
                if isinstance(v, str) and label_key(v) in folded
            )
        unknown = next((v for v in labels if v not in codes), _NONE)
        if unknown is not _NONE:
            shown = self.classes if len(self.classes) <= 20 else [*self.classes[:20], "..."]
            raise TargetError(
                f"{source}: target {self.name!r} holds {unknown!r}, which is not one of the "
                f"{len(self.classes)} classes seen in training: {shown}"
            )
        return np.fromiter((codes[v] for v in labels), dtype=np.int64, count=len(labels))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "classes": self.classes}


_NONE = object()


def fit_target(
    series: pl.Series,
    *,
    task: str = "auto",
    source: str = "data",
    positive: str | None = None,
    counts: Mapping[Any, int] | None = None,
) -> TargetEncoding:
    """Detect the task from the target's values (unless given) and fix the class order.

    Strings and booleans are classes (text compared by :func:`label_key`: ``"yes "`` and
    ``"YES"`` are the class ``"Yes"``, spelt as most rows spell it; blank text is no label);
    integers with at most 10 consecutive values from 0 or 1 are classes (floats that are all
    whole numbers count as integers); other numbers are a regression target. Classes are
    sorted, except that a binary target's positive class (the second, whose probability the
    threshold, precision, recall and F1 are about) is ``positive`` when given, else the
    yes-like label of a yes/no-style pair, else the rarer label: the class a fraud, failure or
    churn model is built to find. Booleans and 0/1 keep True and 1. ``counts``: each label's
    rows, when ``series`` holds each label only once.

    >>> fit_target(pl.Series("y", ["b", "a", "c"])).classes
    ['a', 'b', 'c']
    >>> fit_target(pl.Series("y", ["ok", "ok", "fraud"])).classes
    ['ok', 'fraud']
    >>> fit_target(pl.Series("y", ["Yes", "No", "No"])).classes
    ['No', 'Yes']
    >>> fit_target(pl.Series("y", ["Yes", "yes ", "NO", "No", "No", " "])).classes
    ['No', 'Yes']
    >>> fit_target(pl.Series("y", [0.0, 2.0, None, 1.0])).classes
    [0, 1, 2]
    """
    name = str(series.name)
    values = series.drop_nulls()
    if values.dtype.is_float():
        values = values.filter(~values.is_nan())
    if values.len() == 0:
        raise TargetError(f"{source}: target {name!r} is null on every row")
    if values.dtype.is_temporal():
        raise TargetError(f"{source}: target {name!r} holds dates; expected labels or numbers")
    if values.dtype.is_float() and _whole(values):
        # 0.0/1.0/2.0: class codes written as floats (pandas does so when a label is missing)
        # are the classes 0, 1, 2, as without the missing label, not a regression target.
        values = values.cast(pl.Int64)
    if values.dtype == pl.String:
        values = values.filter(has_label(values))
        if values.len() == 0:
            raise TargetError(f"{source}: target {name!r} is blank or '?'/'N/A' on every row")
        values, counts = one_spelling(values, counts)
    distinct = values.unique().sort()
    if task == "auto":
        task = _detect(values, distinct)
    if task == "regression":
        if not values.dtype.is_numeric():
            raise TargetError(
                f"{source}: target {name!r} holds text such as {values[0]!r}; "
                "regression needs numbers (or use --task binary/multiclass)"
            )
        if distinct.len() == 1:
            raise TargetError(f"{source}: target {name!r} is constant ({distinct[0]!r})")
        return TargetEncoding(name=name, task="regression")
    classes = distinct.to_list()
    if len(classes) < 2:
        raise TargetError(
            f"{source}: target {name!r} has a single class ({classes[0]!r}); "
            "classification needs at least two"
        )
    if task == "binary" and len(classes) != 2:
        raise TargetError(
            f"{source}: --task binary needs exactly two classes in {name!r}, found {len(classes)}"
        )
    if positive is not None and values.dtype == pl.String:  # "yes" names the class "Yes"
        positive = next((c for c in classes if label_key(c) == label_key(positive)), positive)
    if positive is not None and positive not in [str(c) for c in classes]:
        raise TargetError(
            f"{source}: positive_class {positive!r} is not a class of target {name!r}; "
            f"classes: {classes}"
        )
    if len(classes) == 2:
        classes = _binary_order(classes, values, positive, counts)
    return TargetEncoding(
        name=name, task="binary" if len(classes) == 2 else "multiclass", classes=classes
    )


# Pairs whose second word is the positive label, whatever their counts (lower case).
_POLARITY = {("no", "yes"), ("n", "y"), ("false", "true"), ("f", "t"), ("negative", "positive"),
             ("neg", "pos"), ("off", "on")}  # fmt: skip


def _binary_order(
    classes: list[Any], values: pl.Series, positive: str | None, counts: Mapping[Any, int] | None
) -> list[Any]:
    """The two classes as [negative, positive] (``classes`` arrives sorted)."""
    if positive is not None:
        return sorted(classes, key=lambda c: str(c) == positive)
    if not all(isinstance(c, str) for c in classes):
        return classes  # booleans and numbers: True and 1 are positive
    if (classes[0].lower(), classes[1].lower()) in _POLARITY:
        return classes
    if (classes[1].lower(), classes[0].lower()) in _POLARITY:
        return classes[::-1]
    if counts is None:
        counts = dict(values.value_counts().iter_rows())
    if counts.get(classes[0], 0) < counts.get(classes[1], 0):
        return classes[::-1]  # the rarer label is the one to find
    return classes


def has_label(target: pl.Series, *, source: str = "data") -> pl.Series:
    """Which rows have a label (a boolean Series): null, blank text, text that marks a missing
    value (``?``, ``N/A``, ``#N/A``: :data:`~edgeml.util.missing.NO_LABEL_WORDS`, any case) and
    NaN in a float column (Parquet and NumPy write a missing number as NaN), mark an unlabelled
    row; an infinite label is a mistake in the data (:class:`~edgeml.errors.TargetError` naming
    the row).

    >>> has_label(pl.Series("y", [1.0, None, float("nan"), 2.0])).to_list()
    [True, False, False, True]
    >>> has_label(pl.Series("y", ["Yes", " ", "?", "n/a", "No"])).to_list()
    [True, False, False, False, True]
    """
    if target.dtype == pl.String:  # a blank label, or a "?", is no label
        return labelled_text(target)
    if not target.dtype.is_float():
        return target.is_not_null()
    infinite = target.is_infinite().fill_null(False)
    if infinite.any():
        row = int(infinite.arg_true()[0])
        raise TargetError(
            f"{source}: target {target.name!r} row {row + 1}: {target[row]} is not a label; "
            "expected a finite number (leave it empty or NaN to mark the row unlabelled)"
        )
    return (target.is_not_null() & target.is_not_nan()).fill_null(False)


def task_note(series: pl.Series, encoding: TargetEncoding) -> str | None:
    """What a detected task assumed of a target of whole numbers, and how to choose the other
    one: codes 3..8 (a wine's quality) train a regression, 0..9 train classes; either may be
    what the user meant. None for text, booleans, 0/1, fractions and many distinct numbers.

    >>> print(task_note(pl.Series("q", [3, 5, 8, 6]), TargetEncoding(name="q", task="regression")))
    target 'q': 4 whole numbers from 3 to 8, trained as a regression (--task multiclass: classes)
    """
    values = series.drop_nulls()
    if values.dtype.is_float():
        values = values.filter(values.is_finite())
        if not _whole(values):
            return None
    if not values.dtype.is_numeric() or values.len() == 0:
        return None
    distinct = values.n_unique()
    if distinct <= 2 or distinct > 2 * _MAX_INT_CLASSES:
        return None
    low, high = int(values.min()), int(values.max())  # type: ignore[arg-type]
    held = f"target {encoding.name!r}: {distinct} whole numbers from {low} to {high}, trained as"
    if encoding.task == "regression":
        return f"{held} a regression (--task multiclass: classes)"
    return f"{held} {distinct} classes (--task regression: a number)"


# A regression target whose largest 1% of deviations from the median hold at least this share
# of its squared spread is decided by those few labels under squared error: 5 labels of 1e6
# among 800 of -10..10 made the folds stop after one round, a model no better than the mean,
# where l1 learned (CV r2 0.53). A lognormal target holds about 0.4 at sigma 1, 0.9 at sigma 2.
_DOMINANT_SHARE = 0.9
_SQUARED_ERROR = {None, "regression", "regression_l2", "l2", "mean_squared_error", "mse",
                  "l2_root", "root_mean_squared_error", "rmse"}  # fmt: skip


def outlier_note(y: np.ndarray, name: str, objective: str | None = None) -> str | None:
    """A note when a few labels of a regression target trained with squared error (LightGBM's
    default ``objective``) hold most of its squared spread around the median: the model then
    chases them and may learn nothing else. None otherwise.

    >>> y = np.r_[np.linspace(-10, 10, 795), [1e6] * 5]
    >>> print(outlier_note(y, "price"))  # doctest: +NORMALIZE_WHITESPACE
    target 'price': 5 labels far outside the rest (1e+06 to 1e+06; median 0.06297) hold most of
    its squared spread (100% in the largest 1%), so squared error chases them and the model may
    learn little else; if they are mistakes, drop those rows; if real, [train] params = {
    objective = "l1" } weighs them less
    >>> outlier_note(np.linspace(-10, 10, 800), "price") is None
    True
    """
    values = y[np.isfinite(y)]
    if objective not in _SQUARED_ERROR or values.size < 20:
        return None
    median = float(np.median(values))
    squared = (values - median) ** 2
    total = float(squared.sum())
    if total == 0.0:
        return None
    top = np.argsort(squared)[::-1][: int(np.ceil(0.01 * values.size))]
    share = float(squared[top].sum()) / total
    if share < _DOMINANT_SHARE:
        return None
    q1, q3 = np.quantile(values, [0.25, 0.75])
    fences = (q1 - 3 * (q3 - q1), q3 + 3 * (q3 - q1))  # as the profile counts outliers
    far = values[(values < fences[0]) | (values > fences[1])]
    if far.size == 0:
        return None
    return (
        f"target {name!r}: {far.size} labels far outside the rest ({far.min():.4g} to "
        f"{far.max():.4g}; median {median:.4g}) hold most of its squared spread ({share:.0%} in "
        "the largest 1%), so squared error chases them and the model may learn little else; "
        'if they are mistakes, drop those rows; if real, [train] params = { objective = "l1" } '
        "weighs them less"
    )


def _whole(values: pl.Series) -> bool:
    """Whether every value is a whole number an int64 holds exactly (no NaN or inf)."""
    return bool(((values == values.round()) & (values.abs() < 2.0**53)).all())


def _detect(values: pl.Series, distinct: pl.Series) -> Task:
    n = distinct.len()
    if values.dtype in (pl.String, pl.Boolean, pl.Categorical, pl.Enum):
        return "binary" if n <= 2 else "multiclass"
    if n <= 2:
        return "binary"
    if values.dtype.is_integer() and n <= _MAX_INT_CLASSES:
        lo, hi = int(distinct[0]), int(distinct[-1])
        if lo in (0, 1) and hi - lo + 1 == n:
            return "multiclass"
    return "regression"
