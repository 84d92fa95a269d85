"""Is the challenger better than the champion beyond noise? A paired bootstrap over holdout rows.

Both models are scored on the same resamples of the same rows, so what varies between resamples
is the difference itself, not the luck of the draw: a far tighter test than comparing two
separate confidence intervals. The gain is ``challenger - champion`` with the sign flipped for
losses (``rmse``, ``log_loss``, ...), so a positive gain always means "challenger is better"; the
challenger wins only if the one-sided lower bound of the gain at ``confidence`` is above zero.

Metrics are computed on bootstrap *weights* (how often each row was drawn), vectorised over the
resamples by :mod:`edgeml.metrics`' kernels: 1000 separate calls would cost seconds.

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

from edgeml.metrics import METRICS, higher_is_better

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
    if metric not in METRICS:
        raise ValueError(f"no bootstrap for metric {metric!r}; expected one of {sorted(METRICS)}")
    score = _kernel(metric)
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
    return float(_kernel(metric)(row, np.asarray(y), np.asarray(output, dtype=np.float64))[0])


def _kernel(metric: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """The metric's weighted kernel on model outputs: label metrics score the most probable
    class of ``(n, K)`` probabilities."""
    scored = METRICS[metric]
    if scored.needs != "label":
        return scored.score
    return lambda w, y, out: scored.score(w, y, out.argmax(axis=1) if out.ndim == 2 else out)
