"""Atomic writes of result tables: a temp file beside the target, then one rename."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from edgeml.errors import ConfigError
from edgeml.util.files import atomic_path

FORMATS = (".parquet", ".csv", ".ndjson", ".jsonl")


def write_frame(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as Parquet, CSV or NDJSON (by extension), never leaving half a file.

    >>> import tempfile
    >>> out = write_frame(pl.DataFrame({"a": [1]}), tempfile.mkdtemp() + "/p.csv")
    >>> out.read_text()
    'a\\n1\\n'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(
            f"{path}: cannot write {suffix or 'a file without extension'}; "
            f"expected one of: {', '.join(FORMATS)}"
        )
    with atomic_path(path) as temp:
        if suffix == ".parquet":
            frame.write_parquet(temp)
        elif suffix == ".csv":
            frame.write_csv(temp)
        else:
            frame.write_ndjson(temp)
    return path
