"""Small HTML builders for edgeml's pages (the report, the monitor page): escaped text, capped
tables, embedded figures, sections, and the stylesheet they share.

Everything returns a string of HTML; every piece of data passes through :func:`esc`, so a column
named ``<script>`` shows as text.

>>> table(["a"], [["<b>"]])
'<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>'
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

# A table longer than this shows its first rows and folds the rest into a <details> element.
VISIBLE_ROWS = 25
# Rows past this are not written at all (the manifest has them): a 5,000-column dataset must not
# make a 5,000-row table.
MAX_ROWS = 500


# System fonts only: the report must render the same offline, with nothing fetched.
STYLESHEET = """
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


class Raw(str):
    """HTML that is already safe: cells holding it are not escaped again."""


def esc(value: Any) -> str:
    """Text made safe for HTML; ``Raw`` passes through.

    >>> esc("a < b"), esc(Raw("<i>x</i>"))
    ('a &lt; b', '<i>x</i>')
    """
    if isinstance(value, Raw):
        return str(value)
    return html.escape(str(value), quote=True)


def breakable(name: Any) -> Raw:
    """A name that may wrap after ``_`` or ``/`` (a long feature name or path must not widen
    its table past the page, nor be broken in the middle of a word).

    >>> breakable("a_b")
    'a_<wbr>b'
    """
    return Raw(esc(name).replace("_", "_<wbr>").replace("/", "/<wbr>"))


def fmt(value: Any) -> str:
    """A number for people: 4 significant digits, thousands separators, ``—`` for missing.

    >>> fmt(0.123456), fmt(1234567), fmt(None), fmt(float("nan")), fmt(True)
    ('0.1235', '1,234,567', '—', '—', 'yes')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10_000 else f"{value:.4g}"
    if isinstance(value, dict) and {"mean", "std"} <= set(value):
        # Two digits of a spread are all it can tell.
        std = value["std"]
        spread = f"{std:.2g}" if isinstance(std, float) and math.isfinite(std) else fmt(std)
        return f"{fmt(value['mean'])} ± {spread}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def table(
    head: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    numeric: Iterable[int] = (),
    what: str = "rows",
) -> str:
    """A table; past ``VISIBLE_ROWS`` rows the rest fold away, past ``MAX_ROWS`` they are cut.

    ``numeric`` lists the column indexes to right-align.
    """
    right = set(numeric)

    def row_html(row: Sequence[Any]) -> str:
        cells = "".join(
            f'<td class="num">{esc(c)}</td>' if i in right else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        return f"<tr>{cells}</tr>"

    header = "".join(
        f'<th class="num">{esc(h)}</th>' if i in right else f"<th>{esc(h)}</th>"
        for i, h in enumerate(head)
    )
    shown = "".join(row_html(r) for r in rows[:VISIBLE_ROWS])
    out = f"<table><thead><tr>{header}</tr></thead><tbody>{shown}</tbody></table>"
    if len(rows) <= VISIBLE_ROWS:
        return out
    rest = rows[VISIBLE_ROWS:MAX_ROWS]
    folded = "".join(row_html(r) for r in rest)
    out += (
        f"<details><summary>Show {len(rest):,} more {esc(what)}</summary>"
        f"<table><thead><tr>{header}</tr></thead><tbody>{folded}</tbody></table></details>"
    )
    if len(rows) > MAX_ROWS:
        out += note(
            f"{len(rows) - MAX_ROWS:,} further {what} are left out here; manifest.json "
            "lists them all."
        )
    return out


def key_values(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column table of labelled facts."""
    rows = "".join(f'<tr><th scope="row">{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in pairs)
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def figure(png: bytes, *, alt: str, caption: str = "", ident: str = "", width: int = 0) -> str:
    """A PNG embedded as base64 (no file beside the report, no network), ``width`` CSS pixels."""
    data = base64.b64encode(png).decode("ascii")
    id_attr = f' id="{esc(ident)}"' if ident else ""
    size = f' width="{width}"' if width else ""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    image = f'<img alt="{esc(alt)}"{size} src="data:image/png;base64,{data}">'
    return f"<figure{id_attr}>{image}{cap}</figure>"


def note(text: Any) -> str:
    """A muted explanatory paragraph."""
    return f'<p class="note">{esc(text)}</p>'


def section(ident: str, title: str, body: str) -> str:
    """A top-level report section, the target of the table of contents' link ``#ident``."""
    return f'<section id="{esc(ident)}"><h2>{esc(title)}</h2>{body}</section>'


def badge(text: str, kind: str) -> Raw:
    """A coloured label (``kind``: ok, bad, muted) for kept/dropped and the like."""
    return Raw(f'<span class="badge {esc(kind)}">{esc(text)}</span>')
