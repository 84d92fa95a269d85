"""The message for a column a user named that the data does not have.

Two near misses are common enough to say so by name: a header written with a space or in
another case (``"income "`` from a spreadsheet, ``Churn`` for ``churn``), whose difference a
plain list of names hides; and a file with no header row, whose first row of values was read
as the names.

>>> print(column_not_found("income", "--target", ["age", "income ", "job"], source="a.csv"))
a.csv: column 'income' (from --target) not found; did you mean 'income '? columns are: 'age', \
'income ', 'job'
>>> column_not_found("y", "--target", ["U1", "70", "2.5", "x"], source="b.csv").split(" (")[-1]
'the first line looks like data: does the file have a header row?)'
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["BUNDLE_ID_COLS", "column_not_found"]

#: What named an id column that a bundle carries ([train] id_cols) when predict was given none.
BUNDLE_ID_COLS = "the bundle's id_cols; choose others with --id-cols"
# More names than this are cut from the message, which stays one line.
_MAX_SHOWN = 60


def column_not_found(column: str, option: str, columns: Sequence[str], *, source: str) -> str:
    """One line: ``column`` (given by ``option``) is not among ``columns`` of ``source``, with
    the name the user probably meant and a hint when the header looks like a row of data."""
    key = column.strip().casefold()
    near = [c for c in columns if c.strip().casefold() == key]
    hint = f"did you mean {near[0]!r}? " if len(near) == 1 else ""
    shown = ", ".join(repr(c) for c in columns[:_MAX_SHOWN])
    if len(columns) > _MAX_SHOWN:
        shown += f", ... ({len(columns)} in all)"
    message = f"{source}: column {column!r} (from {option}) not found; {hint}columns are: {shown}"
    numbers = sum(_is_number(c) for c in columns)
    if not near and numbers and numbers * 2 >= len(columns):
        message += " (the first line looks like data: does the file have a header row?)"
    return message


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
