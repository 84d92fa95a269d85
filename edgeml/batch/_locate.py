"""Name the line of a block of text that Polars refused to parse (only on that error path).

>>> err = bad_block(Path("d.csv"), b"1,2\\n3,4,5\\n", 10, 2, Exception("more fields than"))
>>> str(err)
'd.csv: line 11 has 3 fields; the header has 2'
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from edgeml.data import encoding_error
from edgeml.errors import SourceError

__all__ = ["bad_block"]


def bad_block(
    path: Path, block: bytes, first_line: int, width: int, exc: Exception, separator: str = ","
) -> SourceError:
    """A SourceError naming ``path`` and the line of ``block`` at fault.

    ``first_line`` is the file line ``block`` starts at; ``width`` the CSV header's number of
    fields (0 for NDJSON, whose lines are checked as JSON); ``separator`` the CSV's.
    """
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        return encoding_error(path)  # the file's encoding, line and how to re-encode it
    if width:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
        start = 0
        for record in reader:
            if len(record) > width:
                line = first_line + start
                return SourceError(
                    f"{path}: line {line} has {len(record)} fields; the header has {width}"
                )
            start = reader.line_num
    else:
        import json

        for offset, raw in enumerate(text.splitlines()):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError as error:
                return SourceError(f"{path}: line {first_line + offset} is not JSON ({error})")
            if not isinstance(value, dict):
                return SourceError(f"{path}: line {first_line + offset} is not a JSON object")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    last = first_line + max(block.count(b"\n") - 1, 0)
    return SourceError(f"{path}: cannot parse lines {first_line}-{last}: {first}")
