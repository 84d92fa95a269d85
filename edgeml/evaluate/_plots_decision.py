"""Figures of how a binary model decides: precision and recall against the threshold, and the
out-of-fold reliability curve before and after calibration (both from the manifest)."""

from __future__ import annotations

from typing import Any

from edgeml.spec.metrics import Decision
from edgeml.util.figures import new_figure, style_axes, to_png

__all__ = ["reliability", "threshold_curve"]


def threshold_curve(decision: Decision) -> bytes:
    """Precision and recall of the out-of-fold predictions against the threshold, with the
    chosen threshold marked."""
    curve, chosen = decision.curve or {}, float(decision.threshold)
    at = decision.out_of_fold or {}
    fig = new_figure(6.4, 4.0)
    ax = fig.subplots()
    ax.plot(curve["threshold"], curve["precision"], lw=1.6, label="precision")
    ax.plot(curve["threshold"], curve["recall"], lw=1.6, label="recall")
    ax.axvline(chosen, color="grey", ls=":", lw=1)
    if "precision" in at:
        ax.plot([chosen], [at["precision"]], "o", color="C0")
        ax.plot([chosen], [at["recall"]], "o", color="C1")
    ax.annotate(
        f"threshold {chosen:.3g} ({decision.rule})",
        (chosen, 0.02),
        xytext=(4, 0),
        textcoords="offset points",
        fontsize=8,
    )
    style_axes(ax, "Precision and recall by threshold (out of fold)", "threshold", "")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8, loc="center right")
    return to_png(fig)


def reliability(curves: dict[str, Any], method: str) -> bytes:
    """Observed positive rate against the mean predicted probability per equal-count bin."""
    fig = new_figure(5.2, 4.4)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfectly calibrated")
    labels = {"before": "LightGBM", "after": f"calibrated ({method})"}
    for name in ("before", "after") if method != "none" else ("before",):
        entry = curves[name]
        ax.plot(
            entry["predicted"],
            entry["observed"],
            "o-",
            lw=1.4,
            label=f"{labels[name]}: Brier {entry['brier']:.4f}",
        )
    style_axes(ax, "Reliability (out of fold)", "mean predicted probability", "observed rate")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8, loc="upper left")
    return to_png(fig)
