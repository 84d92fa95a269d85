"""Report figures as PNG bytes: importance, learning curves, Pareto front, output histogram.

The figures that need labelled rows are in :mod:`._plots_eval`; the building blocks in
:mod:`edgeml.util.figures`.

Figures are built with ``matplotlib.figure.Figure`` and rendered by the Agg canvas, never through
``pyplot``: no global backend is switched, no window can open, and nothing leaks between calls.
matplotlib is imported here only, and this module only when a report is written.

>>> import numpy as np
>>> importance(["a", "b"], np.array([3.0, 1.0]))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.ticker import EngFormatter

from edgeml.util.figures import new_figure, short, style_axes, to_png

# Enough bars to see which features matter; the rest are listed as a count under the figure.
TOP_FEATURES = 20
# Per-class curves beyond this many become an unreadable tangle: the most frequent classes get
# their own curve and a micro-average stands for all of them.
MAX_CLASS_CURVES = 8
# A residual scatter of more points than this is a solid blob and a large PNG.
MAX_POINTS = 4000
# Feature names on the importance plot are cut only past this (the figure widens for them).
_IMPORTANCE_CHARS = 90


def curve_classes(y: np.ndarray, n_classes: int) -> list[int]:
    """Classes that get their own one-vs-rest curve: present in ``y``, most frequent first."""
    counts = np.bincount(y, minlength=n_classes)
    present = [k for k in np.argsort(-counts, kind="stable") if 0 < counts[k] < len(y)]
    return [int(k) for k in present[:MAX_CLASS_CURVES]]


def importance(
    names: Sequence[str],
    gain: np.ndarray,
    *,
    title: str = "Feature importance (total gain)",
    xlabel: str = "total gain of the splits on the feature",
) -> bytes:
    """Horizontal bars of the ``TOP_FEATURES`` largest values (total gain, or mean absolute
    contribution), largest on top."""
    order = np.argsort(-gain, kind="stable")[:TOP_FEATURES]
    order = order[::-1]  # barh draws bottom-up
    labels = [short(names[i], _IMPORTANCE_CHARS) for i in order]
    # Room for the longest name in full: a cut name may hide the part that tells features apart.
    longest = max(len(label) for label in labels)
    fig = new_figure(min(13.0, 5.5 + 0.075 * longest), 1.2 + 0.3 * len(order))
    ax = fig.subplots()
    values = gain[order]
    ax.barh(range(len(order)), values, color="#4c72b0")
    ax.set_yticks(range(len(order)), labels, fontsize=9)
    ax.set_ylim(-0.6, len(order) - 0.4)
    total = float(gain.sum()) or 1.0
    for i, value in enumerate(values):
        ax.text(value, i, f" {value / total:.1%}", va="center", fontsize=8)
    ax.set_xlim(0, float(values.max() or 1.0) * 1.15)
    style_axes(ax, title, xlabel, "")
    # 1.2M reads better than 1200000 on the axis; the bar labels carry the exact shares.
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.grid(axis="y", alpha=0)
    return to_png(fig)


# LightGBM metrics where a larger value is better; every other one is a loss.
_HIGHER_BETTER = ("auc", "average_precision", "ndcg", "map")
# LightGBM's metric names, in words.
_METRIC_WORDS = {
    "binary_logloss": "log loss",
    "multi_logloss": "multiclass log loss",
    "l2": "mean squared error (l2)",
    "l1": "mean absolute error (l1)",
    "rmse": "root mean squared error",
    "auc": "ROC AUC",
}
_SPLIT_WORDS = {"training": "training rows", "valid": "validation slice"}


def learning_curves(curves: dict[str, dict[str, list[float]]]) -> bytes:
    """One panel per metric: training and validation values by boosting round."""
    metrics = list(dict.fromkeys(m for split in curves.values() for m in split))
    fig = new_figure(min(5.0 * len(metrics), 13), 3.8)
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics, strict=True):
        for split, values in curves.items():
            if values.get(metric):
                rounds = np.arange(1, len(values[metric]) + 1)
                ax.plot(rounds, values[metric], lw=1.6, label=_SPLIT_WORDS.get(split, split))
        valid = curves.get("valid", {}).get(metric)
        if valid:
            pick = np.argmax if metric.startswith(_HIGHER_BETTER) else np.argmin
            best = int(pick(np.asarray(valid))) + 1
            ax.axvline(best, color="grey", ls=":", lw=1, label=f"best round {best}")
        style_axes(ax, _METRIC_WORDS.get(metric, metric), "boosting round", "")
        ax.legend(fontsize=8)
    return to_png(fig)


def pareto(points: list[dict[str, Any]], metric: str, budgets: dict[str, Any]) -> bytes:
    """Metric against measured latency; marker area by model size; budget lines when set."""
    latency = np.array([float(p.get("latency_us") or 0.0) for p in points])
    value = np.array([float(p.get("metric") or 0.0) for p in points])
    size = np.array([float(p.get("size_kb") or 0.0) for p in points])
    inside = np.array([bool(p.get("within_budget", True)) for p in points])
    area = 30 + 170 * (size / size.max() if size.max() > 0 else np.zeros_like(size))
    fig = new_figure(7, 4.4)
    ax = fig.subplots()
    for mask, colour, label in (
        (inside, "#4c72b0", "within budget"),
        (~inside, "#c44e52", "over budget"),
    ):
        if mask.any():
            ax.scatter(
                latency[mask],
                value[mask],
                s=area[mask],
                alpha=0.7,
                color=colour,
                label=label,
                edgecolor="white",
            )
    order = np.argsort(latency)
    ax.plot(latency[order], value[order], color="grey", lw=0.8, zorder=0)
    limit = budgets.get("max_latency_us")
    if limit:
        ax.axvline(float(limit), color="#c44e52", ls="--", lw=1, label=f"latency budget {limit} µs")
    style_axes(ax, "Pareto front (marker area ∝ model size)", "single-row latency (µs)", metric)
    ax.legend(fontsize=8)
    return to_png(fig)


def score_distribution(output: np.ndarray, classes: Sequence[Any] | None) -> bytes:
    """Histogram of the model's output on unlabelled rows (per class for classification)."""
    fig = new_figure(7, 3.6)
    ax = fig.subplots()
    if classes is None:
        ax.hist(output, bins=40, color="#4c72b0")
        style_axes(ax, "Predicted values", "prediction", "rows")
    elif len(classes) == 2:
        ax.hist(output[:, 1], bins=40, range=(0, 1), color="#4c72b0")
        style_axes(ax, "Predicted probabilities", f"predicted P({short(classes[1], 24)})", "rows")
    else:
        shown = curve_classes(output.argmax(axis=1), len(classes)) or [0]
        for k in shown:
            ax.hist(
                output[:, k],
                bins=40,
                range=(0, 1),
                histtype="step",
                lw=1.5,
                label=short(classes[k], 24),
            )
        style_axes(ax, "Predicted probabilities per class", "predicted probability", "rows")
        ax.legend(fontsize=8)
    return to_png(fig)
