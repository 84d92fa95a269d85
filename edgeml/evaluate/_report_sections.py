"""The report's tables: data card and quality, prep and feature decisions, search, metrics.

Each function takes the manifest (and what else it needs) and returns the body HTML of one
section; figures are added by :mod:`edgeml.evaluate._report`. Keys written by later stages
(``search``, ``leaderboard``) are read defensively: a missing key shows as ``—``, never an error.

>>> from edgeml.spec.manifest import Manifest
>>> manifest = Manifest.from_dict({"schema_version": 2, "task": "regression",
...     "target": {"name": "y"}, "model": {"file": "model.txt"}, "data_card": {"rows": 3},
...     "prep": {"columns": [], "steps": [], "row_filters": [
...         {"kind": "duplicates", "rows_removed": 1, "reason": "exact duplicate rows"}]}})
>>> "duplicates" in data_card(manifest)
True
"""

from __future__ import annotations

from dataclasses import asdict

from edgeml.spec.manifest import Manifest
from edgeml.util.html import Raw, badge, breakable, esc, fmt, key_values, note, table


def data_card(manifest: Manifest) -> str:
    """Sources with sha256, rows, columns, when read, assumptions and the rows filtered out."""
    card = manifest.data_card
    facts = [
        ("rows read", fmt(card.rows)),
        ("rows used for training", fmt(card.rows_used)),
        ("columns", fmt(card.columns)),
        ("read at", fmt(card.read_at)),
    ]
    sources = [
        [
            breakable(s.get("uri", "—")),
            Raw(f"<code>{esc(s.get('sha256') or '—')}</code>"),
            fmt(s.get("bytes")),
        ]
        for s in card.sources
    ]
    assumptions = card.assumptions
    listed = (
        "<ul>" + "".join(f"<li>{esc(a)}</li>" for a in assumptions) + "</ul>"
        if assumptions
        else note("No assumptions recorded (add them under [data] assumptions in edgeml.toml).")
    )
    filters = manifest.prep.row_filters
    filtered = (
        table(
            ["filter", "rows removed", "reason"],
            [
                [f.get("kind", "—"), fmt(f.get("rows_removed")), f.get("reason", "")]
                for f in filters
            ],
            numeric=[1],
        )
        if filters
        else note("No rows were filtered out.")
    )
    return (
        '<h3 id="data-card">Data card</h3>'
        + key_values(facts)
        + "<h4>Sources</h4>"
        + table(["source", "sha256", "bytes"], sources, numeric=[2], what="sources")
        + "<h4>Assumptions</h4>"
        + listed
        + "<h4>Row filters</h4>"
        + filtered
    )


def feature_profile(manifest: Manifest, ranked: list[str]) -> str:
    """Each model feature in training, most important first: missing share and quantiles.

    From the monitoring histograms (deciles of the training values): a glance shows a feature
    that is mostly missing, constant, or has a maximum far beyond its 90th percentile.
    """
    histograms = manifest.monitoring.features
    categorical = set(manifest.features.categorical)
    rows = []
    for name in [n for n in ranked if n in histograms]:
        hist = histograms[name]
        edges = hist.edges or ()
        if name in categorical:
            values = ["categorical", "", "", "", ""]
        elif len(edges) == 11:  # deciles: edges 0, 1, 5, 9, 10 are min, 10%, median, 90%, max
            values = [fmt(edges[i]) for i in (0, 1, 5, 9, 10)]
        else:
            # Repeated deciles were merged (a discrete feature): only the ends are known.
            low, high = (fmt(edges[0]), fmt(edges[-1])) if edges else ("—", "—")
            values = [low, "—", "—", "—", high]
        rows.append([breakable(name), f"{hist.missing or 0.0:.1%}", *values])
    if not rows:
        return ""
    return "<h3>Model features in training</h3>" + table(
        ["feature (most important first)", "missing", "min", "10%", "median", "90%", "max"],
        rows,
        numeric=range(1, 7),
        what="features",
    )


