"""The report's page: inline stylesheet, header with the headline metric, contents, sections.

>>> from edgeml.spec.manifest import Manifest
>>> manifest = Manifest.from_dict({"schema_version": 2, "task": "binary",
...     "target": {"name": "churn", "classes": ["No", "Yes"]}, "model": {"file": "model.txt"},
...     "prep": {"columns": [], "steps": []}})
>>> html = page(manifest, "m.edgeml", [("metrics", "Metrics", "<p>x</p>")])
>>> '<section id="metrics">' in html and 'href="#metrics"' in html
True
"""

from __future__ import annotations

from typing import Any

from edgeml.spec.manifest import Manifest
from edgeml.util.html import STYLESHEET, esc, fmt, key_values, section


def page(manifest: Manifest, bundle: str, sections: list[tuple[str, str, str]]) -> str:
    """The whole HTML document around ``sections`` (``(id, title, body HTML)`` each)."""
    title = f"edgeml report: {manifest.target.name} ({manifest.task})"
    contents = "".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t, _ in sections)
    body = "".join(section(i, t, b) for i, t, b in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLESHEET}</style></head><body><main>"
        f'<header id="summary"><h1>{esc(title)}</h1>'
        f'<p class="subtitle">{esc(bundle)} · created {esc(manifest.created_at or "—")} '
        f"· edgeml {esc(manifest.edgeml_version or '—')}</p>"
        f"{_headline(manifest)}{_overview(manifest)}<nav>{contents}</nav></header>"
        f"{body}</main></body></html>\n"
    )


def _headline(manifest: Manifest) -> str:
    """Cards with the primary metric: holdout, baseline, cross-validation."""
    metrics = manifest.metrics
    primary = metrics.primary
    if not primary:
        return ""
    cards = [
        (f"{primary} · holdout", fmt(metrics.holdout.get(primary))),
        (f"{primary} · baseline", fmt(metrics.baseline.get(primary))),
        (f"{primary} · CV mean ± std", fmt(metrics.cv.get(primary))),
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


def _overview(manifest: Manifest) -> str:
    classes = manifest.classes
    facts = [
        ("target", f"{manifest.target.name} ({manifest.task})"),
        ("classes", _classes(classes) if classes else "— (regression)"),
        (
            "model",
            f"LightGBM, {fmt(manifest.model.num_trees)} trees, "
            f"{len(manifest.features.model)} features",
        ),
        ("exported backends", ", ".join(manifest.backends) or "—"),
    ]
    return key_values(facts)


def _classes(classes: list[Any]) -> str:
    """The class labels, the first 20 of a long list."""
    shown = ", ".join(str(c) for c in classes[:20])
    return shown + (f", … ({len(classes)} classes)" if len(classes) > 20 else "")
