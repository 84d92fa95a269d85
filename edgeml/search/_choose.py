"""From a finished study to the manifest: one record per trial, the best trial, the Pareto front."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edgeml.errors import EdgeMLError
from edgeml.search._budget import EdgeBudget, pareto_front


@dataclass(frozen=True, kw_only=True)
class Best:
    """The chosen trial (and, under edge budgets, the Pareto front it was chosen from)."""

    number: int
    params: dict[str, Any]
    value: float
    pareto: list[dict[str, Any]] | None = None


def trial_records(study: Any, *, multi: bool) -> list[dict[str, Any]]:
    """Every trial as plain data: number, state, value, params, seconds, per-fold values.

    Under edge budgets each also has ``latency_us``, ``size_kb`` and ``within_budget``.
    """
    records = []
    for trial in study.get_trials(deepcopy=False):
        value = trial.values[0] if trial.values else None
        record: dict[str, Any] = {
            "number": trial.number,
            "state": trial.state.name.lower(),
            "value": value,
            "params": dict(trial.params),
            "seconds": round(trial.duration.total_seconds(), 3) if trial.duration else None,
            "folds": trial.user_attrs.get("folds", []),
        }
        if "stopped" in trial.user_attrs:
            record["stopped"] = trial.user_attrs["stopped"]
        if multi and trial.values:
            record["latency_us"] = trial.values[1]
            record["size_kb"] = trial.values[2]
            record["within_budget"] = all(v <= 0 for v in trial.constraints.values())
        records.append(record)
    return records


def choose_best(
    records: list[dict[str, Any]], *, metric: str, direction: str, budget: EdgeBudget
) -> Best:
    """The best complete trial (within the budget when one is given).

    Ties go to the earlier trial; under a budget, to the faster model. Raises
    :class:`EdgeMLError` when no trial finished, or none meets the budget (naming the closest).
    """
    sign = -1.0 if direction == "maximize" else 1.0
    complete = [
        r for r in records if r["state"] == "complete" and r["value"] is not None
        and not math.isnan(r["value"])
    ]  # fmt: skip
    if not complete:
        states = ", ".join(sorted({r["state"] for r in records})) or "none"
        raise EdgeMLError(
            f"the search completed no trial ({len(records)} trials: {states}); "
            "give it more time (--time-budget) or more trials (--trials)"
        )
    if not budget.active:
        best = min(complete, key=lambda r: (sign * r["value"], r["number"]))
        return Best(number=best["number"], params=best["params"], value=best["value"])
    points = [(sign * r["value"], r["latency_us"], r["size_kb"]) for r in complete]
    pareto = [
        {
            "trial": complete[i]["number"],
            "metric": complete[i]["value"],
            "latency_us": complete[i]["latency_us"],
            "size_kb": complete[i]["size_kb"],
            "params": complete[i]["params"],
            "within_budget": complete[i]["within_budget"],
        }
        for i in pareto_front(points)
    ]
    within = [r for r in complete if r["within_budget"]]
    if not within:
        closest = min(
            complete,
            key=lambda r: (
                budget.excess(latency=r["latency_us"], size_kb=r["size_kb"]),
                r["number"],
            ),
        )
        raise EdgeMLError(
            f"no model meets the edge budget ({budget.describe()}) after {len(records)} trials; "
            f"closest was trial {closest['number']}: {closest['latency_us']:.1f} µs, "
            f"{closest['size_kb']:.1f} KB, {metric} {closest['value']:.4f}. Raise the budget, "
            "run more trials, or narrow [search.space] (fewer num_leaves, a max_depth)"
        )
    best = min(within, key=lambda r: (sign * r["value"], r["latency_us"], r["number"]))
    return Best(number=best["number"], params=best["params"], value=best["value"], pareto=pareto)
