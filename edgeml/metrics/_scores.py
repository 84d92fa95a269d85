"""Every metric edgeml reports, once, in NumPy: weighted, vectorised over weight vectors.

A metric maps ``(weights (B, n), y (n,), output)`` to ``B`` values: row ``i`` counts
``weights[b, i]`` times in the ``b``-th score. All-ones weights give the plain metric; the
retraining comparison passes bootstrap counts to score a thousand resamples in one call.
``output`` is what the metric's :attr:`Metric.needs` says: predicted class codes (``label``),
class probabilities ``(n, K)`` (``proba``; binary: two columns), or predicted values
(``value``). Undefined scores are NaN (a ranking with one class, a mean over no weight).

The definitions follow scikit-learn's, which the tests check them against: ``roc_auc`` is the
Mann-Whitney statistic with ties counting half; ``pr_auc`` is average precision (no
interpolation); ``log_loss`` clips probabilities to ``[eps, 1 - eps]``; precision, recall and
F1 are 0 when undefined (``zero_division=0``); ``macro_f1``/``weighted_f1`` average over the
classes that occur in the truth or the prediction; ``r2`` of a constant truth is 1.0 for a
perfect prediction, else 0.0 (``force_finite``), NaN on fewer than two rows. ``mape`` is a
fraction over the rows whose truth is non-zero (NaN when there are none).

Hand-written rather than scikit-learn's: the device server and the monitor import metrics in
an image without scikit-learn, and bootstrap comparisons need many weightings at once.

>>> import numpy as np
>>> METRICS["roc_auc"].score(np.ones((1, 4)), np.array([0, 0, 1, 1]),
...                          np.array([0.1, 0.4, 0.35, 0.8])).tolist()
[0.75]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["METRICS", "Metric", "score_rows"]

#: A metric's kernel: (weights (B, n), y (n,), output) -> (B,) scores.
Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """One metric: its kernel, what it scores (``needs``) and which way is better."""

    name: str
    needs: Literal["label", "proba", "value"]
    higher_is_better: bool
    score: Kernel


def score_rows(metric: str, y: np.ndarray, output: np.ndarray) -> float:
    """``metric`` over the rows, each counted once.

    >>> score_rows("mae", np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    0.5
    """
    ones = np.ones((1, len(y)))
    return float(METRICS[metric].score(ones, y, output)[0])


def _ratio(num: np.ndarray, den: np.ndarray, *, empty: float = np.nan) -> np.ndarray:
    """num / den, ``empty`` where den is 0 (without the RuntimeWarning NumPy would raise)."""
    out = np.full(np.broadcast_shapes(np.shape(num), np.shape(den)), empty)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _mean(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    return _ratio(w @ values, w.sum(axis=1))


def _positive_score(proba: np.ndarray) -> np.ndarray:
    return proba[:, 1] if proba.ndim == 2 else proba


def _onehot(codes: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[codes.astype(np.int64)]


# -- from predicted labels ---------------------------------------------------------------------


def _accuracy(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return _mean(w, (pred == y).astype(np.float64))


def _binary_counts(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, ...]:
    truth, guess = (y == 1).astype(np.float64), (pred == 1).astype(np.float64)
    tp = w @ (truth * guess)
    return tp, w @ guess - tp, w @ truth - tp


def _precision(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    tp, fp, _ = _binary_counts(w, y, pred)
    return _ratio(tp, tp + fp, empty=0.0)


def _recall(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    tp, _, fn = _binary_counts(w, y, pred)
    return _ratio(tp, tp + fn, empty=0.0)


def _f1(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    tp, fp, fn = _binary_counts(w, y, pred)
    return _ratio(2 * tp, 2 * tp + fp + fn, empty=0.0)


def _class_f1(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per class: F1 (0 when undefined), support in the truth, and whether it occurs at all."""
    classes = int(max(y.max(), pred.max())) + 1
    truth, guess = _onehot(y, classes), _onehot(pred, classes)
    tp = w @ (truth * guess)
    support, predicted = w @ truth, w @ guess
    f1 = _ratio(2 * tp, support + predicted, empty=0.0)
    return f1, support, (support + predicted) > 0


def _macro_f1(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    f1, _, present = _class_f1(w, y, pred)
    return _ratio(np.where(present, f1, 0.0).sum(axis=1), present.sum(axis=1).astype(np.float64))


def _weighted_f1(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    f1, support, _ = _class_f1(w, y, pred)
    return _ratio((f1 * support).sum(axis=1), support.sum(axis=1), empty=0.0)


# -- from probabilities ------------------------------------------------------------------------


def _tied_groups(score: np.ndarray, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row order by score and the start of each run of tied scores in that order."""
    order = np.argsort(-score if descending else score, kind="stable")
    ranked = score[order]
    return order, np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])


def _roc_auc(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney statistic: P(score of a positive > a negative), ties count half."""
    order, starts = _tied_groups(_positive_score(proba), descending=False)
    positive = (y[order] == 1).astype(np.float64)
    sorted_w = w[:, order]
    pos = np.add.reduceat(sorted_w * positive, starts, axis=1)
    neg = np.add.reduceat(sorted_w * (1.0 - positive), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    return _ratio(wins, pos.sum(axis=1) * neg.sum(axis=1))


def _pr_auc(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Average precision: the precision at each distinct threshold (highest score first),
    weighted by the recall it adds; NaN unless both classes occur."""
    order, starts = _tied_groups(_positive_score(proba), descending=True)
    positive = (y[order] == 1).astype(np.float64)
    sorted_w = w[:, order]
    tp = np.cumsum(np.add.reduceat(sorted_w * positive, starts, axis=1), axis=1)
    fp = np.cumsum(np.add.reduceat(sorted_w * (1.0 - positive), starts, axis=1), axis=1)
    gained = np.diff(tp, axis=1, prepend=0.0)
    # Where a threshold adds recall it admits a positive, so tp + fp > 0 there.
    area = (np.where(gained > 0, gained, 0.0) * _ratio(tp, tp + fp, empty=0.0)).sum(axis=1)
    both = (tp[:, -1] > 0) & (fp[:, -1] > 0)
    return np.where(both, _ratio(area, tp[:, -1]), np.nan)


def _log_loss(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    eps = np.finfo(np.float64).eps
    picked = np.clip(proba[np.arange(len(y)), y.astype(np.int64)], eps, 1.0 - eps)
    return _mean(w, -np.log(picked))


def _brier(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Squared error of the probabilities against the one-hot truth; for binary targets the
    positive class's alone (scikit-learn's ``brier_score_loss``), summed over classes otherwise."""
    if proba.shape[1] == 2:
        return _mean(w, (proba[:, 1] - y) ** 2)
    return _mean(w, ((proba - _onehot(y, proba.shape[1])) ** 2).sum(axis=1))


# -- from predicted values ---------------------------------------------------------------------


def _rmse(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.sqrt(_mean(w, (y - pred) ** 2))


def _mae(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return _mean(w, np.abs(y - pred))


def _r2(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1)
    sse = w @ (y - pred) ** 2
    mean = _ratio(w @ y, total)
    sst = w @ (y**2) - total * mean**2
    # Guard float cancellation: a constant truth leaves a tiny, meaningless sst.
    sst = np.where(sst > 1e-12 * np.maximum(w @ (y**2), 1.0), sst, 0.0)
    constant = np.where(sse == 0.0, 1.0, 0.0)
    r2 = np.where(sst > 0, 1.0 - _ratio(sse, sst), constant)
    return np.where((w > 0).sum(axis=1) >= 2, r2, np.nan)


def _mape(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    nonzero = y != 0
    relative = np.abs(y - pred) / np.where(nonzero, np.abs(y), 1.0)
    return _ratio(w @ np.where(nonzero, relative, 0.0), w @ nonzero.astype(np.float64))


def _metrics(*table: tuple[str, Literal["label", "proba", "value"], bool, Kernel]) -> dict:
    return {name: Metric(name, needs, better, kernel) for name, needs, better, kernel in table}


#: Every metric by name: what it needs, whether higher is better, and its kernel.
METRICS: Mapping[str, Metric] = _metrics(
    ("accuracy", "label", True, _accuracy),
    ("precision", "label", True, _precision),
    ("recall", "label", True, _recall),
    ("f1", "label", True, _f1),
    ("macro_f1", "label", True, _macro_f1),
    ("weighted_f1", "label", True, _weighted_f1),
    ("roc_auc", "proba", True, _roc_auc),
    ("pr_auc", "proba", True, _pr_auc),
    ("log_loss", "proba", False, _log_loss),
    ("brier", "proba", False, _brier),
    ("rmse", "value", False, _rmse),
    ("mae", "value", False, _mae),
    ("r2", "value", True, _r2),
    ("mape", "value", False, _mape),
)
