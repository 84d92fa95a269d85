"""How a CSV file is written: its field separator, whether numbers use a decimal comma, and
whether a space follows each separator.

Spreadsheets in much of Europe export ``;``-separated files with ``1234,5`` numbers; databases
and Unix tools often write tabs or ``|``. ``[data] separator`` and ``[data] decimal_comma``
default to ``"auto"``: the first 64 KB of the file decide. The separator is the first of ``, ;
TAB |`` that splits the header into two or more fields and every sampled line into as many
(quotes respected), so a file that reads as comma-separated always does; with none consistent,
the one giving the header most fields (a comma on ties), and a ragged line is then reported as
such; a header none of them splits is split at single spaces when every sampled line splits into
as many fields so (``checking duration history class`` / ``A11 6 A34 1``). A decimal comma is
assumed when the separator is not a comma and some field is a number written with one. Some
tools and many hand-made files put a space after each separator (``age, workclass, income`` /
``39, State-gov, <=50K``, as the UCI adult files): when every field after the first on every
sampled line starts with a space, that space belongs to the separator, not to the names and
values (Python's ``csv`` calls it ``skipinitialspace``), so ``--target income`` finds its column
and ``State-gov`` is the category a clean row sends.

Excel writes (and reads) a first line ``sep=;`` naming the separator when the file's differs
from the locale's list separator. That line is not data: its separator is the file's (a given
``[data] separator`` still wins) and reading starts on the next line, the header.

Reports and exports often put a title, an export date or ``#`` comments above the header
(``Sales report`` / ``Generated 2024-03-01`` / blank / ``id,amount,y``). Such leading lines,
each blank, a ``#`` comment or a single field, are skipped when the lines after them are a
table (all split into the same two or more fields); reading starts at the header, and the data
card says how many lines were skipped. A file whose first line is its header is read as ever.

Some sheets have two header rows, codes above names (UCI's credit default file: ``,X1,X2,...,Y``
over ``ID,LIMIT_BAL,SEX,...,default payment next month``). Read with the first as the header,
the second is a row of data that makes every column text. When the first two lines hold no
number and a third or more of the columns hold numbers on every later sampled line, where the
second line has a name, the second line is the header and the first is skipped (and noted).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "prices.csv"
>>> _ = path.write_text("item;price\\nbread;2,40\\nmilk;1,05\\n")
>>> sniff_csv(path)
CsvDialect(separator=';', decimal_comma=True, initial_space=False, skip_lines=0, preamble=0)
>>> _ = path.write_text("age, job\\n39, State-gov\\n50, Self-emp\\n")
>>> dialect = sniff_csv(path)
>>> dialect.initial_space, dialect.column_names(["age", " job"])
(True, ['age', 'job'])
>>> _ = path.write_text("sep=;\\nitem;price\\nbread;2,40\\n")
>>> sniff_csv(path)
CsvDialect(separator=';', decimal_comma=True, initial_space=False, skip_lines=1, preamble=0)
>>> _ = path.write_text("Price list\\nas of 2024-03-01\\n\\nitem,price\\nbread,2.40\\n")
>>> sniff_csv(path)
CsvDialect(separator=',', decimal_comma=False, initial_space=False, skip_lines=3, preamble=3)
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from edgeml.util.missing import MISSING_WORDS

__all__ = ["SEPARATORS", "CsvDialect", "sniff_csv"]

SEPARATORS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 1 << 16
_SAMPLE_LINES = 200
_MAX_PREAMBLE = 20  # lines above a header that can be a title or comments
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+(?:[eE][-+]?\d+)?\s*$")
# Excel's separator line: one single-byte character that can separate fields (not a quote).
_SEP_LINE = re.compile(r"sep=([\t\x20-\x21\x23-\x7e])\s*", re.IGNORECASE)


@dataclass(frozen=True)
class CsvDialect:
    """A CSV file's separator and number format, as Polars' reader takes them."""

    separator: str = ","
    decimal_comma: bool = False
    initial_space: bool = False
    skip_lines: int = 0  # lines before the header (Excel's "sep=;", then the preamble)
    preamble: int = 0  # of those, a title, dates or comments above the header
    # the preamble's last line is a first header row (codes above the names)
    codes: bool = field(default=False, repr=False)

    def polars_options(self, *, whole_file: bool = True) -> dict[str, Any]:
        """Keyword arguments for ``pl.read_csv``/``pl.scan_csv`` of the file, or with
        ``whole_file=False`` of text that starts at the header."""
        options = {"separator": self.separator, "decimal_comma": self.decimal_comma}
        return {**options, "skip_lines": self.skip_lines} if whole_file else options

    def column_names(self, header: list[str]) -> list[str]:
        """The column names of a header as the file means them (without the separator's
        space where it has one); an empty one (a pandas index written by ``to_csv``) is named
        as pandas names it, ``Unnamed: 0`` by its position, so every reader finds it."""
        names = [name.lstrip(" ") for name in header] if self.initial_space else header
        return [name or f"Unnamed: {i}" for i, name in enumerate(names)]

    def tidy(self, frame: pl.DataFrame) -> pl.DataFrame:
        """A frame Polars read with this dialect under its :meth:`column_names`, its text
        without the separator's space (Polars has no ``skipinitialspace``)."""
        if not self.initial_space:
            return frame
        return frame.with_columns(pl.col(pl.String).str.strip_chars_start(" "))


