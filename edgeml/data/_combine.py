"""The files of a glob (or a partitioned Parquet directory) as one table.

Monthly exports grow columns: January's file has ``a, b, label`` and February's ``a, b, c,
label``. The table holds every column any file has (in order of first appearance); a column a
file lacks is null in that file's rows, and the data card names those files and columns. A
column typed differently in two files is unified as the one-file reader would type it (Float64
for numbers, else text that type inference reads again). Refused, naming the file and column:
a nested value (list, struct, binary) against another type, which no cast can carry, and a
``required`` column (the target) that some files lack: their rows would silently be unlabelled.

>>> from pathlib import Path
>>> import polars as pl
>>> frame, notes = combine_files(
...     [pl.DataFrame({"a": [1]}), pl.DataFrame({"a": [2.5], "c": ["x"]})],
...     [Path("d/2024-01.csv"), Path("d/2024-02.csv")],
... )
>>> frame.columns, notes
(['a', 'c'], ["columns missing from some files are null in their rows: d/2024-01.csv lacks 'c'"])
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import polars as pl

from edgeml.errors import SchemaError, SourceError

__all__ = ["absent_note", "combine_files", "required_everywhere"]

# Files named in the note on absent columns; more are counted, not listed.
_SHOWN_FILES = 5


def combine_files(
    frames: Sequence[pl.DataFrame], paths: Sequence[Path], required: Collection[str] = ()
) -> tuple[pl.DataFrame, list[str]]:
    """The frames of ``paths`` as one frame, and the data card's note on absent columns."""
    if len(frames) == 1:
        return frames[0], []
    required_everywhere({p: f.columns for p, f in zip(paths, frames, strict=True)}, required)
    union = list(dict.fromkeys(c for f in frames for c in f.columns))
    casts: dict[str, pl.DataType] = {}
    for name in union:
        held = {p: f.schema[name] for p, f in zip(paths, frames, strict=True) if name in f.columns}
        dtypes = set(held.values()) - {pl.Null()}
        if len(dtypes) <= 1:
            continue
        _refuse_nested(name, held)
        casts[name] = pl.Float64() if all(d.is_numeric() for d in dtypes) else pl.String()
    cast = [f.cast({c: t for c, t in casts.items() if c in f.columns}) for f in frames]
    try:
        frame = pl.concat(cast, how="diagonal_relaxed").select(union)
    except pl.exceptions.PolarsError as exc:  # pragma: no cover - the casts above unify types
        raise SourceError(f"{paths[0].parent}: cannot combine the files: {exc}") from None
    note = absent_note({p: f.columns for p, f in zip(paths, frames, strict=True)})
    return frame, [note] if note else []


def required_everywhere(columns: dict[Path, list[str]], required: Collection[str]) -> None:
    """Refuse a ``required`` column (the target) that some files hold and others lack (one
    that no file holds is left to the caller's 'column not found', which suggests names)."""
    for name in required:
        lacking = [p for p, names in columns.items() if name not in names]
        if lacking and len(lacking) < len(columns):
            holder = next(p for p in columns if p not in lacking)
            raise SchemaError(
                f"{lacking[0]}: no column {name!r} (the target), which {holder} has; every file "
                "must hold it (its rows would have no labels)"
            )


def absent_note(columns: dict[Path, list[str]]) -> str | None:
    """One note naming the files that lack columns other files hold, and those columns."""
    union = list(dict.fromkeys(c for names in columns.values() for c in names))
    absent = {p: [c for c in union if c not in names] for p, names in columns.items()}
    lacking = {p: cols for p, cols in absent.items() if cols}
    if not lacking:
        return None
    shown = [f"{p} lacks {', '.join(map(repr, cols))}" for p, cols in lacking.items()]
    more = len(shown) - _SHOWN_FILES
    listed = "; ".join(shown[:_SHOWN_FILES]) + (f"; and {more} more files" if more > 0 else "")
    return f"columns missing from some files are null in their rows: {listed}"


def _refuse_nested(name: str, held: dict[Path, pl.DataType]) -> None:
    """A list, struct or binary column against another type: no cast carries its values (a
    struct cast to text reads '{1}'), so the files must agree first."""
    nested = [(p, d) for p, d in held.items() if d.is_nested() or d == pl.Binary]
    if not nested:
        return
    path, dtype = nested[0]
    other, theirs = next((p, d) for p, d in held.items() if d != dtype and d != pl.Null)
    raise SchemaError(
        f"{path}: column {name!r} holds {dtype} values but {other} holds {theirs}; the files "
        "must agree on its type (or leave it out of one of them)"
    )
