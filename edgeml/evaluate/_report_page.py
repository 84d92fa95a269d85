"""The report's page: inline stylesheet, header with the headline metric, contents, sections.

>>> html = page({"task": "binary", "target": {"name": "churn"}}, "m.edgeml",
...             [("metrics", "Metrics", "<p>x</p>")])
>>> '<section id="metrics">' in html and 'href="#metrics"' in html
True
"""

from __future__ import annotations

from typing import Any

from edgeml.evaluate._html import esc, fmt, key_values, section

# System fonts only: the report must render the same offline, with nothing fetched.
_CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9dee3; --head: #f1f4f7; --accent: #2f5d8a; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; }
header { border-bottom: 3px solid var(--accent); padding-bottom: 12px; margin-bottom: 8px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; color: var(--accent);
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
h4 { font-size: 14px; margin: 18px 0 6px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.subtitle { color: var(--muted); margin: 0; overflow-wrap: anywhere; }
.headline { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0 4px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 150px; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 20px; font-weight: 600; }
nav { margin: 14px 0 0; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; max-width: 100%; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
thead th { background: var(--head); font-weight: 600; }
tbody tr:nth-child(even) { background: #fafbfc; }
/* break-word (not anywhere) keeps short cells like 'datetime' whole; long names still wrap. */
td { overflow-wrap: break-word; }
td code { word-break: break-all; }
td:first-child { min-width: 13em; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { background: var(--head); font-weight: 600; white-space: nowrap; }
table.kv { min-width: 420px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.note { color: var(--muted); margin: 6px 0 10px; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px;
  font-weight: 600; white-space: nowrap; }
.badge.ok { background: #e3f4e8; color: #1e6b35; }
.badge.bad { background: #fbe6e6; color: #9b2226; }
.badge.muted { background: #eceff2; color: #52606d; }
figure { margin: 12px 0 18px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; max-width: 900px; }
.pair { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.pair figure { flex: 1 1 420px; max-width: 560px; }
details summary { cursor: pointer; color: var(--accent); margin: 4px 0; }
ul { margin: 6px 0 10px; padding-left: 22px; }
"""


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
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>"
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
