"""A spreadsheet's totals row at the bottom of a CSV export, left out of the data.

Excel and LibreOffice reports end with a row such as ``Total,,,,20846,,"732,726.63"`` (often
after a blank row). Read as data it is one more row whose ``Total`` turns a column of dates
into text (a categorical of every date, where the model should get calendar parts), whose sums
are outliers, and whose blank target is an unlabelled row. It is left out, with a note for the
data card, when the file's last row (below any blank rows) starts with a totals word, leaves
some cell blank and that word appears nowhere else in its column; blank rows at the end of the
file are left out with it.

>>> day = ["1/2/2024", "1/3/2024", "1/4/2024", None, "Total"]
>>> frame = pl.DataFrame({"day": day, "n": [1, 2, 3, None, 6], "kind": ["a", "b", "a", None, None]})
>>> kept, note = drop_totals_row(frame, "r.csv")
>>> kept.height, note
(3, "r.csv: left out the last 2 row(s), a totals row ('Total') and 1 blank row(s) below the data")
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

__all__ = ["drop_totals_row"]

# English, German, Dutch, French, Italian and Spanish words a report's last row starts with.
_TOTALS = re.compile(
    r"(grand |sub-?)?totals?|sum|summe|gesamt(summe)?|insgesamt|totaal|totale?|"
    r"total g[ée]n[ée]ral|suma total",
    re.IGNORECASE,
)
_TAIL = 20  # blank rows looked at above the end of the file


def drop_totals_row(frame: pl.DataFrame, path: Path | str) -> tuple[pl.DataFrame, str | None]:
    """``frame`` (a CSV file as read) without a totals row at its end and the blank rows around
    it, and the data card's note on them; ``frame`` itself and None when it has none."""
    tail = frame.tail(_TAIL + 1)
    blank = tail.select(pl.all_horizontal(pl.all().is_null())).to_series().to_list()
    end = len(blank)
    while end and blank[end - 1]:
        end -= 1
    below = len(blank) - end  # blank rows at the very end
    if end == 0 or frame.height - below < 3:
        return frame, None
    last = frame.height - below - 1
    word = _totals_word(frame, last)
    if word is None:
        return frame, None
    above = 0  # blank rows between the data and the totals row
    while last - above - 1 >= 0 and end - above - 2 >= 0 and blank[end - above - 2]:
        above += 1
    blanks = above + below
    gone = blanks + 1
    note = f"{path}: left out the last {gone} row(s), a totals row ({word!r})"
    note += f" and {blanks} blank row(s) below the data" if blanks else " below the data"
    return frame.head(last - above), note


def _totals_word(frame: pl.DataFrame, index: int) -> str | None:
    """The totals word row ``index`` starts with, if it is a totals row: its first filled cell
    is text holding one of the words, some cell is blank, and the column has the word nowhere
    else (a column whose values include "Total" holds it as a value, not a label)."""
    row = frame.row(index)
    if None not in row:
        return None
    first = next((i for i, value in enumerate(row) if value is not None), None)
    if first is None or not isinstance(row[first], str):
        return None
    word = row[first].strip().rstrip(":").strip()
    if not _TOTALS.fullmatch(word):
        return None
    column = frame.get_column(frame.columns[first])
    return row[first] if (column == row[first]).sum() == 1 else None
