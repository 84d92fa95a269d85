"""Text labels as training reads them: each class in one spelling, and marks of no label.

Labels written by hand or by several exports (``"Yes"``, ``"yes "``, ``"YES"``, ``"Yes."``) are
one class, spelt as most rows spell it; a blank label, ``?`` or ``N/A`` marks an unlabelled row.
Training (:func:`edgeml.learn.fit_target`) and the profile read a target alike, so ``edgeml
profile`` shows the classes a model will learn and finds the columns that leak them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from edgeml.util.missing import NO_LABEL_WORDS

__all__ = ["as_trained", "label_key", "labelled_text", "one_spelling"]


def label_key(label: str) -> str:
    """What a text label is compared by: stripped of whitespace and of one full stop at its
    end, in lower case; labels written by hand or by several exports (``"Yes"``, ``"yes "``,
    ``"YES"``) are one class, and so are ``">50K"`` and ``">50K."`` (UCI's Adult test file
    ends every label with a full stop; its training file does not).

    >>> label_key(" Yes "), label_key(">50K"), label_key(" >50K."), label_key(".")
    ('yes', '>50k', '>50k', '.')
    """
    key = label.strip().lower()
    return key[:-1].rstrip() if len(key) > 1 and key.endswith(".") else key


def one_spelling(
    values: pl.Series, counts: Mapping[Any, int] | None
) -> tuple[pl.Series, Mapping[Any, int] | None]:
    """Text labels with each class in one spelling: its most frequent one, stripped (the first
    in sorted order on ties), and ``counts`` summed over the spellings it merged."""
    tally = dict(counts) if counts is not None else dict(values.value_counts().iter_rows())
    best: dict[str, tuple[int, str]] = {}
    for label, n in sorted(tally.items(), key=lambda item: (item[0].strip(), item[0])):
        key, current = label_key(label), best.get(label_key(label))
        if current is None or n > current[0]:
            best[key] = (n, label.strip())
    spelling = {label: best[label_key(label)][1] for label in tally}
    if all(label == spelled for label, spelled in spelling.items()):
        return values, counts
    merged: dict[Any, int] | None = None
    if counts is not None:
        merged = {}
        for label, n in counts.items():
            merged[spelling[label]] = merged.get(spelling[label], 0) + n
    return values.replace_strict(spelling, return_dtype=pl.String), merged


def as_trained(target: pl.Series) -> pl.Series:
    """A text target as training reads it: null where it holds no label, each class in one
    spelling; any other target as it is.

    >>> as_trained(pl.Series("y", ["Yes", "yes ", "?", "No", "Yes", " "])).to_list()
    ['Yes', 'Yes', None, 'No', 'Yes', None]
    """
    if target.dtype != pl.String:
        return target
    labels = pl.select(pl.when(labelled_text(target)).then(target)).to_series()
    counts = dict(labels.drop_nulls().value_counts().iter_rows())
    distinct = pl.Series(list(counts), dtype=pl.String)
    spelt, _ = one_spelling(distinct, counts)
    return labels.replace(distinct, spelt)


def labelled_text(target: pl.Series) -> pl.Series:
    """Which rows of a text target hold a label: not null, not blank, not a mark of a missing
    value (``?``, ``N/A``, ``#N/A``: :data:`~edgeml.util.missing.NO_LABEL_WORDS`, any case).

    >>> labelled_text(pl.Series("y", ["Yes", " ", "?", "n/a", None, "No"])).to_list()
    [True, False, False, False, False, True]
    """
    text = target.str.strip_chars()
    marked = text.str.to_lowercase().is_in(list(NO_LABEL_WORDS))
    return ((text.str.len_bytes() > 0) & ~marked).fill_null(False)
