"""The messages for columns a model or a user asks of the data: one wording for every command.

``predict`` (streamed in batches) and ``evaluate`` / ``Model.predict`` (read whole) check the
same input contract: they word a missing column and a value that does not convert with the
functions here, so a user sees one message for one fault whichever command met it.

>>> missing_columns("a.csv", ["x"], ["x", "y"])
"a.csv: missing column(s) 'x'; the model needs: x, y"
>>> bad_value("a.csv", "x", 4, "cannot convert 'many' to float", line=5)
"a.csv: column 'x' row 4 (line 5): cannot convert 'many' to float"

A column a user named that the data does not have gets the name it probably meant:

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

__all__ = [
    "BUNDLE_ID_COLS",
    "NO_HEADER_HINT",
    "bad_value",
    "column_not_found",
    "header_looks_like_data",
    "missing_columns",
]

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
    if not near and header_looks_like_data(columns):
        message += f" ({NO_HEADER_HINT})"
    return message


#: What a message adds when the names read from a file's first line are mostly numbers.
NO_HEADER_HINT = "the first line looks like data: does the file have a header row?"


def header_looks_like_data(columns: Sequence[str]) -> bool:
    """Whether a third or more of the names read from a first line are numbers, as the values
    of a file with no header row are (UCI's adult.data: ``39, State-gov, 77516, ...``, 6 of
    its 15 fields): a header names its columns in words, year columns aside.

    >>> header_looks_like_data(["39", " State-gov", "77516"]), header_looks_like_data(["a", "b"])
    (True, False)
    """
    numbers = sum(_is_number(c) for c in columns)
    return numbers > 0 and numbers * 3 >= len(columns)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def missing_columns(
    source: str, missing: Sequence[str], needed: Sequence[str], present: Sequence[str] = ()
) -> str:
    """One line: the model's input columns ``missing`` from ``source``, and all it ``needed``;
    with the file's columns (``present``), the ones whose names differ from a missing one only
    in spaces or case (a spreadsheet's 'Age ' trained on, 'Age' in the next export).

    >>> missing_columns("new.csv", ["Age ", "x"], ["Age ", "x"], ["age", "y"])
    "new.csv: missing column(s) 'Age ', 'x' (the file has 'age': names differ in spaces or \
case); the model needs: Age , x"
    """
    keys = {c.strip().casefold(): c for c in present}
    near = [keys[k] for k in (c.strip().casefold() for c in missing) if k in keys]
    hint = ""
    if near:
        hint = f" (the file has {', '.join(repr(c) for c in near)}: names differ in spaces or case)"
    return (
        f"{source}: missing column(s) {', '.join(repr(c) for c in missing)}{hint}; "
        f"the model needs: {', '.join(needed)}"
    )


def bad_value(source: str, column: str, row: int, detail: str, *, line: int | None = None) -> str:
    """One line: ``column`` of ``source`` at 1-based ``row`` (and its text ``line`` when the
    reader knows it) does not fit, ``detail`` saying what it holds and what was expected."""
    where = f"row {row}" if line is None else f"row {row} (line {line})"
    return f"{source}: column {column!r} {where}: {detail}"
