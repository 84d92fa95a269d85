"""Reference rows: a sample of raw training inputs stored in the bundle for the parity gate.

Stored as JSON (``{"columns": [...], "rows": [[...], ...]}``, dates as ISO text, missing as null)
so that a device-side check can read them with the standard library alone.
"""

from __future__ import annotations

import json
import math
from typing import Any

import polars as pl

from edgeml.spec.prep_plan import PrepPlan

REFERENCE_ROWS = "reference_rows.json"


def reference_rows(frame: pl.DataFrame, plan: PrepPlan, limit: int) -> bytes:
    """Up to ``limit`` evenly spaced rows of the plan's input columns, as JSON bytes.

    >>> from edgeml.prep import fit_prep
    >>> frame = pl.DataFrame({"x": [1.0, None, 3.0]})
    >>> json.loads(reference_rows(frame, fit_prep(frame), 2))["rows"]
    [[1.0], [3.0]]
    """
    columns = list(plan.input_schema)
    sample = frame.select(columns)
    if sample.height > limit:
        sample = sample.gather_every(math.ceil(sample.height / limit))
    # JSON has no NaN, infinity or dates: turn them into null and text column-wise in Polars
    # (a Python pass over every value cost more than the rest of the bundle write). Dates are
    # written as the column's own text is (its date format), else as ISO.
    formats = plan.input_formats
    sample = sample.with_columns(
        pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c)
        if dtype.is_float()
        else pl.col(c).dt.strftime(formats[c]).alias(c)
        if c in formats
        else pl.col(c).dt.to_string("iso").alias(c)
        if dtype.is_temporal()
        else pl.col(c)
        for c, dtype in sample.schema.items()
    )
    return json.dumps({"columns": columns, "rows": sample.rows()}, allow_nan=False).encode()


def load_reference_rows(content: bytes) -> tuple[list[str], list[list[Any]]]:
    """The columns and rows stored by :func:`reference_rows`."""
    payload = json.loads(content)
    return list(payload["columns"]), list(payload["rows"])
