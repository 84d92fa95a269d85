"""Calibration and decision threshold of a binary model, both learned on out-of-fold rows.

The CV folds already predict every training row from a model that did not see it; those
probabilities fit the calibration first, then the threshold is chosen on the calibrated ones, so
no extra model is trained.

>>> from edgeml.config import TrainConfig
>>> y = np.array([0] * 8 + [1, 1]); p = np.linspace(0.05, 0.95, 10)
>>> post, decision = fit_post(TrainConfig(), classes=["no", "yes"], y_train=y, oof=(y, p))
>>> decision["rule"], post.threshold
('f1', 0.8)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeml.config import TrainConfig, parse_decision
from edgeml.errors import ConfigError
from edgeml.learn._calibrate import fit_calibration
from edgeml.learn._decision import MINORITY_SHARE, choose_threshold
from edgeml.runtime import Post

__all__ = ["fit_post"]


def fit_post(
    settings: TrainConfig,
    *,
    classes: list[Any],
    y_train: np.ndarray,
    oof: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[Post, dict[str, Any]]:
    """The post-processing of a binary model and the manifest's ``decision`` entry.

    ``oof`` holds the out-of-fold labels and positive-class probabilities (None without CV:
    then only a fixed threshold is possible).
    """
    rule, value = parse_decision(settings.decision)
    counts = np.bincount(y_train.astype(np.int64), minlength=2)
    minority = int(np.argmin(counts))
    share = counts[minority] / max(int(counts.sum()), 1)
    if rule == "default":
        reason = (
            f"default: the minority class {classes[minority]!r} is {share:.1%} of training rows "
            f"({'under' if share < MINORITY_SHARE else 'at least'} {MINORITY_SHARE:.0%})"
        )
        rule, value = ("f1", value) if share < MINORITY_SHARE else ("fixed", 0.5)
    else:
        reason = f"[train] decision = {settings.decision!r}"
    if oof is None:
        asked = None
        if settings.calibration != "none":
            asked = f"calibration = {settings.calibration!r}"
        elif rule != "fixed" and settings.decision is not None:
            asked = f"decision = {settings.decision!r}"
        if asked:
            raise ConfigError(
                f"[train] {asked} is learned on out-of-fold predictions: "
                "set [train] cv_folds to 2 or more"
            )
        if rule != "fixed":
            rule, value, reason = "fixed", 0.5, f"{reason}; no CV folds to choose on, so 0.5"
        return Post(threshold=value), _entry(value, rule, reason)
    y, p = oof
    post = fit_calibration(settings.calibration, y, p)
    choice = choose_threshold(
        y,
        post.calibrate(p),
        rule=rule,
        value=value,
        cost_fp=settings.cost_fp,
        cost_fn=settings.cost_fn,
        reason=reason,
    )
    calibrated = Post(
        threshold=choice.threshold, method=post.method, a=post.a, b=post.b, x=post.x, y=post.y
    )
    return calibrated, {**choice.to_dict(), "reliability": reliability(y, p, post.calibrate(p))}


def reliability(y: np.ndarray, before: np.ndarray, after: np.ndarray) -> dict[str, Any]:
    """Brier score and a 10-bin (equal-count) reliability curve of the out-of-fold
    probabilities, before and after calibration: what the report draws."""
    out: dict[str, Any] = {}
    for name, p in (("before", before), ("after", after)):
        chunks = [c for c in np.array_split(np.argsort(p, kind="stable"), 10) if len(c)]
        out[name] = {
            "brier": float(np.mean((p - y) ** 2)),
            "predicted": [round(float(p[c].mean()), 6) for c in chunks],
            "observed": [round(float(y[c].mean()), 6) for c in chunks],
        }
    return out


def _entry(threshold: float, rule: str, reason: str) -> dict[str, Any]:
    return {"threshold": threshold, "rule": rule, "reason": reason}
