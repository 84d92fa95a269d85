"""Rich rendering of a :class:`~edgeml.data.Profile` for people (``edgeml profile``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from rich.console import Console

    from edgeml.data._leakage import TargetProfile
    from edgeml.data._profile import Profile

__all__ = ["render_profile"]

_MAX_CLASSES_SHOWN = 10


def render_profile(profile: Profile, console: Console) -> None:
    """Print the column table, then rows, duplicates, target balance and leakage suspects."""
    suspects = {s.column for s in profile.leakage_suspects}
    table = Table(title=f"{profile.rows:,} rows × {profile.columns} columns")
    for header in ("column", "type", "missing %", "distinct", "outliers", "flags"):
        justify = "left" if header in ("column", "type", "flags") else "right"
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for col in profile.column_profiles:
        flags = col.flags + (["leak?"] if col.name in suspects else [])
        if col.infinite:
            flags.append(f"{col.infinite} inf")
        table.add_row(
            col.name,
            col.dtype,
            f"{col.missing_pct:.1f}",
            f"{col.distinct:,}",
            "" if col.outliers is None else f"{col.outliers:,}",
            ", ".join(flags),
            style="bold red" if col.name in suspects else None,
        )
    console.print(table)
    console.print(f"rows: {profile.rows:,}   duplicate rows: {profile.duplicate_rows:,}")
    target = profile.target
    if target is not None:
        console.print(_target_line(target))
    if profile.leakage_suspects:
        parts = [f"{s.column} ({s.method} {s.score:.3f})" for s in profile.leakage_suspects]
        console.print(f"[bold red]leakage suspects:[/] {', '.join(parts)}")
    elif target is not None and target.task is not None:
        console.print("leakage suspects: none")


def _target_line(target: TargetProfile) -> str:
    head = f"target {target.name} ({target.task or 'unknown task'}, {target.missing:,} missing)"
    if target.classes:
        shown = target.classes[:_MAX_CLASSES_SHOWN]
        parts = [f"{c['label']} {100 * c['share']:.1f}% ({c['count']:,})" for c in shown]
        more = len(target.classes) - len(shown)
        tail = f", … {more} more" if more > 0 else ""
        return f"{head}: {', '.join(parts)}{tail}"
    if target.stats:
        s = target.stats
        return (
            f"{head}: mean {_num(s['mean'])}, std {_num(s['std'])}, min {_num(s['min'])}, "
            f"median {_num(s['median'])}, max {_num(s['max'])}"
        )
    return head


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"
