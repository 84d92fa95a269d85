"""Rich renderings of command results for people (``--json`` prints the same facts for programs)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def metrics_table(
    title: str,
    holdout: dict[str, float],
    baseline: dict[str, float],
    cv: dict[str, dict[str, float]] | None = None,
) -> Table:
    """One row per metric: model, trivial baseline, and CV mean ± std when given."""
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    if cv:
        table.add_column("cv mean ± std", justify="right")
    table.add_column("model", justify="right")
    table.add_column("baseline", justify="right")
    for name in holdout or (cv or {}):
        row = [name]
        if cv:
            stats = cv.get(name, {})
            row.append(f"{_fmt(stats.get('mean'))} ± {_fmt(stats.get('std'))}")
        row += [_fmt(holdout.get(name)), _fmt(baseline.get(name))]
        table.add_row(*row)
    return table


def show_training(console: Console, result: dict[str, Any]) -> None:
    """The summary ``edgeml train`` prints."""
    metrics = result["metrics"]
    rows = result["rows"]
    console.print(
        f"{result['task']} model of {result['target']!r} on {result['features']} features "
        f"({rows['train']} training rows, {rows['holdout']} holdout rows"
        + (f"; then refitted on all {rows['final']})" if rows.get("final") else ")")
    )
    console.print(
        metrics_table("holdout metrics", metrics["holdout"], result["baseline"], metrics["cv"])
    )
    for name, reason in result.get("dropped_columns", {}).items():
        console.print(f"left out column {name!r}: {reason}", markup=False)
    for removed in result.get("rows_removed", []):
        console.print(f"left out {removed['rows_removed']} rows: {removed['reason']}", markup=False)
    for note in result.get("notes", []):
        console.print(f"note: {note}", markup=False)
    show_decision(console, result)
    console.print(f"bundle: {result['bundle']}")


def show_evaluation(console: Console, report: dict[str, Any]) -> None:
    """The summary ``edgeml evaluate`` prints."""
    console.print(f"{report['task']} model {report['bundle']} on {report['rows']} labelled rows")
    console.print(metrics_table("metrics", report["metrics"], report["baseline"]))
    show_decision(console, report)


def decision_line(result: dict[str, Any]) -> str | None:
    """``decision threshold 0.31 (f1; default: ...), calibration isotonic`` of a binary model."""
    decision = result.get("decision")
    if not decision:
        return None
    method = result.get("calibration", {}).get("method", "none")
    return (
        f"decision threshold {decision['threshold']:.4g} ({decision['rule']}; "
        f"{decision['reason']}), calibration {method}"
    )


def show_decision(console: Console, result: dict[str, Any]) -> None:
    line = decision_line(result)
    if line:
        console.print(line, markup=False)


def show_demo(console: Console, result: dict[str, Any]) -> None:
    """The summary ``edgeml demo`` prints."""
    quality = result["quality"]
    console.print(
        f"sensor fleet: {quality['rows']} rows × {quality['columns']} columns, "
        f"{quality['duplicate_rows']} duplicate rows, {quality['missing_cells']} missing values, "
        f"{quality['outliers']} outliers (IQR)"
    )
    features = result["features"]
    console.print(
        f"features: {len(features['kept'])} of {features['candidates']} per-machine candidates "
        f"kept ({', '.join(features['kept']) or 'none'}); holdout {features['metric']} "
        f"{features['holdout_with']:.4f} with them vs {features['holdout_without']:.4f} without"
    )
    show_training(console, result["training"])
    deploy = result.get("deploy")
    if deploy:
        monitor = deploy["monitor"]
        latency, live = monitor["latency_us"], monitor["live"]
        drift = "drift alerts: " + "; ".join(monitor["alerts"]) if monitor["alerts"] else "no drift"
        console.print(
            f"served over HTTP ({deploy['backend']}): {deploy['requests']} requests (the newest "
            "readings, kept out of training), latency "
            f"p50 {latency['p50']:.0f} µs / p99 {latency['p99']:.0f} µs; live {live['primary']} "
            f"{_number(live['live'])} on {live['rows']} labels sent back; {drift}"
        )
        console.print(f"log: {deploy['log']} (edgeml monitor reads it)")
    console.print(f"data: {result['data']}")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def show_export(console: Console, result: dict[str, Any]) -> None:
    """The summary ``edgeml export`` prints: the artifact, its size, parity, where it went."""
    info, parity = result["info"], result["parity"]
    if result["format"] == "docker":
        console.print(
            f"wrote a Docker build context for {result['bundle']} to {result['out']} "
            f"({len(result['files'])} files); build it with: docker build -t NAME {result['out']}"
        )
        return
    main = info.get("library") or (result["files"] or ["model.txt"])[0]
    console.print(
        f"exported {result['bundle']} as {result['format']} for {result.get('target', 'host')}: "
        f"{main}, {info.get('size_bytes', 0):,} bytes"
    )
    if "footprint" in info:
        size = info["footprint"]
        console.print(
            f"footprint: code {size['code_bytes']:,} bytes, tables {size['table_bytes']:,} bytes, "
            f"stack {size['stack_bytes']:,} bytes per call, no heap"
        )
    elif "code_size_bytes" in info:
        console.print(f"code size: {info['code_size_bytes']:,} bytes")
    if parity.get("rows"):
        console.print(
            f"parity: max abs diff {parity['max_abs_diff']:.3g} over {parity['rows']} rows "
            f"(tolerance {parity['tolerance']:g})"
        )
    console.print(f"bundle: {result['bundle']}")
    if result.get("out"):
        console.print(f"copied to: {result['out']}")
