"""The holdout and CV folds the rows allow: tiny data trains, and says what it gave up.

A 20% holdout of 5 rows is one row and cannot hold both classes; 5-fold CV of a class with three
members leaves folds without it. Rather than fail inside scikit-learn, the run keeps what the rows
allow (fewer folds, then no CV; no holdout) and records a note for each thing given up. Only data
nothing can be learned from is an error: fewer than two rows (``fit_target`` already refuses a
single class).

>>> import numpy as np
>>> strata = np.array([0, 0, 0, 0, 1, 1, 1, 0, 0, 0])
>>> sizes = split_sizes(Splitter(seed=0, strata=strata), 10, holdout=0.2, cv_folds=5,
...                     classes=["No", "Yes"])
>>> sizes.holdout, sizes.cv_folds, len(sizes.train_rows), len(sizes.test_rows)
(0.2, 2, 8, 2)
>>> print(sizes.notes[0])
2-fold cross-validation instead of 5: class 'Yes' has 2 training row(s); 5-fold CV needs 5 per class
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeml.errors import DataError
from edgeml.learn._split import Splitter

__all__ = ["MIN_HOLDOUT_ROWS", "SplitSizes", "split_sizes"]

#: A holdout smaller than this scores nothing worth reporting (one row has no R², no AUC).
MIN_HOLDOUT_ROWS = 2


@dataclass(frozen=True, kw_only=True)
class SplitSizes:
    """The holdout and fold count a run uses, its rows, and why they differ from the config."""

    holdout: float
    cv_folds: int
    train_rows: np.ndarray
    test_rows: np.ndarray
    notes: list[str] = field(default_factory=list)


def split_sizes(
    splitter: Splitter,
    n: int,
    *,
    holdout: float,
    cv_folds: int,
    classes: Sequence[Any] | None,
) -> SplitSizes:
    """The holdout split and CV fold count that ``n`` rows allow, with a note per change.

    Raises :class:`DataError` for fewer than two rows: nothing can be learned from them.
    """
    if n < 2:
        raise DataError(f"{n} labelled row(s): training needs at least 2 (and 2 per class)")
    notes: list[str] = []
    train_rows, test_rows = _holdout(splitter, n, holdout, classes, notes)
    if not len(test_rows):
        holdout = 0.0
    folds = _folds(splitter, train_rows, cv_folds, classes, notes)
    return SplitSizes(
        holdout=holdout, cv_folds=folds, train_rows=train_rows, test_rows=test_rows, notes=notes
    )


def _holdout(
    splitter: Splitter, n: int, fraction: float, classes: Sequence[Any] | None, notes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    everything = np.arange(n)
    if fraction <= 0:
        return everything, everything[:0]
    n_test = round(n * fraction)
    why = None
    if n_test < MIN_HOLDOUT_ROWS or n - n_test < 2:
        why = f"a {fraction:.0%} holdout of {n} rows is {n_test}; it needs {MIN_HOLDOUT_ROWS}"
    else:
        try:
            train, test = splitter.holdout(n, fraction)
        except DataError as exc:  # one group, say: nothing to hold out by
            why = str(exc)
        else:
            missing = _missing_class(splitter, train, classes)
            if missing is None:
                return train, test
            why = f"it would take every row of class {missing!r}"
    notes.append(f"no holdout: {why}")
    return everything, everything[:0]


def _folds(
    splitter: Splitter,
    rows: np.ndarray,
    k: int,
    classes: Sequence[Any] | None,
    notes: list[str],
) -> int:
    if k < 2:
        return k
    limit, why = len(rows) // 2, f"{len(rows)} training rows; {k}-fold CV needs {2 * k}"
    if splitter.groups is not None and not splitter.time_ordered:
        groups = len(np.unique(splitter.groups[rows]))
        if groups < limit:
            limit, why = groups, f"{groups} group(s); {k}-fold CV needs {k}"
    if classes is not None and splitter.strata is not None:
        codes, counts = np.unique(splitter.strata[rows], return_counts=True)
        shuffled = splitter.groups is None and not splitter.time_ordered
        if shuffled and len(counts) > 2:
            # Of several classes, one with fewer rows than folds is tested in fewer folds and
            # trained on in all; one with a single row is kept on every fold's training side
            # (edgeml.learn._split). Two classes: every fold's test needs both (ROC AUC).
            lone = [classes[int(c)] for c in codes[counts == 1]]
            if lone:
                shown = ", ".join(repr(c) for c in lone[:5]) + (" …" if len(lone) > 5 else "")
                notes.append(
                    f"class(es) {shown} with 1 training row: trained on in every fold, never tested"
                )
        elif int(counts.min()) < limit:
            label = classes[int(codes[counts.argmin()])]
            limit = int(counts.min())
            why = f"class {label!r} has {limit} training row(s); {k}-fold CV needs {k} per class"
    if limit >= k:
        return k
    if limit < 2:
        notes.append(f"no cross-validation: {why}")
        return 0
    notes.append(f"{limit}-fold cross-validation instead of {k}: {why}")
    return limit


def _missing_class(
    splitter: Splitter, rows: np.ndarray, classes: Sequence[Any] | None
) -> Any | None:
    if classes is None or splitter.strata is None:
        return None
    present = set(np.unique(splitter.strata[rows]).tolist())
    return next((label for i, label in enumerate(classes) if i not in present), None)
