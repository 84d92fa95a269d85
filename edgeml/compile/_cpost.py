"""The C package's end of the pipeline: a binary model's calibration and ``edgeml_label``.

The calibration is C text computing :class:`edgeml.runtime.Post`'s formulas in the same order
of operations (the Makefile forbids fused multiply-adds), so the package's probabilities equal
NumPy's: Platt with ``log`` and ``exp``, the isotonic table as ``numpy.interp`` computes it,
``slope * (p - x[j]) + y[j]``.

>>> print(label_function("binary", Post(threshold=0.25)).splitlines()[2])
    return out[0] > EDGEML_THRESHOLD ? 1 : 0;
"""

from __future__ import annotations

from edgeml.runtime import LOGIT_EPS, Post

__all__ = ["LABEL_API", "calibration_source", "label_function", "threshold_define"]

LABEL_API = """\
/*
 * The predicted class index of one row's outputs (out as written by edgeml_predict_row):
 * binary: 1 when out[0] > EDGEML_THRESHOLD (the decision threshold chosen in training), else
 * 0; multiclass: the first largest output; regression: -1.
 */
int edgeml_label(const double *out);
"""


def threshold_define(task: str, post: Post) -> list[str]:
    """The header's ``EDGEML_THRESHOLD`` and ``EDGEML_CALIBRATION`` lines."""
    if task != "binary":
        return []
    return [
        f"#define EDGEML_THRESHOLD {post.threshold!r}  /* class 1 when out[0] > this */",
        f'#define EDGEML_CALIBRATION "{post.method}"  /* applied to out[0] already */',
    ]


def calibration_source(task: str, post: Post) -> str:
    """``static void calibrate(double *out)`` (a no-op without calibration)."""
    if task != "binary" or post.method == "none":
        return "static void calibrate(double *out)\n{\n    (void)out;\n}\n"
    if post.method == "platt":
        return (
            "/* Platt scaling: 1 / (1 + exp(-(a * logit(p) + b))), p clamped off 0 and 1. */\n"
            "static void calibrate(double *out)\n"
            "{\n"
            f"    const double eps = {LOGIT_EPS!r}, top = {1.0 - LOGIT_EPS!r};\n"
            "    double q = out[0] < eps ? eps : (out[0] > top ? top : out[0]);\n"
            f"    double z = {post.a!r} * (log(q) - log(1.0 - q)) + {post.b!r};\n"
            "    out[0] = 1.0 / (1.0 + exp(-z));\n"
            "}\n"
        )
    n = len(post.x)
    xs = ", ".join(repr(v) for v in post.x)
    ys = ", ".join(repr(v) for v in post.y)
    return (
        "/* Isotonic calibration: linear interpolation between breakpoints, ends clamped. */\n"
        f"static const double calibration_x[{n}] = {{{xs}}};\n"
        f"static const double calibration_y[{n}] = {{{ys}}};\n"
        "static void calibrate(double *out)\n"
        "{\n"
        f"    size_t lo = 0, hi = {n - 1}, mid;\n"
        "    double p = out[0], slope;\n"
        "    if (p <= calibration_x[0]) {\n"
        "        out[0] = calibration_y[0];\n"
        "        return;\n"
        "    }\n"
        f"    if (p >= calibration_x[{n - 1}]) {{\n"
        f"        out[0] = calibration_y[{n - 1}];\n"
        "        return;\n"
        "    }\n"
        "    while (hi - lo > 1) {\n"
        "        mid = lo + (hi - lo) / 2;\n"
        "        if (calibration_x[mid] <= p) {\n"
        "            lo = mid;\n"
        "        } else {\n"
        "            hi = mid;\n"
        "        }\n"
        "    }\n"
        "    slope = (calibration_y[lo + 1] - calibration_y[lo]) /"
        " (calibration_x[lo + 1] - calibration_x[lo]);\n"
        "    out[0] = slope * (p - calibration_x[lo]) + calibration_y[lo];\n"
        "}\n"
    )


def label_function(task: str, post: Post) -> str:
    """The body of ``edgeml_label`` for ``task``."""
    if task == "binary":
        body = "    return out[0] > EDGEML_THRESHOLD ? 1 : 0;\n"
    elif task == "multiclass":
        body = (
            "    size_t k, best = 0;\n"
            "    for (k = 1; k < EDGEML_N_OUTPUTS; ++k) {\n"
            "        if (out[k] > out[best]) {\n"
            "            best = k;\n"
            "        }\n"
            "    }\n"
            "    return (int)best;\n"
        )
    else:
        body = "    (void)out;\n    return -1;\n"
    return "int edgeml_label(const double *out)\n{\n" + body + "}\n"
