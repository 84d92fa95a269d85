"""The report's page: inline stylesheet, header with the headline metric, contents, sections.

>>> html = page({"task": "binary", "target": {"name": "churn"}}, "m.edgeml",
...             [("metrics", "Metrics", "<p>x</p>")])
>>> '<section id="metrics">' in html and 'href="#metrics"' in html
True
"""

from __future__ import annotations

from typing import Any

from edgeml.util.html import STYLESHEET, esc, fmt, key_values, section


def page(manifest: dict[str, Any], bundle: str, sections: list[tuple[str, str, str]]) -> str:
    """The whole HTML document around ``sections`` (``(id, title, body HTML)`` each)."""
    target = manifest.get("target", {})
    title = f"edgeml report: {target.get('name', '?')} ({manifest.get('task', '?')})"
    contents = "".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t, _ in sections)
    body = "".join(section(i, t, b) for i, t, b in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLESHEET}</style></head><body><main>"
        f'<header id="summary"><h1>{esc(title)}</h1>'
        f'<p class="subtitle">{esc(bundle)} · created {esc(manifest.get("created_at", "—"))} '
        f"· edgeml {esc(manifest.get('edgeml_version', '—'))}</p>"
        f"{_headline(manifest)}{_overview(manifest)}<nav>{contents}</nav></header>"
        f"{body}</main></body></html>\n"
    )


def _headline(manifest: dict[str, Any]) -> str:
    """Cards with the primary metric: holdout, baseline, cross-validation."""
    metrics = manifest.get("metrics", {})
    primary = metrics.get("primary")
    if not primary:
        return ""
    cards = [
        (f"{primary} · holdout", fmt(metrics.get("holdout", {}).get(primary))),
        (f"{primary} · baseline", fmt(metrics.get("baseline", {}).get(primary))),
        (f"{primary} · CV mean ± std", fmt(metrics.get("cv", {}).get(primary))),
    ]
    return (
        '<div class="headline">'
        + "".join(
            f'<div class="card"><div class="label">{esc(label)}</div>'
            f'<div class="value">{esc(value)}</div></div>'
            for label, value in cards
        )
        + "</div>"
    )


def _overview(manifest: dict[str, Any]) -> str:
    target = manifest.get("target", {})
    model = manifest.get("model", {})
    classes = target.get("classes")
    facts = [
        ("target", f"{target.get('name', '—')} ({manifest.get('task', '—')})"),
        ("classes", _classes(classes) if classes else "— (regression)"),
        (
            "model",
            f"LightGBM, {fmt(model.get('num_trees'))} trees, "
            f"{len(manifest.get('features', {}).get('model', []))} features",
        ),
        ("exported backends", ", ".join(manifest.get("backends", {})) or "—"),
    ]
    return key_values(facts)


def _classes(classes: list[Any]) -> str:
    """The class labels, the first 20 of a long list."""
    shown = ", ".join(str(c) for c in classes[:20])
    return shown + (f", … ({len(classes)} classes)" if len(classes) > 20 else "")
