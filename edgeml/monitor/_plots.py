"""The monitor report's figures as PNG bytes: drift over time, latency, accuracy, predictions.

Built like the training report's (:mod:`edgeml.util.figures`): ``matplotlib.figure.Figure``
on the Agg canvas, fixed sizes, imported only when a report is written. Each takes the plain
numbers of a :class:`~edgeml.monitor._summary.MonitorSummary`, so it can be tested alone.

>>> png = latency([100.0, 200.0, 400.0], [3.0, 1.0], {"p50": 150.0}, [], [], [])
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.dates as mdates
import numpy as np
from matplotlib.ticker import PercentFormatter

from edgeml.util.figures import new_figure, short, style_axes, to_png

__all__ = ["accuracy_over_time", "distribution", "latency", "psi_over_time"]

_ALERT, _WARN, _LIVE, _TRAIN = "#c44e52", "#dd8452", "#4c72b0", "#8c8c8c"


def psi_over_time(
    times: Sequence[float],
    psi: Mapping[str, Sequence[float | None]],
    prediction: Sequence[float | None] | None,
    warn: float,
    alert: float,
) -> bytes:
    """PSI per time bucket: one line per feature given (the caller picks the top ones), the
    prediction's thick, and the warn and alert thresholds dashed."""
    fig = new_figure(10, 4.6)
    ax = fig.subplots()
    x = _dates(times)
    colours = _palette(len(psi))
    for (name, values), colour in zip(psi.items(), colours, strict=True):
        ax.plot(x, _nan(values), marker="o", ms=3, lw=1.3, color=colour, label=short(name, 28))
    if prediction is not None:
        ax.plot(x, _nan(prediction), color="black", lw=2.4, label="prediction")
    ax.axhline(warn, color=_WARN, ls="--", lw=1, label=f"warn {warn:g}")
    ax.axhline(alert, color=_ALERT, ls="--", lw=1, label=f"alert {alert:g}")
    ax.set_ylim(bottom=0)
    style_axes(ax, "PSI against the training baseline, per time bucket", "time (UTC)", "PSI")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    _date_axis(ax)
    return to_png(fig)


def latency(
    edges: Sequence[float],
    counts: Sequence[float],
    percentiles: dict[str, float],
    times: Sequence[float],
    p50: Sequence[float],
    p95: Sequence[float],
) -> bytes:
    """Left: histogram of request latency (log scale) with p50/p95/p99 marked; right: p50 and
    p95 per time bucket (left out when there are no buckets)."""
    fig = new_figure(10, 3.6)
    left, right = (
        fig.subplots(1, 2, width_ratios=[1.2, 1]) if len(times) else (fig.subplots(), None)
    )
    if len(counts):
        e = np.asarray(edges, dtype=np.float64)
        left.bar(e[:-1], counts, width=np.diff(e), align="edge", color=_LIVE, edgecolor="white")
        # A log axis only pays off over a decade or more; below that its tick labels are noise.
        if e[0] > 0 and e[-1] >= 10 * e[0]:
            left.set_xscale("log")
    for (name, value), colour in zip(percentiles.items(), ("#55a868", _WARN, _ALERT), strict=False):
        left.axvline(value, color=colour, ls="--", lw=1, label=f"{name} {value:,.0f} µs")
    style_axes(left, "Request latency", "latency per request (µs)", "requests")
    if percentiles:
        left.legend(fontsize=8)
    if right is not None:
        x = _dates(times)
        right.plot(x, _nan(p50), marker="o", ms=3, color="#55a868", label="p50")
        right.plot(x, _nan(p95), marker="o", ms=3, color=_WARN, label="p95")
        right.set_ylim(bottom=0)
        style_axes(right, "Latency over time", "time (UTC)", "µs")
        right.legend(fontsize=8)
        _date_axis(right)
    return to_png(fig)


def accuracy_over_time(
    times: Sequence[float],
    values: Sequence[float],
    labelled: Sequence[int],
    metric: str,
    holdout: float,
    allowed_drop: float,
) -> bytes:
    """The primary metric per time bucket on its labelled rows, the holdout value and the
    alert line below it; bars (right axis) count the labelled rows behind each point."""
    fig = new_figure(10, 3.8)
    ax = fig.subplots()
    x = _dates(times)
    counts = ax.twinx()
    width = float(x[1] - x[0]) * 0.8 if len(x) > 1 else 1 / 1440  # in days: one minute
    counts.bar(x, labelled, width=width, color="#d9dee3", zorder=0)
    counts.set_ylabel("labelled rows", color=_TRAIN)
    counts.spines[["top"]].set_visible(False)
    ax.set_zorder(counts.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(x, _nan(values), marker="o", color=_LIVE, lw=1.8, label=f"live {metric}")
    if math.isfinite(holdout):
        ax.axhline(holdout, color=_TRAIN, lw=1.2, label=f"holdout {holdout:.3f}")
        ax.axhline(
            holdout - allowed_drop,
            color=_ALERT,
            ls="--",
            lw=1,
            label=f"alert below {holdout - allowed_drop:.3f}",
        )
    style_axes(ax, f"Live {metric} per time bucket", "time (UTC)", metric)
    ax.legend(fontsize=8, loc="lower left")
    _date_axis(ax)
    return to_png(fig)


def distribution(
    labels: Sequence[str], baseline: Sequence[float], live: Sequence[float], title: str
) -> bytes:
    """Side-by-side bars of the training and live shares per bucket (bin or class)."""
    n = len(labels)
    fig = new_figure(max(7.0, min(12.0, 1.0 + 0.55 * n)), 3.8)
    ax = fig.subplots()
    x = np.arange(n)
    ax.bar(x - 0.2, baseline, width=0.4, color=_TRAIN, label="training")
    ax.bar(x + 0.2, live, width=0.4, color=_LIVE, label="live window")
    ax.set_xticks(x, [short(label, 18) for label in labels], fontsize=8, rotation=30, ha="right")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    style_axes(ax, title, "", "share of rows")
    ax.legend(fontsize=8)
    return to_png(fig)


def _dates(times: Sequence[float]) -> np.ndarray:
    """Unix seconds as matplotlib's date numbers (days since its 1970 epoch, in UTC)."""
    return np.asarray(times, dtype=np.float64) / 86_400.0


def _date_axis(ax: Any) -> None:
    ax.xaxis_date()
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _nan(values: Sequence[float | None]) -> np.ndarray:
    """Values with ``None`` as NaN (matplotlib leaves a gap)."""
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


def _palette(n: int) -> list[str]:
    """Up to 12 distinguishable colours (tab10 plus two)."""
    base = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860",
            "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd", "#1f2933", "#a6761d"]  # fmt: skip
    return [base[i % len(base)] for i in range(n)]
