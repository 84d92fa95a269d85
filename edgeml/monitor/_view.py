"""``edgeml monitor`` for people: a few lines of traffic, a drift table, live accuracy, alerts.

``--json`` prints the same facts for programs (:meth:`MonitorSummary.to_dict`).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgeml.monitor._summary import MonitorSummary

__all__ = ["show_monitor"]

#: Features listed in the terminal table; the HTML report and --json have every one.
TABLE_FEATURES = 12

_STYLE = {"ok": "green", "warn": "yellow", "alert": "bold red", "no data": "dim",
          "too few rows": "dim"}  # fmt: skip


def show_monitor(console: Console, s: MonitorSummary) -> None:
    """Print the summary: header, traffic, drift table (top PSIs), accuracy, alerts."""
    console.print(f"[bold]{escape(s.bundle)}[/] · {s.task} model of {escape(repr(s.target))}")
    if not s.rows:
        console.print(f"no predictions in {escape(s.log)} yet: send requests to the server first")
        return
    lat = s.latency_us
    console.print(
        f"{s.rows:,} rows in {s.requests:,} requests from {_when(s.start)} to {_when(s.end)}"
        f" · {_num(s.rows_per_s)} rows/s · latency p50 {_num(lat.get('p50'))} "
        f"p95 {_num(lat.get('p95'))} p99 {_num(lat.get('p99'))} µs"
    )
    console.print(
        "backends: " + ", ".join(f"{escape(k)} {v:,}" for k, v in s.backends.items())
        + " · model versions: "
        + ", ".join(f"{escape(k)} {v:,}" for k, v in s.model_versions.items())
    )  # fmt: skip
    console.print(_drift_table(s))
    live = s.live
    if live.rows:
        console.print(
            f"live {live.primary} {_num(live.live)} on {live.rows:,} labelled rows "
            f"(holdout {_num(live.holdout)}) · "
            + ", ".join(f"{k} {_num(v)}" for k, v in live.metrics.items())
        )
    else:
        console.print("[dim]no labelled rows yet (POST /feedback sends true labels)[/]")
    for alert in s.alerts:
        console.print(f"[bold red]ALERT[/] {escape(alert)}")
    for warning in s.warnings:
        console.print(f"[yellow]warn[/] {escape(warning)}")
    if s.rows < s.config.min_rows:
        console.print(
            f"[dim]too few rows ({s.rows:,} < min_rows {s.config.min_rows:,}): no drift verdict "
            "yet[/]"
        )
    if not s.alerts:
        console.print("[green]no alerts[/]")


def _drift_table(s: MonitorSummary) -> Table:
    shown = s.top_features(TABLE_FEATURES)
    more = len(s.features) - len(shown)
    title = "drift (largest PSI first" + (f"; {more} more in --json/--report)" if more else ")")
    table = Table(title=title, title_justify="left")
    for name, justify in (("feature", "left"), ("status", "left"), ("PSI", "right"),
                          ("missing", "right"), ("train missing", "right"),
                          ("out of range", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    rows: list[Any] = list(shown)
    if s.prediction is not None:
        rows.append(s.prediction)
    for d in rows:
        style = _STYLE.get(d.status, "")
        table.add_row(
            escape(d.name), f"[{style}]{d.status}[/]", _psi(d.psi), _pct(d.missing),
            _pct(d.missing_baseline), _pct(d.out_of_range),
        )  # fmt: skip
    return table


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"


def _psi(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.3f}"


def _pct(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.1%}"


def _when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