def sniff_csv(
    path: Path, *, separator: str = "auto", decimal_comma: bool | str = "auto"
) -> CsvDialect:
    """The dialect of the CSV file at ``path`` (plain or gzip); ``"auto"`` values are sniffed
    from its first 64 KB, given ones are kept; a space after each separator is always sniffed.
    A first line ``sep=X`` (Excel's) names the separator and is skipped."""
    lines = _sample_lines(path)
    named = _SEP_LINE.fullmatch(lines[0]) if lines else None
    if named:
        lines = lines[1:]
    if separator == "auto" and named:
        separator = named[1]
    preamble = _preamble(lines, separator)
    lines = lines[preamble:]
    if separator == "auto":
        separator = _sniff_separator(lines)
    if decimal_comma == "auto":
        decimal_comma = separator != "," and _has_decimal_comma(lines, separator)
    codes = _codes_above_names(lines, separator)
    lines, preamble = lines[codes:], preamble + codes
    space = _has_initial_space(lines, separator)
    skip = int(bool(named)) + preamble
    return CsvDialect(separator, bool(decimal_comma), space, skip, preamble, bool(codes))


def _codes_above_names(lines: list[str], separator: str) -> int:
    """1 if the first line is a header row of codes above a second one of names (no number in
    either; names, not blanks or missing words, on the second line over the columns that hold
    numbers on every later sampled line, a third or more of them), else 0."""
    sample = [line for line in lines[:_SAMPLE_LINES] if line.strip()]
    records = list(csv.reader(sample, delimiter=separator))
    if len(records) < 4 or len({len(r) for r in records}) != 1 or len(records[0]) < 2:
        return 0
    if any(_is_number(f) for f in records[0] + records[1]):
        return 0
    numeric = [
        i
        for i in range(len(records[0]))
        if all(_is_number(r[i]) or not r[i].strip() for r in records[2:])
        and any(r[i].strip() for r in records[2:])
    ]
    named = all(records[1][i].strip().lower() not in MISSING_WORDS | {""} for i in numeric)
    return int(named and len(numeric) >= 2 and len(numeric) * 3 >= len(records[0]))


def _is_number(text: str) -> bool:
    try:
        float(text.strip().replace(",", "."))
    except ValueError:
        return False
    return True


def _sample_lines(path: Path) -> list[str]:
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    text = sample.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if len(sample) == _SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    return lines


def _preamble(lines: list[str], separator: str) -> int:
    """How many leading lines are a title or comments above the header: each blank, a ``#``
    comment or a single field, followed by lines that all split into the same two or more
    fields (with ``separator``, or any of :data:`SEPARATORS` if "auto"). 0 if the first line
    already starts such a table, or no table follows."""
    separators = SEPARATORS if separator == "auto" else (separator,)
    for start in range(min(len(lines) - 1, _MAX_PREAMBLE) + 1):
        if _table_width(lines[start:], separators) >= 2:
            return start if all(_is_title(line, separators) for line in lines[:start]) else 0
    return 0


def _table_width(lines: list[str], separators: tuple[str, ...]) -> int:
    """The number of fields every sampled non-blank line splits into with one of
    ``separators`` (the first that gives 2 or more), else 0."""
    sample = [line for line in lines[:_SAMPLE_LINES] if line.strip()]
    if not sample or sample[0] != lines[0]:
        return 0  # a table starts at a non-blank line: its header
    for sep in separators:
        counts = {len(record) for record in csv.reader(sample, delimiter=sep)}
        if len(counts) == 1 and (width := counts.pop()) >= 2:
            return width
    return 0


def _is_title(line: str, separators: tuple[str, ...]) -> bool:
    text = line.strip()
    if '"' in text:  # a quote may open a field spanning lines: not a line to skip blindly
        return False
    return not text or text.startswith("#") or not any(sep in text for sep in separators)


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
    if header_fields(best) >= 2:
        return best
    # None splits the header: a single space may (UCI's german.data and other .data files are
    # written so), when it splits every sampled line into as many fields. Not among SEPARATORS:
    # a title above the header is told from it by having no separator, and titles have spaces.
    spaced = {len(r) for r in csv.reader(sample, delimiter=" ")}
    return " " if len(spaced) == 1 and spaced.pop() >= 2 else ","


def _has_decimal_comma(lines: list[str], separator: str) -> bool:
    for record in csv.reader(lines[1:_SAMPLE_LINES], delimiter=separator):
        if any(_DECIMAL_COMMA.match(field) for field in record):
            return True
    return False


def _has_initial_space(lines: list[str], separator: str) -> bool:
    """Whether every name after the first in the header starts with a space, and every field
    after the first on the sampled rows (empty fields aside)."""
    sample = [line for line in lines[:_SAMPLE_LINES] if line.strip()]
    records = list(csv.reader(sample, delimiter=separator))
    if len(records) < 2 or len(records[0]) < 2:
        return False
    if not all(name.startswith(" ") for name in records[0][1:]):
        return False
    return all(field.startswith(" ") or not field for record in records for field in record[1:])
