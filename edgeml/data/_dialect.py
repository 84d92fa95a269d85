"""How a CSV file is written: its field separator and whether numbers use a decimal comma.

Spreadsheets in much of Europe export ``;``-separated files with ``1234,5`` numbers; databases
and Unix tools often write tabs or ``|``. ``[data] separator`` and ``[data] decimal_comma``
default to ``"auto"``: the first 64 KB of the file decide. The separator is the first of
``, ; TAB |`` that splits the header into two or more fields and every sampled line into as many
(quotes respected), so a file that reads as comma-separated always does; with none consistent,
the one giving the header most fields (a comma on ties), and a ragged line is then reported as
such. A decimal comma is assumed when the separator is not a comma and some field is a number
written with one.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "prices.csv"
>>> _ = path.write_text("item;price\\nbread;2,40\\nmilk;1,05\\n")
>>> sniff_csv(path)
CsvDialect(separator=';', decimal_comma=True)
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SEPARATORS", "CsvDialect", "sniff_csv"]

SEPARATORS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 1 << 16
_SAMPLE_LINES = 200
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+(?:[eE][-+]?\d+)?\s*$")


@dataclass(frozen=True)
class CsvDialect:
    """A CSV file's separator and number format, as Polars' reader takes them."""

    separator: str = ","
    decimal_comma: bool = False

    def polars_options(self) -> dict[str, Any]:
        """Keyword arguments for ``pl.read_csv``/``pl.scan_csv``."""
        return {"separator": self.separator, "decimal_comma": self.decimal_comma}


def sniff_csv(
    path: Path, *, separator: str = "auto", decimal_comma: bool | str = "auto"
) -> CsvDialect:
    """The dialect of the CSV file at ``path`` (plain or gzip); ``"auto"`` values are sniffed
    from its first 64 KB, given ones are kept."""
    if separator != "auto" and decimal_comma != "auto":
        return CsvDialect(separator, bool(decimal_comma))
    lines = _sample_lines(path)
    if separator == "auto":
        separator = _sniff_separator(lines)
    if decimal_comma == "auto":
        decimal_comma = separator != "," and _has_decimal_comma(lines, separator)
    return CsvDialect(separator, bool(decimal_comma))


def _sample_lines(path: Path) -> list[str]:
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    text = sample.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if len(sample) == _SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    return lines


def _sniff_separator(lines: list[str]) -> str:
    sample = [line for line in lines[:_SAMPLE_LINES] if line.strip()]
    if not sample:
        return ","
    widths = {sep: [len(r) for r in csv.reader(sample, delimiter=sep)] for sep in SEPARATORS}
    for sep, counts in widths.items():
        if counts and counts[0] >= 2 and all(c == counts[0] for c in counts):
            return sep

    def header_fields(sep: str) -> int:
        return widths[sep][0] if widths[sep] else 0

    best = max(SEPARATORS, key=header_fields)  # the first of equals: a comma on ties
    return best if header_fields(best) >= 2 else ","


def _has_decimal_comma(lines: list[str], separator: str) -> bool:
    for record in csv.reader(lines[1:_SAMPLE_LINES], delimiter=separator):
        if any(_DECIMAL_COMMA.match(field) for field in record):
            return True
    return False
