"""After the trees: a binary model's probability calibration and decision threshold.

Both come from the manifest, where training stored them (``"calibration"`` and ``"decision"``):

- calibration maps LightGBM's positive-class probability ``p`` to a calibrated one —
  ``platt``: ``1 / (1 + exp(-(a * logit(p) + b)))`` with ``logit(p) = log(p) - log(1 - p)``
  (written so: every executor has ``log``); ``isotonic``: linear interpolation between
  breakpoints ``x`` → ``y`` (clamped to the end values outside them), as ``numpy.interp``;
- the decision names the positive class when the calibrated ``p > threshold`` (0.5 without a
  decision: the argmax of ``[1 - p, p]``, first class on a tie).

Every executor applies these same formulas: Polars + LightGBM (``edgeml.load``), this NumPy
runtime, the ONNX graph and the C package; tests compare them row by row.

>>> post = Post.from_dict({"method": "platt", "a": 1.0, "b": 0.0}, threshold=0.3)
>>> round(post.calibrate_one(0.25), 12), post.positive_one(0.31)
(0.25, True)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeml.errors import BundleError

if TYPE_CHECKING:
    from edgeml.spec.manifest import Manifest

__all__ = ["LOGIT_EPS", "Post"]

# Probabilities are clamped this far from 0 and 1 before a logit, so it stays finite.
LOGIT_EPS = 1e-15


@dataclass(frozen=True, kw_only=True)
class Post:
    """Calibration table and threshold of a binary model (identity and 0.5 otherwise)."""

    threshold: float = 0.5
    method: str = "none"  # none, platt or isotonic
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    @classmethod
    def from_manifest(cls, manifest: Manifest, *, source: str = "bundle") -> Post:
        """A binary model's ``decision`` threshold and ``calibration`` (identity otherwise)."""
        if manifest.task != "binary":
            return cls()
        threshold = manifest.decision.threshold if manifest.decision else 0.5
        calibration = manifest.calibration or {"method": "none"}
        return cls.from_dict(calibration, threshold=threshold, source=source)

    @classmethod
    def from_dict(
        cls, calibration: Mapping[str, Any], *, threshold: float = 0.5, source: str = "bundle"
    ) -> Post:
        """A ``calibration`` entry (as :meth:`to_dict` writes it) and the decision threshold;
        a malformed entry is a BundleError."""
        try:
            threshold = float(threshold)
            method = str(calibration["method"])
            if method == "platt":
                return cls(
                    threshold=threshold, method=method, a=float(calibration["a"]),
                    b=float(calibration["b"]),
                )  # fmt: skip
            if method == "isotonic":
                x = tuple(float(v) for v in calibration["x"])
                y = tuple(float(v) for v in calibration["y"])
                if len(x) != len(y) or len(x) < 2 or any(b <= a for a, b in pairwise(x)):
                    raise ValueError("x must increase strictly, hold 2+ values and match y")
                return cls(threshold=threshold, method=method, x=x, y=y)
            if method != "none":
                raise ValueError(f"unknown method {method!r}")
            return cls(threshold=threshold)
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(
                f"{source}: manifest calibration/decision is malformed: {exc}"
            ) from None

    @property
    def identity(self) -> bool:
        """Nothing to do: no calibration and the 0.5 threshold."""
        return self.method == "none" and self.threshold == 0.5

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``calibration`` entry."""
        if self.method == "platt":
            return {"method": "platt", "a": self.a, "b": self.b}
        if self.method == "isotonic":
            return {"method": "isotonic", "x": list(self.x), "y": list(self.y)}
        return {"method": "none"}

    def calibrate(self, p: np.ndarray) -> np.ndarray:
        """Calibrated positive-class probabilities of an array of them."""
        p = np.asarray(p, dtype=np.float64)
        if self.method == "platt":
            q = np.clip(p, LOGIT_EPS, 1.0 - LOGIT_EPS)
            z = self.a * (np.log(q) - np.log(1.0 - q)) + self.b
            return 1.0 / (1.0 + np.exp(-z))
        if self.method == "isotonic":
            return np.interp(p, self.x, self.y)
        return p

    def calibrate_one(self, p: float) -> float:
        """:meth:`calibrate` of one float, in plain Python (the single-row hot path)."""
        if self.method == "platt":
            q = min(max(p, LOGIT_EPS), 1.0 - LOGIT_EPS)
            z = self.a * (math.log(q) - math.log(1.0 - q)) + self.b
            return 1.0 / (1.0 + math.exp(-z))
        if self.method == "isotonic":
            x, y = self.x, self.y
            if p <= x[0]:
                return y[0]
            if p >= x[-1]:
                return y[-1]
            i = bisect.bisect_right(x, p) - 1
            # numpy.interp's order of operations, so the result is the same float
            slope = (y[i + 1] - y[i]) / (x[i + 1] - x[i])
            return slope * (p - x[i]) + y[i]
        return p

    def positive(self, p: np.ndarray) -> np.ndarray:
        """Which calibrated probabilities decide for the positive class."""
        return np.asarray(p) > self.threshold

    def positive_one(self, p: float) -> bool:
        return p > self.threshold

    def decide(self, output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and class codes from LightGBM's ``(n, K)`` class
        probabilities (the argmax, first on a tie, unless a binary model says otherwise)."""
        if output.ndim != 2 or output.shape[1] != 2 or self.identity:
            return output, output.argmax(axis=1)
        proba = self.proba(output[:, 1])
        return proba, self.positive(proba[:, 1]).astype(np.int64)

    def proba(self, raw: np.ndarray) -> np.ndarray:
        """``(n, 2)`` calibrated ``[1 - p, p]`` from LightGBM's ``(n,)`` positive probabilities."""
        p = self.calibrate(raw)
        return np.column_stack([1.0 - p, p])
