"""Row splits: holdout, k-fold CV and the early-stopping split, all of one kind per run.

The kind follows the configuration: time-ordered when a time column is set (rows must already be
sorted by time), grouped when a group column is set, stratified for classification, else shuffled.

A class with a single row among the rows split (one rare species among 35) cannot be both
trained on and tested: its row stays on the training side of every shuffled or stratified split,
and the other rows are split as if it were not there. Left to the split, it either went to the
test side (a holdout whose model never saw the class) or stopped stratification for everyone.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    StratifiedKFold,
    TimeSeriesSplit,
    train_test_split,
)

from edgeml.errors import DataError

Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, kw_only=True)
class Splitter:
    """Makes splits of the same kind for the holdout, the CV folds and early stopping.

    ``strata`` are class codes (classification), ``groups`` group labels; ``time_ordered`` means
    the rows are sorted by time and every split trains on the past and tests on the future.

    >>> s = Splitter(seed=0)
    >>> train, test = s.holdout(10, 0.2)
    >>> len(train), len(test)
    (8, 2)
    """

    seed: int
    time_ordered: bool = False
    strata: np.ndarray | None = None
    groups: np.ndarray | None = None

    @property
    def kind(self) -> str:
        if self.time_ordered:
            return "time-ordered"
        if self.groups is not None:
            return "grouped"
        if self.strata is None:
            return "shuffled"
        _, counts = np.unique(self.strata, return_counts=True)  # a lone row's class aside
        return "stratified" if int((counts > 1).sum()) > 1 else "shuffled"

    def holdout(
        self, n: int, fraction: float, rows: np.ndarray | None = None, *, optional: bool = False
    ) -> Split:
        """Split ``rows`` (default: all ``n`` rows) into train and test, ``fraction`` in test.

        ``optional`` (the early-stopping split): rows that cannot be split (too few, a single
        group) give an empty test part instead of a :class:`DataError`.
        """
        rows = np.arange(n) if rows is None else rows
        n_test = round(len(rows) * fraction)
        if fraction <= 0 or n_test == 0:
            return rows, rows[:0]
        if optional and (
            n_test >= len(rows)
            or (self.groups is not None and len(np.unique(self.groups[rows])) < 2)
        ):
            return rows, rows[:0]
        if n_test >= len(rows):
            raise DataError(f"too few rows ({len(rows)}) to hold out {fraction:.0%} for testing")
        if self.time_ordered:
            return rows[:-n_test], rows[-n_test:]
        if self.groups is not None:
            groups = self.groups[rows]
            if len(np.unique(groups)) < 2:
                raise DataError("the group column has a single group; cannot split by group")
            splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=self.seed)
            train, test = next(splitter.split(rows, groups=groups))
            return rows[train], rows[test]
        lone = self._lone(rows)
        if lone.any() and (~lone).sum() >= 2:
            train, test = self.holdout(n, fraction, rows[~lone], optional=optional)
            return np.sort(np.concatenate([train, rows[lone]])), test
        strata = self.strata[rows] if self.strata is not None else None
        stratify = strata if self._can_stratify(strata, 2) else None
        if stratify is not None and min(n_test, len(rows) - n_test) < len(np.unique(stratify)):
            stratify = None  # too few rows to put every class on both sides: a plain shuffle
        train, test = train_test_split(
            rows, test_size=n_test, random_state=self.seed, stratify=stratify
        )
        return np.sort(train), np.sort(test)

    def folds(self, rows: np.ndarray, k: int) -> list[Split]:
        """``k`` (train, test) folds over ``rows``; each row is tested at most once."""
        if len(rows) < 2 * k:
            raise DataError(
                f"too few rows ({len(rows)}) for {k}-fold cross-validation; it needs {2 * k}"
            )
        if self.time_ordered:
            splitter = TimeSeriesSplit(n_splits=k)
            return [(rows[a], rows[b]) for a, b in splitter.split(rows)]
        if self.groups is not None:
            groups = self.groups[rows]
            if len(np.unique(groups)) < k:
                raise DataError(
                    f"the group column has {len(np.unique(groups))} groups; "
                    f"{k}-fold cross-validation needs at least {k}"
                )
            grouped = GroupKFold(n_splits=k, shuffle=True, random_state=self.seed)
            return [(rows[a], rows[b]) for a, b in grouped.split(rows, groups=groups)]
        lone = self._lone(rows)
        if lone.any() and (~lone).sum() >= 2 * k:
            folds = self.folds(rows[~lone], k)
            return [(np.sort(np.concatenate([a, rows[lone]])), b) for a, b in folds]
        strata = self.strata[rows] if self.strata is not None else None
        if self._can_stratify(strata, 2):
            # A class with fewer rows than folds (2 rows of 35 classes) is tested in as many
            # folds as it has rows and trained on in every fold; scikit-learn warns of it.
            stratified = StratifiedKFold(n_splits=k, shuffle=True, random_state=self.seed)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "The least populated class", UserWarning)
                return [(rows[a], rows[b]) for a, b in stratified.split(rows, strata)]
        plain = KFold(n_splits=k, shuffle=True, random_state=self.seed)
        return [(rows[a], rows[b]) for a, b in plain.split(rows)]

    def _lone(self, rows: np.ndarray) -> np.ndarray:
        """Which of ``rows`` are the only row of their class among ``rows`` (a mask)."""
        if self.strata is None:
            return np.zeros(len(rows), dtype=bool)
        _, inverse, counts = np.unique(self.strata[rows], return_inverse=True, return_counts=True)
        return np.asarray(counts[inverse] == 1)

    @staticmethod
    def _can_stratify(strata: np.ndarray | None, k: int) -> bool:
        if strata is None:
            return False
        _, counts = np.unique(strata, return_counts=True)
        return len(counts) > 1 and int(counts.min()) >= k
