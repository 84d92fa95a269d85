"""``edgeml monitor --report``: one self-contained HTML page of a served model's health.

Alerts, traffic and latency, drift per feature (the ``TOP_FEATURES`` largest PSIs plotted over
time, every feature in a table), the prediction's distribution against training and live
accuracy against the holdout. Like ``edgeml report``: inline styles, PNGs embedded as base64, no
script and no external link; written atomically.

>>> write_monitor_report("churn.edgeml", "monitor.html")                   # doctest: +SKIP
PosixPath('monitor.html')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeml.errors import ConfigError
from edgeml.monitor._drift import FeatureDrift, PredictionDrift
from edgeml.monitor._summary import MonitorSummary, monitor_summary
from edgeml.util.files import write_text_atomically
from edgeml.util.html import (
    STYLESHEET,
    badge,
    breakable,
    esc,
    figure,
    fmt,
    key_values,
    note,
    section,
    table,
)

__all__ = ["TOP_FEATURES", "write_monitor_report"]

#: Features drawn in the drift-over-time plot: more lines than this are a tangle.
TOP_FEATURES = 12

_BADGE = {"ok": "ok", "warn": "muted", "alert": "bad", "no data": "muted", "too few rows": "muted"}


def write_monitor_report(
    summary_or_bundle: MonitorSummary | str | Path,
    out_path: str | Path,
    *,
    log: str | Path | None = None,
    window: int | None = None,
) -> Path:
    """Write the HTML monitoring report to ``out_path`` and return the path.

    Give a :class:`MonitorSummary` already computed, or a bundle (``log`` and ``window`` then
    go to :func:`monitor_summary`).

    >>> write_monitor_report(summary, "monitor.html")                       # doctest: +SKIP
    PosixPath('monitor.html')
    """
    out = Path(out_path)
    if out.is_dir():
        raise ConfigError(f"{out}: is a directory; give the report a file name like monitor.html")
    summary = (
        summary_or_bundle
        if isinstance(summary_or_bundle, MonitorSummary)
        else monitor_summary(summary_or_bundle, log=log, window=window)
    )
    write_text_atomically(out, render(summary))
    return out


def render(summary: MonitorSummary) -> str:
    """The whole HTML document."""
    sections = [
        ("alerts", "Alerts", _alerts(summary)),
        ("traffic", "Traffic and latency", _traffic(summary)),
        ("drift", "Feature drift", _drift(summary)),
        ("prediction", "Prediction drift", _prediction(summary)),
        ("accuracy", "Live accuracy", _accuracy(summary)),
    ]
    title = f"edgeml monitor: {summary.target} ({summary.task})"
    contents = "".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t, _ in sections)
    state = (
        badge("alert", "bad") if summary.alerts
        else badge("no data", "muted") if not summary.rows
        else badge("too few rows", "muted") if summary.rows < summary.config.min_rows
        else badge("ok", "ok")
    )  # fmt: skip
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLESHEET}</style></head><body><main>"
        f'<header id="summary"><h1>{esc(title)} {state}</h1>'
        f'<p class="subtitle">{esc(summary.bundle)} · log {esc(summary.log)} · generated '
        f"{esc(_when(summary.generated_at))}</p>{_overview(summary)}<nav>{contents}</nav></header>"
        + "".join(section(i, t, b) for i, t, b in sections)
        + "</main></body></html>\n"
    )


def _overview(s: MonitorSummary) -> str:
    live = s.live
    return key_values(
        [
            ("window", f"last {fmt(s.rows)} of at most {fmt(s.window)} logged rows"),
            ("time span", f"{_when(s.start)} → {_when(s.end)}" if s.rows else "—"),
            ("drifted", fmt(s.drifted)),
            ("accuracy alert", fmt(s.accuracy_alert)),
            (f"live {live.primary}", f"{fmt(live.live)} on {fmt(live.rows)} labelled rows "
                                     f"(holdout {fmt(live.holdout)})"),
        ]
    )  # fmt: skip


def _alerts(s: MonitorSummary) -> str:
    if not s.rows:
        return note(
            f"The log {s.log} holds no predictions yet: send requests to the server, then run "
            "edgeml monitor again."
        )
    body = _list(s.alerts) if s.alerts else note("No alerts: nothing crossed a threshold.")
    if s.warnings:
        body += "<h3>Warnings</h3>" + _list(s.warnings)
    c = s.config
    return body + note(
        f"Thresholds ([monitor]): PSI warn {c.psi_warn:g}, alert {c.psi_alert:g}; missing share "
        f"rise {c.missing_alert:.0%}; outside training range {c.out_of_range_alert:.0%}; "
        f"accuracy drop {c.accuracy_drop:g}."
    )


def _traffic(s: MonitorSummary) -> str:
    from edgeml.monitor import _plots as plots

    lat = s.latency_us
    facts = key_values(
        [
            ("rows / requests", f"{fmt(s.rows)} / {fmt(s.requests)}"),
            ("throughput", f"{fmt(s.rows_per_s)} rows/s, {fmt(s.requests_per_s)} requests/s"),
            ("latency p50 / p95 / p99",
             " / ".join(fmt(lat.get(k)) for k in ("p50", "p95", "p99")) + " µs"),
            ("backends", fmt(s.backends) or "—"),
            ("model versions", fmt(s.model_versions) or "—"),
            ("unreadable input rows", fmt(s.unreadable_rows)),
        ]
    )  # fmt: skip
    if not s.rows:
        return facts
    hist = s.latency_histogram
    png = plots.latency(
        hist["edges"], hist["counts"], {k: lat[k] for k in ("p50", "p95", "p99") if k in lat},
        _mids(s), [b.latency_p50_us for b in s.series], [b.latency_p95_us for b in s.series],
    )  # fmt: skip
    return facts + _figure(png, "Latency histogram and latency over time", "latency")


def _drift(s: MonitorSummary) -> str:
    from edgeml.monitor import _plots as plots

    ranked = s.top_features(len(s.features))
    rows = [_drift_row(d) for d in ranked]
    table_html = _table(
        ["feature", "status", "PSI", "missing now", "missing in training", "outside range", "why"],
        rows,
        numeric=(2, 3, 4, 5),
        what="features",
    )
    if not s.rows or not s.series:
        return table_html
    top = [d.name for d in ranked[:TOP_FEATURES]]
    psi = {name: [b.psi.get(name) for b in s.series] for name in top}
    prediction = [b.prediction_psi for b in s.series] if s.prediction is not None else None
    png = plots.psi_over_time(_mids(s), psi, prediction, s.config.psi_warn, s.config.psi_alert)
    shown = (
        f"the {len(top)} features with the largest PSI"
        if len(s.features) > len(top)
        else ("every feature")
    )
    caption = (
        f"PSI of {shown} and of the prediction in {len(s.series)} equal time buckets; a bucket "
        "holds fewer rows than the window, so its PSI is noisier."
    )
    return _figure(png, "PSI over time", "psi-over-time", caption) + table_html


def _prediction(s: MonitorSummary) -> str:
    from edgeml.monitor import _plots as plots

    d = s.prediction
    if d is None:
        return note("The bundle has no prediction baseline (trained by an older edgeml).")
    facts = key_values(
        [("status", _status(d)), ("PSI", fmt(d.psi)), ("why", "; ".join(d.reasons) or "—")]
    )
    if not s.rows:
        return facts
    if d.kind == "classes":
        names = [str(c) for c in s.classes or ()]
        labels = [names[int(b)] if b.isdigit() and int(b) < len(names) else b for b in d.buckets]
        title = "Predicted class: training vs live"
    else:
        labels = [*_bin_labels(d.edges), "missing"]
        title = "Score distribution: training vs live"
    png = plots.distribution(labels, d.baseline_shares, d.shares, title)
    return facts + _figure(png, title, "prediction-distribution")


def _accuracy(s: MonitorSummary) -> str:
    from edgeml.monitor import _plots as plots

    live = s.live
    if not live.rows:
        return note(
            "No logged row has a label yet: send true labels with POST /feedback to measure "
            "live accuracy." + (f" {s.unknown_labels} labels matched no class." if s.unknown_labels
                                else "")
        )  # fmt: skip
    rows = [[name, fmt(value), fmt(live.holdout_metrics.get(name))]
            for name, value in live.metrics.items()]  # fmt: skip
    body = _table(["metric", "live", "holdout"], rows, numeric=(1, 2), what="metrics") + note(
        f"{live.rows} labelled rows in the window; {s.unknown_labels} labels matched no class."
        + (f" {live.reason}." if live.alert else "")
    )
    png = plots.accuracy_over_time(
        _mids(s), [b.primary for b in s.series], [b.labelled for b in s.series], live.primary,
        live.holdout, s.config.accuracy_drop,
    )  # fmt: skip
    return _figure(png, f"Live {live.primary} over time", "accuracy-over-time") + body


def _drift_row(d: FeatureDrift) -> list[Any]:
    return [
        breakable(d.name), _status(d), fmt(d.psi), _pct(d.missing), _pct(d.missing_baseline),
        _pct(d.out_of_range), "; ".join(d.reasons) or "—",
    ]  # fmt: skip


def _status(d: FeatureDrift | PredictionDrift) -> Any:
    return badge(d.status, _BADGE.get(d.status, "muted"))


def _table(head: list[str], rows: list[list[Any]], *, numeric: Sequence[int], what: str) -> str:
    return table(head, rows, numeric=numeric, what=what)


def _figure(png: bytes, alt: str, ident: str, caption: str = "") -> str:
    from edgeml.util.figures import display_width

    return figure(png, alt=alt, ident=ident, caption=caption, width=display_width(png))


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{esc(item)}</li>" for item in items) + "</ul>"


def _mids(s: MonitorSummary) -> list[float]:
    return [(b.start + b.end) / 2 for b in s.series]


def _bin_labels(edges: tuple[float, ...]) -> list[str]:
    if len(edges) < 2:
        return ["values"]
    return [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(len(edges) - 1)]


def _pct(value: float) -> str:
    return fmt(None) if value != value else f"{value:.1%}"


def _when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
