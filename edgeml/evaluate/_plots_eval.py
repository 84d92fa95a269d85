"""Evaluation figures, drawn on labelled rows: ROC, precision-recall, confusion, calibration,
residuals. Shared helpers (figure, PNG, style, label cutting) live in :mod:`._plots`.

>>> import numpy as np
>>> png = confusion(np.array([0, 1, 1]), np.array([0, 1, 0]), ["No", "Yes"])
>>> png[:4] == b"\\x89PNG"
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from edgeml.evaluate._plots import MAX_POINTS, curve_classes
from edgeml.util.figures import new_figure, short, style_axes, to_png

__all__ = ["calibration", "confusion", "residuals", "roc_pr"]


def roc_pr(y: np.ndarray, proba: np.ndarray, classes: Sequence[Any]) -> bytes:
    """ROC and precision-recall curves side by side; one-vs-rest per class for multiclass.

    Multiclass curves share one legend beside the plots (class, AUC and AP), so it covers no
    curve however many classes there are.
    """
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    binary = len(classes) == 2
    fig = new_figure(10, 4.2) if binary else new_figure(12.5, 4.6)
    ax_roc, ax_pr = fig.subplots(1, 2)
    shown = [1] if binary else curve_classes(y, len(classes))
    series = [((y == k).astype(int), proba[:, k], short(classes[k], 32), "-") for k in shown]
    if not binary:
        # Micro-average: every (row, class) pair as one binary decision.
        onehot = np.eye(len(classes), dtype=int)[y]
        series.append((onehot.ravel(), proba.ravel(), "micro-average", "--"))
    for hit, score, name, style in series:
        colour = "black" if style == "--" else None
        fpr, tpr, _ = roc_curve(hit, score)
        area, ap = auc(fpr, tpr), average_precision_score(hit, score)
        label = f"{name} (AUC {area:.3f})" if binary else f"{name}: AUC {area:.3f}, AP {ap:.3f}"
        ax_roc.plot(fpr, tpr, ls=style, color=colour, lw=1.5, label=label)
        precision, recall, _ = precision_recall_curve(hit, score)
        pr_label = f"{name} (AP {ap:.3f})" if binary else None
        ax_pr.step(recall, precision, where="post", ls=style, color=colour, lw=1.5, label=pr_label)
    ax_roc.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="chance")
    style_axes(ax_roc, "ROC curve", "false positive rate", "true positive rate")
    style_axes(ax_pr, "Precision-recall curve", "recall", "precision")
    for ax in (ax_roc, ax_pr):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.03)
    if binary:
        prevalence = float(np.mean(y == 1))
        ax_pr.axhline(prevalence, color="grey", ls=":", lw=1, label=f"chance ({prevalence:.3f})")
        ax_roc.legend(fontsize=8, loc="lower right")
        ax_pr.legend(fontsize=8, loc="lower left")
    else:
        fig.legend(*ax_roc.get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    return to_png(fig)


def confusion(y: np.ndarray, predicted: np.ndarray, classes: Sequence[Any]) -> bytes:
    """K×K confusion matrix: counts in the cells, colour by share of the true class (row)."""
    from sklearn.metrics import confusion_matrix

    k = len(classes)
    counts = confusion_matrix(y, predicted, labels=list(range(k)))
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    side = min(3.2 + 0.45 * k, 11.0)
    fig = new_figure(side + 1.2, side)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of true class")
    names = [short(c, 28) for c in classes]
    if k > 3:
        # Anchored rotation puts each label's end under its own column.
        ax.set_xticks(range(k), names, rotation=40, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    if k <= 20:
        size = 10 if k <= 8 else 8 if k <= 14 else 6
        for i in range(k):
            for j in range(k):
                colour = "white" if share[i, j] > 0.6 else "black"
                ax.text(
                    j, i, f"{counts[i, j]:,}", ha="center", va="center", color=colour, fontsize=size
                )
    ax.set_title("Confusion matrix", fontsize=11, loc="left")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return to_png(fig)


def calibration(y: np.ndarray, proba: np.ndarray, classes: Sequence[Any]) -> bytes:
    """Reliability diagram over equal-count bins, with the histogram of predicted probabilities.

    Binary: P(positive class) against the observed positive rate. Multiclass: the top-label
    confidence against how often the top label was right.
    """
    if len(classes) == 2:
        score, hit = proba[:, 1], (y == 1).astype(float)
        xlabel = f"predicted P({short(classes[1], 24)})"
        ylabel = "observed frequency"
    else:
        score = proba.max(axis=1)
        hit = (proba.argmax(axis=1) == y).astype(float)
        xlabel, ylabel = "confidence of the predicted class", "accuracy"
    bins = min(10, max(2, len(y) // 20))
    order = np.argsort(score, kind="stable")
    chunks = [c for c in np.array_split(order, bins) if len(c)]
    mean_score = np.array([score[c].mean() for c in chunks])
    observed = np.array([hit[c].mean() for c in chunks])

    fig = new_figure(5.6, 5.2)
    ax, ax_hist = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfectly calibrated")
    ax.plot(mean_score, observed, "o-", lw=1.6, label=f"model ({len(chunks)} equal-count bins)")
    style_axes(ax, "Calibration", "", ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8, loc="upper left")
    ax_hist.hist(score, bins=20, range=(0, 1), color="#4c72b0")
    style_axes(ax_hist, "", xlabel, "rows")
    ax_hist.set_xlim(-0.01, 1.01)
    return to_png(fig)


def residuals(y: np.ndarray, predicted: np.ndarray) -> bytes:
    """Residuals against predictions, predicted against actual, and the error distribution."""
    error = y - predicted
    shown = np.arange(len(y))
    if len(y) > MAX_POINTS:
        shown = np.sort(np.random.default_rng(0).choice(len(y), MAX_POINTS, replace=False))
    fig = new_figure(11.5, 3.9)
    ax_res, ax_fit, ax_err = fig.subplots(1, 3)
    alpha = 0.6 if len(shown) < 500 else 0.3
    ax_res.scatter(predicted[shown], error[shown], s=8, alpha=alpha, color="#4c72b0")
    ax_res.axhline(0, color="black", lw=1)
    for ax in (ax_res, ax_fit, ax_err):
        # Five ticks at most: values like 52000 need the room.
        ax.xaxis.set_major_locator(MaxNLocator(5))
    style_axes(ax_res, "Residuals against predictions", "prediction", "actual − prediction")
    ax_fit.scatter(y[shown], predicted[shown], s=8, alpha=alpha, color="#4c72b0")
    low, high = float(min(y.min(), predicted.min())), float(max(y.max(), predicted.max()))
    ax_fit.plot([low, high], [low, high], color="grey", ls=":", lw=1, label="perfect")
    ax_fit.legend(fontsize=8, loc="upper left")
    style_axes(ax_fit, "Predicted against actual", "actual", "prediction")
    # A few huge errors would squeeze every other row into one bar: the range stops at fences
    # 5 IQR beyond the quartiles (past any normal tail) but keeps at least the central 99% of
    # rows; the rows left out are counted in the legend.
    p_low, q1, q3, p_high = (float(v) for v in np.percentile(error, [0.5, 25, 75, 99.5]))
    left = max(float(error.min()), min(q1 - 5 * (q3 - q1), p_low))
    right = min(float(error.max()), max(q3 + 5 * (q3 - q1), p_high))
    if right <= left:
        left, right = left - 0.5, right + 0.5
    outside = int(((error < left) | (error > right)).sum())
    bins = min(50, max(10, len(y) // 10))
    counts, _, _ = ax_err.hist(error, bins=bins, range=(left, right), color="#4c72b0")
    # Headroom above the tallest bar, so the legend covers no bar.
    ax_err.set_ylim(0, float(np.max(counts)) * 1.3)
    ax_err.axvline(0, color="black", lw=1)
    mae, bias = float(np.abs(error).mean()), float(error.mean())
    ax_err.axvline(bias, color="#c44e52", ls="--", lw=1.2, label=f"mean error {bias:.3g}")
    ax_err.plot([], [], " ", label=f"mean absolute error {mae:.3g}")
    if outside:
        ax_err.plot([], [], " ", label=f"{outside} rows outside the range shown")
    ax_err.legend(fontsize=8, loc="upper right", framealpha=0.9)
    style_axes(ax_err, "Error distribution", "actual − prediction", "rows")
    return to_png(fig)
