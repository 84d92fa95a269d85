"""The report's result tables: metrics beside the baseline, the leaderboard and the search.

The leaderboard and search are written into the manifest by the search (stage 4) and read here
generically, one column per key, so a field added there shows up without a change here.

>>> _heading("latency_us")
'latency (µs)'
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from edgeml.metrics import higher_is_better
from edgeml.spec.manifest import Manifest
from edgeml.util.html import Raw, badge, esc, fmt, key_values, note, table


def metrics(manifest: Manifest, evaluation: dict[str, Any] | None, source: str) -> str:
    """Holdout beside the trivial baseline, CV mean ± std, and the ``--data`` scores if any."""
    scores = manifest.metrics
    holdout, baseline, cv, primary = scores.holdout, scores.baseline, scores.cv, scores.primary
    head = ["metric", "holdout", "baseline", "vs baseline", "CV mean ± std"]
    if evaluation:
        # The file name only: a long path would widen every column (the note has the whole).
        name = PurePath(source).name if "://" not in source else "DATA"
        head += [f"on {name}", f"baseline on {name}"]
    rows = []
    for metric in dict.fromkeys([*holdout, *cv]):
        label: Any = (
            Raw(f"<strong>{esc(metric)}</strong> (primary)") if metric == primary else metric
        )
        row = [
            label,
            fmt(holdout.get(metric)),
            fmt(baseline.get(metric)),
            _versus(metric, holdout.get(metric), baseline.get(metric)),
            fmt(cv.get(metric)),
        ]
        if evaluation:
            row += [fmt(evaluation["metrics"].get(metric)), fmt(evaluation["baseline"].get(metric))]
        rows.append(row)
    facts = note(
        f"Holdout: {fmt(scores.rows.holdout)} rows ({scores.split or '—'} split), trained on "
        f"{fmt(scores.rows.train)} rows; {fmt(scores.cv_folds)}-fold cross-validation. "
        "Baseline: the majority class (classification) or the training mean (regression)."
        + (f" {source}: {fmt(evaluation['rows'])} labelled rows." if evaluation else "")
    )
    return facts + table(head, rows, numeric=range(1, len(head)))


def _versus(name: str, model: Any, baseline: Any) -> Any:
    """Model minus baseline, green when better and red when worse (lower is better for losses)."""
    if not isinstance(model, int | float) or not isinstance(baseline, int | float):
        return "—"
    try:
        better = (model > baseline) == higher_is_better(name)
    except ValueError:
        return fmt(model - baseline)
    kind = "ok" if better or model == baseline else "bad"
    return badge(f"{model - baseline:+.4g}", kind)


def leaderboard(manifest: Manifest) -> str:
    """The model families compared under the same folds, as the search wrote them.

    Read generically (one column per key) so a new field in the search's output shows up
    without a change here.
    """
    entries = list(manifest.leaderboard.candidates) if manifest.leaderboard else []
    columns = list(dict.fromkeys(k for entry in entries for k in entry))
    rows = [[_cell(entry.get(k)) for k in columns] for entry in entries]
    numeric = [
        i
        for i, k in enumerate(columns)
        if all(
            isinstance(e[k], int | float | dict) and not isinstance(e[k], bool)
            for e in entries
            if e.get(k) is not None
        )
    ]
    return table([_heading(c) for c in columns], rows, numeric=numeric, what="models")


_UNITS = {"_us": " (µs)", "_kb": " (KB)", "_seconds": " (s)", "_bytes": " (bytes)"}


def _heading(key: str) -> str:
    """A column heading from a key: ``latency_us`` → ``latency (µs)``.

    >>> _heading("train_seconds")
    'train (s)'
    """
    for suffix, unit in _UNITS.items():
        if key.endswith(suffix):
            return key[: -len(suffix)].replace("_", " ") + unit
    return key.replace("_", " ")


def search_summary(search: dict[str, Any]) -> str:
    """The search's scalar facts (method, trials, budget, best value) and its best parameters."""
    facts = [(_heading(k), fmt(v)) for k, v in search.items() if not isinstance(v, dict | list)]
    out = key_values(facts) if facts else ""
    for key, value in search.items():
        if isinstance(value, dict) and value:
            out += f"<h4>{esc(key.replace('_', ' '))}</h4>"
            out += key_values([(k, fmt(v)) for k, v in value.items()])
    pareto = search.get("pareto") or []
    if pareto:
        out += "<h4>Pareto front</h4>" + table(
            ["metric", "latency (µs)", "size (KB)", "within budget", "parameters"],
            [
                [
                    fmt(p.get("metric")),
                    fmt(p.get("latency_us")),
                    fmt(p.get("size_kb")),
                    badge("yes", "ok") if p.get("within_budget") else badge("no", "bad"),
                    fmt(p.get("params") or {}),
                ]
                for p in pareto
            ],
            numeric=[0, 1, 2],
            what="points",
        )
    return out


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return badge("yes", "ok") if value else badge("no", "muted")
    return fmt(value)
