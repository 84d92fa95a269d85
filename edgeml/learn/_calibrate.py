"""Probability calibration of a binary model, fitted on out-of-fold probabilities.

The result is a :class:`~edgeml.runtime.Post` table every executor applies the same way:
``platt`` fits ``sigmoid(a * logit(p) + b)`` by logistic regression on the logit, ``isotonic``
a non-decreasing step fit whose breakpoints are then interpolated linearly.

>>> rng = np.random.default_rng(0); p = rng.uniform(size=500)
>>> y = (rng.uniform(size=500) < p ** 2).astype(int)  # the model is over-confident
>>> post = fit_calibration("platt", y, p)
>>> post.method, bool(post.calibrate(np.array([0.5]))[0] < 0.5)
('platt', True)
"""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from edgeml.errors import ConfigError
from edgeml.runtime import LOGIT_EPS, Post

__all__ = ["fit_calibration"]


def fit_calibration(method: str, y: np.ndarray, p: np.ndarray, *, threshold: float = 0.5) -> Post:
    """The calibration table of ``method`` (none, platt, isotonic) for labels ``y`` and
    probabilities ``p``."""
    if method == "none":
        return Post(threshold=threshold)
    if np.unique(y).size < 2:
        raise ConfigError(
            f"[train] calibration = {method!r} needs both classes among the out-of-fold rows"
        )
    if method == "platt":
        q = np.clip(p, LOGIT_EPS, 1.0 - LOGIT_EPS)
        logit = (np.log(q) - np.log(1.0 - q)).reshape(-1, 1)
        # A very weak penalty: Platt's fit is a plain maximum-likelihood logistic regression.
        fit = LogisticRegression(C=1e6, max_iter=1000).fit(logit, y)
        a, b = float(fit.coef_[0, 0]), float(fit.intercept_[0])
        return Post(threshold=threshold, method="platt", a=a, b=b)
    if method == "isotonic":
        fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        x = tuple(float(v) for v in fit.X_thresholds_)
        values = tuple(float(v) for v in fit.y_thresholds_)
        if len(x) < 2:  # one distinct probability: a constant
            x, values = (0.0, 1.0), (values[0], values[0])
        return Post(threshold=threshold, method="isotonic", x=x, y=values)
    raise ConfigError(f"[train] calibration: {method!r}; expected none, isotonic or platt")
