"""Figure building blocks shared by edgeml's pages (the report, the monitor page).

Figures are built with ``matplotlib.figure.Figure`` and rendered by the Agg canvas, never through
``pyplot``: no global backend is switched, no window can open, and nothing leaks between calls.
matplotlib is imported here, and this module only when a page with figures is written.

>>> png = to_png(new_figure(4, 2))
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", display_width(png)
(True, 400)
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

# Twice the usual screen density: text stays crisp when the browser scales the image down.
DPI = 144
_LABEL_CHARS = 40


def short(label: Any, limit: int = _LABEL_CHARS) -> str:
    """A label cut in the middle when too long, so both its start and its end stay readable.

    >>> short("temperature_rolling_mean_over_the_last_48_hours_per_machine", 30)
    'temperature_ro…urs_per_machine'
    """
    text = str(label)
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def display_width(png: bytes) -> int:
    """CSS pixels to show a figure at: 100 per inch, so every figure's text has the same size.

    >>> display_width(to_png(new_figure(8, 3)))
    800
    """
    pixels = int.from_bytes(png[16:20], "big")  # the IHDR chunk's width field
    return round(pixels * 100 / DPI)


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` × ``height`` inches whose layout keeps labels inside it."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def to_png(fig: Figure) -> bytes:
    """The figure rendered as PNG bytes (Agg, white background)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def style_axes(ax: Any, title: str, xlabel: str, ylabel: str) -> None:
    """Title on the left, axis labels, a light grid, no top or right frame."""
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
