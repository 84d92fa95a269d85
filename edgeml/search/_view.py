"""What ``edgeml train`` prints about a search and a leaderboard (``--json`` has the same facts)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from edgeml.search._leaderboard import leaderboard_table


def show_tuning(console: Console, result: dict[str, Any]) -> None:
    """The search summary, the Pareto front under budgets, and the leaderboard, when present."""
    found = result.get("search")
    if found:
        states = ", ".join(f"{n} {s}" for s, n in found["states"].items())
        reused = f", {found['reused_trials']} reused" if found["reused_trials"] else ""
        console.print(
            f"search ({found['method']}, {found['sampler']}): {found['n_trials']} trials "
            f"({states}{reused}) in {found['seconds']:.0f}s; best {found['metric']} "
            f"{found['best_value']:.4f}"
        )
        console.print(_params_table(found["best_params"]))
        if found.get("pareto"):
            console.print(_pareto_table(found))
        console.print(f"study: {found['storage']} ({found['study_name']})")
    if result.get("leaderboard"):
        console.print(leaderboard_table(result["leaderboard"]))


def _params_table(params: dict[str, Any]) -> Table:
    table = Table(title="best parameters", title_justify="left")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for name, value in params.items():
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    return table


def _pareto_table(found: dict[str, Any]) -> Table:
    budget = found["budget"]
    limits = [
        f"{budget[k]:g} {unit}"
        for k, unit in (("max_latency_us", "µs"), ("max_model_kb", "KB"))
        if budget.get(k) is not None
    ]
    table = Table(title=f"Pareto front (budget {', '.join(limits)})", title_justify="left")
    for column in ("trial", found["metric"], "µs/row", "size KB", "within budget"):
        table.add_column(column, justify="right")
    for point in sorted(found["pareto"], key=lambda p: p["size_kb"]):
        table.add_row(
            str(point["trial"]),
            f"{point['metric']:.4f}",
            f"{point['latency_us']:.1f}",
            f"{point['size_kb']:.1f}",
            "yes" if point["within_budget"] else "no",
        )
    return table
