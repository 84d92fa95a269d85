"""The decision threshold of a binary model, chosen on out-of-fold probabilities.

A row is predicted positive when its (calibrated) probability ``p > threshold``. Candidate
thresholds lie halfway between consecutive distinct out-of-fold probabilities (plus one below
the lowest and one above the highest), so no executor's last-bit rounding can move a row across.

>>> y = np.array([0, 0, 1, 0, 1, 1]); p = np.array([.1, .2, .3, .4, .8, .9])
>>> choice = choose_threshold(y, p, rule="f1")
>>> choice.threshold, round(choice.at["f1"], 3)
(0.25, 0.857)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml.errors import ConfigError

__all__ = ["Candidates", "ThresholdChoice", "choose_threshold", "threshold_candidates"]

# Below this share of rows the minority class makes 0.5 a poor default: F1 is maximised instead.
MINORITY_SHARE = 0.30
_CURVE_POINTS = 200


@dataclass(frozen=True, kw_only=True)
class Candidates:
    """Every useful threshold (descending) and the confusion counts it gives."""

    threshold: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: int
    negatives: int

    @property
    def precision(self) -> np.ndarray:
        predicted = self.tp + self.fp
        return np.divide(self.tp, predicted, out=np.ones(len(predicted)), where=predicted > 0)

    @property
    def recall(self) -> np.ndarray:
        return self.tp / max(self.positives, 1)

    @property
    def f1(self) -> np.ndarray:
        fn = self.positives - self.tp
        denominator = 2 * self.tp + self.fp + fn
        return np.divide(
            2 * self.tp, denominator, out=np.zeros(len(self.tp)), where=denominator > 0
        )

    def curve(self) -> dict[str, list[float]]:
        """Precision and recall against the threshold, thinned to a few hundred points."""
        keep = np.unique(np.linspace(1, len(self.threshold) - 1, _CURVE_POINTS).astype(int))
        return {
            name: [round(float(v), 6) for v in values[keep]]
            for name, values in (
                ("threshold", self.threshold),
                ("precision", self.precision),
                ("recall", self.recall),
            )
        }


def threshold_candidates(y: np.ndarray, p: np.ndarray) -> Candidates:
    """Thresholds between consecutive distinct probabilities, highest first; index 0 predicts
    no row positive, the last every row (with a probability above 0)."""
    order = np.argsort(-p, kind="stable")
    scores, labels = p[order], y[order].astype(np.int64)
    # the last row of each run of equal scores: a threshold below it takes the whole run
    ends = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])
    distinct = scores[ends]
    tp = np.r_[0, np.cumsum(labels)[ends]]
    fp = np.r_[0, ends + 1] - tp
    between = (distinct[:-1] + distinct[1:]) / 2
    threshold = np.r_[(1.0 + distinct[0]) / 2, between, distinct[-1] / 2]
    positives = int(labels.sum())
    return Candidates(
        threshold=threshold, tp=tp, fp=fp, positives=positives, negatives=len(y) - positives
    )


@dataclass(frozen=True, kw_only=True)
class ThresholdChoice:
    """The chosen threshold, the rule and why, and what it scores out of fold."""

    threshold: float
    rule: str
    reason: str
    at: dict[str, float]
    rows: int
    curve: dict[str, list[float]]

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``decision`` entry."""
        return {
            "threshold": self.threshold,
            "rule": self.rule,
            "reason": self.reason,
            "out_of_fold": {"rows": self.rows, **self.at},
            "curve": self.curve,
        }


def choose_threshold(
    y: np.ndarray,
    p: np.ndarray,
    *,
    rule: str,
    value: float = float("nan"),
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
    reason: str = "",
) -> ThresholdChoice:
    """Pick the threshold ``rule`` asks for on labels ``y`` (0/1) and probabilities ``p``.

    Rules: ``f1`` (maximise F1), ``balanced`` (maximise recall + specificity), ``cost``
    (minimise ``cost_fp * FP + cost_fn * FN``), ``precision`` (the highest recall with precision
    at least ``value``), ``recall`` (the highest precision with recall at least ``value``) and
    ``fixed`` (``value`` itself). A precision or recall target no threshold reaches raises a
    :class:`ConfigError` naming the best reachable value.
    """
    found = threshold_candidates(y, p)
    precision, recall, f1 = found.precision, found.recall, found.f1
    usable = np.arange(len(found.threshold)) > 0  # index 0 predicts nothing positive
    if rule == "fixed":
        tp = int(((p > value) & (y == 1)).sum())
        fp = int(((p > value) & (y == 0)).sum())
        chosen = None
    elif rule == "f1":
        chosen = int(np.argmax(np.where(usable, f1, -1.0)))
    elif rule == "balanced":
        specificity = 1.0 - found.fp / max(found.negatives, 1)
        chosen = int(np.argmax(recall + specificity))
    elif rule == "cost":
        cost = cost_fp * found.fp + cost_fn * (found.positives - found.tp)
        chosen = int(np.argmin(cost))
    elif rule in ("precision", "recall"):
        reached = (precision if rule == "precision" else recall) >= value
        reached &= usable
        if not reached.any():
            best = float(np.max((precision if rule == "precision" else recall)[usable]))
            raise ConfigError(
                f"[train] decision: no threshold reaches {rule}>={value:g} on {len(y)} "
                f"out-of-fold rows; the best reachable {rule} is {best:.4f}"
            )
        other = recall if rule == "precision" else precision
        chosen = int(np.argmax(np.where(reached, other, -1.0)))
    else:
        raise ConfigError(f"[train] decision: unknown rule {rule!r}")
    if chosen is not None:
        value, tp, fp = float(found.threshold[chosen]), int(found.tp[chosen]), int(found.fp[chosen])
    fn = found.positives - tp
    at = {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / found.positives if found.positives else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0,
    }
    return ThresholdChoice(
        threshold=float(value), rule=rule, reason=reason, at=at, rows=len(y), curve=found.curve()
    )
