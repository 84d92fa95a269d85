"""The end of the ONNX graph: a binary model's calibration and every model's predicted label.

Calibration uses the formulas of :class:`edgeml.runtime.Post` in double precision: Platt as
``1 / (1 + exp(-(a * (log q - log(1 - q)) + b)))`` with ``q`` clamped away from 0 and 1, and the
isotonic table's linear interpolation written as a sum of clamped segments,
``y0 + sum_i slope_i * (min(max(p, x_i), x_{i+1}) - x_i)``, which equals ``numpy.interp``
(clamped at the ends) up to the last bits.

The ``label`` output ``[N, 1]`` (int64) is the class index: ``p > threshold`` for binary
models, the first maximal column for multiclass ones.
"""

from __future__ import annotations

import numpy as np

from edgeml.compile._onnx_graph import GraphBuilder
from edgeml.runtime import LOGIT_EPS, Post

__all__ = ["add_calibration", "add_label"]


def add_calibration(g: GraphBuilder, probabilities: str, post: Post, *, output: str) -> None:
    """``[N, 2]`` ``[1 - p, p]`` in, the calibrated ``[1 - p', p']`` out as ``output``."""
    one = g.const(np.array(1.0), "one")
    start = g.const(np.array([1], dtype=np.int64), "start")
    end = g.const(np.array([2], dtype=np.int64), "end")
    axis = g.const(np.array([1], dtype=np.int64), "axis")
    p = g.op("Slice", [probabilities, start, end, axis], "positive")
    if post.method == "platt":
        q = g.op(
            "Clip",
            [p, g.const(np.array(LOGIT_EPS), "eps"), g.const(np.array(1.0 - LOGIT_EPS), "top")],
            "clamped",
        )
        logit = g.op(
            "Sub",
            [g.op("Log", [q], "log_q"), g.op("Log", [g.op("Sub", [one, q], "q_c")], "log_qc")],
            "logit",
        )
        z = g.op("Add", [g.op("Mul", [logit, g.const(np.array(post.a), "a")], "az"),
                         g.const(np.array(post.b), "b")], "z")  # fmt: skip
        minus = g.op("Neg", [z], "minus_z")
        calibrated = g.op(
            "Reciprocal", [g.op("Add", [g.op("Exp", [minus], "exp"), one], "den")], "platt"
        )
    else:
        x, y = np.asarray(post.x), np.asarray(post.y)
        lo, hi = x[:-1], x[1:]
        slope = (y[1:] - y[:-1]) / (hi - lo)
        clamped = g.op(
            "Min",
            [g.op("Max", [p, g.const(lo[None, :], "x_lo")], "above"), g.const(hi[None, :], "x_hi")],
            "within",
        )
        steps = g.op(
            "Mul",
            [g.op("Sub", [clamped, g.const(lo[None, :], "x_lo")], "offset"),
             g.const(slope[None, :], "slope")],
            "steps",
        )  # fmt: skip
        total = g.op("ReduceSum", [steps, axis], "rise", keepdims=1)
        calibrated = g.op("Add", [total, g.const(np.array(y[0]), "y0")], "isotonic")
    g.op("Concat", [g.op("Sub", [one, calibrated], "complement"), calibrated], "calibrated",
         output=output, axis=1)  # fmt: skip


def add_label(g: GraphBuilder, probabilities: str, kind: str, post: Post, *, output: str) -> bool:
    """Add the ``label`` output for a classifier; False (nothing added) for regression."""
    if kind == "binary":
        start = g.const(np.array([1], dtype=np.int64), "start")
        end = g.const(np.array([2], dtype=np.int64), "end")
        axis = g.const(np.array([1], dtype=np.int64), "axis")
        p = g.op("Slice", [probabilities, start, end, axis], "positive")
        above = g.op("Greater", [p, g.const(np.array(post.threshold), "threshold")], "above")
        g.op("Cast", [above], "label", output=output, to=7)  # INT64
        return True
    if kind == "multiclass":
        g.op("ArgMax", [probabilities], "label", output=output, axis=1, keepdims=1)
        return True
    return False
