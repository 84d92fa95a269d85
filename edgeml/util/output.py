"""Atomic writes of result tables: a temp file beside the target, then one rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

from edgeml.errors import ConfigError

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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".parquet":
            frame.write_parquet(tmp)
        elif suffix == ".csv":
            frame.write_csv(tmp)
        else:
            frame.write_ndjson(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
