"""Is the challenger better than the champion beyond noise? A paired bootstrap over holdout rows.

Both models are scored on the same resamples of the same rows, so what varies between resamples
is the difference itself, not the luck of the draw: a far tighter test than comparing two
separate confidence intervals. The gain is ``challenger - champion`` with the sign flipped for
losses (``rmse``, ``log_loss``, ...), so a positive gain always means "challenger is better"; the
challenger wins only if the one-sided lower bound of the gain at ``confidence`` is above zero.

Metrics are computed on bootstrap *weights* (how often each row was drawn), vectorised over the
resamples in NumPy: 1000 calls into scikit-learn per comparison would cost seconds.

>>> import numpy as np
>>> y = np.array([0, 1] * 50)
>>> good = np.column_stack([1 - y * 0.8 - 0.1, y * 0.8 + 0.1])
>>> paired_bootstrap("roc_auc", y, champion=good, challenger=good).better
False
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml.metrics import higher_is_better

__all__ = ["Comparison", "paired_bootstrap", "weighted_metric"]

# Resamples scored per block: bounds the (resamples x rows) weight matrix to ~16 MB.
_BLOCK_CELLS = 2_000_000


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """The champion and challenger scores on the holdout and the bootstrap interval of the gain.

    ``low`` is the one-sided lower bound at ``confidence`` (the ``1 - confidence`` quantile of the
    resampled gains), ``high`` the matching upper one; ``better`` is ``low > 0``.
    """

    metric: str
    champion: float
    challenger: float
    gain: float
    low: float
    high: float
    confidence: float
    resamples: int
    rows: int

    @property
    def better(self) -> bool:
        return self.low > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "champion": self.champion,
            "challenger": self.challenger,
            "gain": self.gain,
            "interval": [self.low, self.high],
            "confidence": self.confidence,
            "resamples": self.resamples,
            "rows": self.rows,
            "better": self.better,
        }


def paired_bootstrap(
    metric: str,
    y: np.ndarray,
    *,
    champion: np.ndarray,
    challenger: np.ndarray,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Compare two models' outputs on the same rows by the paired bootstrap of ``metric``.

    ``y`` holds class codes (classification) or values (regression); the outputs are
    probabilities of shape ``(n, K)`` or predicted values of shape ``(n,)``. Resamples where the
    metric is undefined (``roc_auc`` of a draw with one class) are left out.

    >>> y = np.linspace(0.0, 1.0, 200)
    >>> paired_bootstrap("rmse", y, champion=y * 0 + 0.5, challenger=y + 0.01).better
    True
    """
    if metric not in _METRICS:
        raise ValueError(f"no bootstrap for metric {metric!r}; expected one of {sorted(_METRICS)}")
    score = _METRICS[metric]
    sign = 1.0 if higher_is_better(metric) else -1.0
    y = np.asarray(y)
    first = np.asarray(champion, dtype=np.float64)
    second = np.asarray(challenger, dtype=np.float64)
    n = len(y)
    if n == 0 or len(first) != n or len(second) != n:
        raise ValueError(f"need equal, non-zero row counts; got {n}, {len(first)}, {len(second)}")
    ones = np.ones((1, n))
    base_champion = float(score(ones, y, first)[0])
    base_challenger = float(score(ones, y, second)[0])
    rng = np.random.default_rng(seed)
    gains = []
    block = max(1, _BLOCK_CELLS // n)
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float64)
        gains.append(sign * (score(weights, y, second) - score(weights, y, first)))
    drawn = np.concatenate(gains)
    drawn = drawn[np.isfinite(drawn)]
    if drawn.size:
        low, high = (float(q) for q in np.quantile(drawn, [1.0 - confidence, confidence]))
    else:
        low = high = math.nan
    return Comparison(
        metric=metric,
        champion=base_champion,
        challenger=base_challenger,
        gain=sign * (base_challenger - base_champion),
        low=low,
        high=high,
        confidence=confidence,
        resamples=int(drawn.size),
        rows=n,
    )


def weighted_metric(metric: str, weights: np.ndarray, y: np.ndarray, output: np.ndarray) -> float:
    """``metric`` with each row counted ``weights[i]`` times (all ones: the plain metric).

    >>> weighted_metric("r2", np.ones(3), np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    1.0
    """
    row = np.asarray(weights, dtype=np.float64).reshape(1, -1)
    return float(_METRICS[metric](row, np.asarray(y), np.asarray(output, dtype=np.float64))[0])


# Each metric maps (weights (B, n), y (n,), output) to B values; NaN where undefined.
Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (without the RuntimeWarning NumPy would raise)."""
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _roc_auc(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney statistic: P(score of a positive > a negative), ties count half."""
    score = proba[:, 1] if proba.ndim == 2 else proba
    order = np.argsort(score, kind="stable")
    ranked = score[order]
    positive = (y[order] == 1).astype(np.float64)
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # groups of tied scores
    sorted_w = w[:, order]
    pos = np.add.reduceat(sorted_w * positive, starts, axis=1)
    neg = np.add.reduceat(sorted_w * (1.0 - positive), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    return _ratio(wins, pos.sum(axis=1) * neg.sum(axis=1))


def _macro_f1(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes present in the truth or the prediction (as scikit-learn)."""
    classes = proba.shape[1]
    pred = proba.argmax(axis=1)
    truth = np.eye(classes)[y.astype(np.int64)]
    guess = np.eye(classes)[pred]
    tp = w @ (truth * guess)
    fp = w @ guess - tp
    fn = w @ truth - tp
    present = (w @ truth + w @ guess) > 0
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return _ratio(np.where(present, f1, 0.0).sum(axis=1), present.sum(axis=1).astype(np.float64))


def _accuracy(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    hit = (proba.argmax(axis=1) == y).astype(np.float64)
    return _ratio(w @ hit, w.sum(axis=1))


def _log_loss(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    # Clipped like scikit-learn's log_loss (at float64 eps), so a zero probability is finite.
    picked = np.clip(proba[np.arange(len(y)), y.astype(np.int64)], np.finfo(np.float64).eps, 1.0)
    return _ratio(w @ -np.log(picked), w.sum(axis=1))


def _r2(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    y = y.astype(np.float64)
    total = w.sum(axis=1)
    sse = w @ (y - pred) ** 2
    mean = _ratio(w @ y, total)
    sst = w @ (y**2) - total * mean**2
    # Guard float cancellation: a constant truth leaves a tiny, meaningless sst.
    sst = np.where(sst > 1e-12 * np.maximum(w @ (y**2), 1.0), sst, 0.0)
    return 1.0 - _ratio(sse, sst)


def _rmse(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.sqrt(_ratio(w @ (y.astype(np.float64) - pred) ** 2, w.sum(axis=1)))


def _mae(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return _ratio(w @ np.abs(y.astype(np.float64) - pred), w.sum(axis=1))


_METRICS: dict[str, Metric] = {
    "roc_auc": _roc_auc,
    "macro_f1": _macro_f1,
    "accuracy": _accuracy,
    "log_loss": _log_loss,
    "r2": _r2,
    "rmse": _rmse,
    "mae": _mae,
}