def data_quality(manifest: Manifest) -> str:
    """A few sentences on what the data held and what training could use of it."""
    card = manifest.data_card
    schema = card.schema
    roles: dict[str, str] = {c.name: c.role for c in manifest.prep.columns}
    roles.update(manifest.roles)
    counts: dict[str, int] = {}
    for column in schema:
        role = roles.get(column, "dropped")
        counts[role] = counts.get(role, 0) + 1
    by_role = ", ".join(f"{n} {role}" for role, n in sorted(counts.items(), key=lambda x: -x[1]))
    model = manifest.features.model
    generated = [name for name in model if name not in schema]
    histograms = manifest.monitoring.features
    missing = sorted(
        ((h.missing, name) for name, h in histograms.items() if h.missing), reverse=True
    )
    removed = sum(f.get("rows_removed", 0) for f in manifest.prep.row_filters)
    facts = [
        f"{fmt(card.rows)} rows × {fmt(len(schema))} columns read; "
        f"{fmt(card.rows_used)} rows used ({fmt(removed)} removed by row filters).",
        f"Columns by role: {by_role or '—'}.",
        f"The model uses {len(model)} features"
        + (f", {len(generated)} of them engineered." if generated else "."),
    ]
    if missing:
        worst = ", ".join(f"{name} {share:.1%}" for share, name in missing[:3])
        facts.append(
            f"{len(missing)} of {len(histograms)} model features have missing values in "
            f"training (most: {worst}); LightGBM routes missing values natively."
        )
    else:
        facts.append("No model feature has missing values in training.")
    return "<ul>" + "".join(f"<li>{esc(f)}</li>" for f in facts) + "</ul>"


def prep_decisions(manifest: Manifest) -> str:
    """Every column the prep plan saw: kept or dropped, and the reasons of its steps."""
    prep = manifest.prep
    schema = manifest.data_card.schema
    reasons: dict[str, list[str]] = {}
    for step in prep.steps:
        reasons.setdefault(step.column, []).extend(step.reasons)
    rows = []
    for column in prep.columns:
        name, role = column.name, column.role
        why = [column.reason, *reasons.get(name, [])]
        decision = (
            badge("dropped", "bad")
            if role == "dropped"
            else badge(
                "kept" if role == "feature" else role, "ok" if role == "feature" else "muted"
            )
        )
        origin = "input" if name in schema or not schema else "engineered"
        rows.append(
            (
                role != "dropped",
                [
                    breakable(name),
                    column.dtype,
                    origin,
                    decision,
                    "; ".join(w for w in why if w) or "—",
                ],
            )
        )
    rows.sort(key=lambda r: r[0])  # dropped columns first: they are the decisions to check
    settings = manifest.config.get("prep") or {}
    shown = ("impute", "outliers", "encoding", "scaling", "missing_indicators", "max_missing")
    setting_line = ", ".join(f"{k} = {fmt(settings[k])}" for k in shown if k in settings)
    dropped = sum(1 for keep, _ in rows if not keep)
    return note(
        f"{len(rows)} columns, {dropped} dropped. "
        + (f"Settings: {setting_line}." if setting_line else "")
    ) + table(["column", "type", "origin", "decision", "why"], [r for _, r in rows], what="columns")


def feature_decisions(manifest: Manifest) -> str:
    """The feature plan's steps and every candidate feature: kept or dropped, score, reason."""
    plan = manifest.features.feature_plan
    candidates = plan.candidates
    model = manifest.features.model
    intro = note(
        f"The model uses {len(model)} features"
        + (
            f"; {len(plan.kept or [])} of {len(candidates)} engineered candidates were kept."
            if candidates
            else "; no features were engineered (no time column, or features = none)."
        )
    )
    if not candidates:
        return intro
    steps = [
        [
            step.kind,
            breakable(", ".join(getattr(step, "columns", [])) or "—"),
            fmt({k: v for k, v in asdict(step).items() if k not in ("kind", "columns")}) or "—",
        ]
        for step in plan.steps
    ]
    ordered = sorted(candidates, key=lambda c: not c.get("kept"))
    rows = [
        [
            breakable(c.get("name", "—")),
            badge("kept", "ok") if c.get("kept") else badge("dropped", "bad"),
            fmt(c.get("score") or {}),
            c.get("reason", ""),
        ]
        for c in ordered
    ]
    return (
        intro
        + "<h4>Feature steps</h4>"
        + table(["step", "columns", "settings"], steps, what="steps")
        + "<h4>Candidates</h4>"
        + table(["feature", "decision", "score", "reason"], rows, what="candidates")
    )
