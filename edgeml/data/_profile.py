"""Data-quality profile: per-column facts, duplicates, target balance and leakage suspects.

All statistics are computed with Polars expressions in a handful of passes over the frame.

Rules worth knowing:

* ``missing`` counts nulls, plus NaN in float columns.
* Numeric statistics (mean, std, min, max, quartiles, IQR outliers) use the finite values of
  int and float columns; ``infinite`` counts the ±inf values left out. A column whose IQR is 0
  (binary, or mostly one value) has no outliers: its fences would collapse onto the mode.
* ``constant``: at most one distinct non-null value. ``near_constant``: not constant, and the most
  common value fills at least 99% of the non-null rows.
* ``id_like``: a text or integer column with at least 20 non-null values that are all distinct
  (integers) or at least 95% distinct (text). Floats, booleans and dates are never ID-like: a
  unique float is a measurement, not a key. Below 20 values uniqueness is no evidence.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
from rich.console import Console

from edgeml.data._labels import as_trained
from edgeml.data._leakage import LeakageSuspect, TargetProfile, find_leakage, target_profile
from edgeml.data._render import render_profile
from edgeml.data._schema import logical_schema
from edgeml.errors import TargetError

__all__ = ["ColumnProfile", "Profile", "profile", "text_id_like"]

_NEAR_CONSTANT = 0.99
_ID_MIN_VALUES = 20
_ID_TEXT_UNIQUE = 0.95
_IQR_K = 1.5


def text_id_like(non_null: int, distinct: int) -> bool:
    """Whether a text column's values look like keys: at least 20 present, 95% distinct.

    A category repeats; a name, an address or a free-text note mostly does not, and a model can
    learn nothing from it that holds for the next row.

    >>> text_id_like(100, 97), text_id_like(100, 60), text_id_like(10, 10)
    (True, False, False)
    """
    return non_null >= _ID_MIN_VALUES and distinct >= _ID_TEXT_UNIQUE * non_null


@dataclass(frozen=True, kw_only=True)
class ColumnProfile:
    """Facts about one column (numeric fields are None for non-numeric columns)."""

    name: str
    dtype: str
    missing: int
    missing_pct: float
    distinct: int
    top_share: float | None
    constant: bool
    near_constant: bool
    id_like: bool
    infinite: int | None = None
    outliers: int | None = None
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    q1: float | None = None
    q3: float | None = None

    @property
    def flags(self) -> list[str]:
        """Short labels of the problems found, e.g. ``["constant"]``."""
        names = ("constant", "near_constant", "id_like")
        return [n.replace("_", "-") for n in names if getattr(self, n)]


@dataclass(frozen=True, kw_only=True)
class Profile:
    """The whole report; :meth:`to_dict` for programs, :meth:`render` for people."""

    rows: int
    columns: int
    duplicate_rows: int
    column_profiles: list[ColumnProfile]
    target: TargetProfile | None = None
    leakage_suspects: list[LeakageSuspect] = field(default_factory=list)

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name`` (KeyError if there is none)."""
        for col in self.column_profiles:
            if col.name == name:
                return col
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Every fact as JSON-serialisable values; NaN and ±inf statistics become None."""
        return {
            "rows": self.rows,
            "columns": self.columns,
            "duplicate_rows": self.duplicate_rows,
            "column_profiles": {
                c.name: _finite({**asdict(c), "flags": c.flags}) for c in self.column_profiles
            },
            "target": _finite(asdict(self.target)) if self.target else None,
            "leakage_suspects": [_finite(asdict(s)) for s in self.leakage_suspects],
        }

    def render(self, console: Console) -> None:
        """Print a table of the columns and a few summary lines."""
        render_profile(self, console)


def profile(frame: pl.DataFrame, *, target: str | None = None) -> Profile:
    """Profile ``frame``; with ``target``, add its balance and columns that leak it.

    >>> p = profile(pl.DataFrame({"x": [1, 1, 2], "y": ["a", "a", "b"]}), target="y")
    >>> p.duplicate_rows, p.column("x").distinct, p.target.task
    (1, 2, 'classification')
    """
    if target is not None and target not in frame.columns:
        raise TargetError(
            f"target column {target!r} not found; columns: {', '.join(frame.columns)}"
        )
    raw = frame
    if target is not None:
        # The target as training reads it: "yes " and "YES" one class, "?" no label.
        frame = frame.with_columns(as_trained(frame[target]))
    columns = _column_profiles(frame)
    tprofile = target_profile(frame, target) if target is not None else None
    suspects: list[LeakageSuspect] = []
    if target is not None and tprofile is not None and tprofile.task is not None:
        # A constant column with some nulls stays: its missingness alone may leak the target.
        candidates = [
            c.name
            for c in columns
            if c.name != target and not c.id_like and c.distinct + (c.missing > 0) > 1
        ]
        suspects = find_leakage(frame, target=target, task=tprofile.task, candidates=candidates)
    duplicates = raw.height - raw.unique().height if raw.width else 0
    return Profile(
        rows=frame.height,
        columns=frame.width,
        duplicate_rows=duplicates,
        column_profiles=columns,
        target=tprofile,
        leakage_suspects=suspects,
    )


def _column_profiles(frame: pl.DataFrame) -> list[ColumnProfile]:
    if frame.width == 0:
        return []
    schema = logical_schema(frame)
    exprs: list[pl.Expr] = []
    for i, (name, logical) in enumerate(schema.items()):
        exprs += _column_exprs(pl.col(name), logical, f"{i}:")
    facts = frame.select(exprs).row(0, named=True)
    rows = frame.height
    out = []
    for i, (name, logical) in enumerate(schema.items()):
        f = {k.split(":", 1)[1]: v for k, v in facts.items() if k.startswith(f"{i}:")}
        non_null = rows - f["missing"]
        distinct = int(f["distinct"])
        top_share = f["top"] / non_null if non_null and f["top"] is not None else None
        out.append(
            ColumnProfile(
                name=name,
                dtype=logical,
                missing=int(f["missing"]),
                missing_pct=100.0 * f["missing"] / rows if rows else 0.0,
                distinct=distinct,
                top_share=top_share,
                constant=distinct <= 1,
                near_constant=distinct > 1
                and top_share is not None
                and top_share >= _NEAR_CONSTANT,
                id_like=text_id_like(non_null, distinct)
                if logical == "str"
                else logical == "int" and non_null >= _ID_MIN_VALUES and distinct >= non_null,
                **_numeric_facts(f) if logical in ("int", "float") else {},
            )
        )
    return out


def _column_exprs(col: pl.Expr, logical: str, prefix: str) -> list[pl.Expr]:
    """Aggregations giving one row of facts for one column; names start with ``prefix``."""
    if logical == "float":
        col = col.fill_nan(None)  # NaN counts as missing
    present = col.drop_nulls()
    exprs = [
        col.is_null().sum().alias(prefix + "missing"),
        present.n_unique().alias(prefix + "distinct"),
        present.unique_counts().max().alias(prefix + "top"),
    ]
    if logical in ("int", "float"):
        values = col.cast(pl.Float64)
        finite = values.filter(values.is_finite())
        q1 = finite.quantile(0.25, interpolation="linear")
        q3 = finite.quantile(0.75, interpolation="linear")
        iqr = q3 - q1
        # With IQR 0 (a binary or mostly-one-value column) the fences collapse onto the mode
        # and every other value would count: no fences, no outliers, as in the prep plan.
        outside = ((finite < q1 - _IQR_K * iqr) | (finite > q3 + _IQR_K * iqr)) & (iqr > 0)
        exprs += [
            values.is_infinite().sum().alias(prefix + "infinite"),
            outside.sum().alias(prefix + "outliers"),
            finite.mean().alias(prefix + "mean"),
            finite.std().alias(prefix + "std"),
            finite.min().alias(prefix + "min"),
            finite.max().alias(prefix + "max"),
            q1.alias(prefix + "q1"),
            q3.alias(prefix + "q3"),
        ]
    return exprs


def _numeric_facts(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "infinite": int(f["infinite"]),
        "outliers": int(f["outliers"] or 0),
        **{k: f[k] for k in ("mean", "std", "min", "max", "q1", "q3")},
    }


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    """Replace NaN/inf floats (not valid JSON) with None, recursively."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return {k: clean(v) for k, v in d.items()}
