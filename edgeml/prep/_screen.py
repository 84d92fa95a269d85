"""Column screening: which input columns are useless or redundant, and why."""

from __future__ import annotations

import numpy as np
import polars as pl

from edgeml.config import PrepConfig

# Fewer rows than this and "unique on every row" says little about a column being an identifier.
_MIN_ROWS_FOR_ID = 20
# Pearson correlation is estimated on at most this many rows: enough for 3 decimals of r.
_CORRELATION_SAMPLE = 50_000


def missing_share(series: pl.Series) -> float:
    """Share of null (and, for floats, NaN) values."""
    if series.len() == 0:
        return 0.0
    missing = series.null_count()
    if series.dtype.is_float():
        missing += int(series.is_nan().sum() or 0)
    return missing / series.len()


def screen_column(series: pl.Series, dtype: str, config: PrepConfig) -> str | None:
    """The reason to drop this column before modelling, or None to keep it."""
    share = missing_share(series)
    if share > config.max_missing:
        return f"missing in {share:.1%} of training rows (limit {config.max_missing:.0%})"
    values = series.drop_nulls()
    if values.dtype.is_float():
        values = values.filter(~values.is_nan())
    distinct = values.n_unique()
    if config.drop_constant and distinct <= 1:
        shown = repr(values[0]) if distinct else "nothing"
        return f"constant: holds {shown} on every non-missing training row"
    if config.drop_id_like and _looks_like_id(values, dtype, series.len()):
        return "unique on every row: looks like an identifier, which cannot generalise"
    return None


def _looks_like_id(values: pl.Series, dtype: str, rows: int) -> bool:
    if rows < _MIN_ROWS_FOR_ID or values.len() < rows or dtype not in ("str", "int"):
        return False
    if values.n_unique() != rows:
        return False
    if dtype == "str":
        return True
    # Unique integers are an id only when dense like a row number; a measurement
    # (e.g. an area in pixels) can be unique per row by chance.
    span = float(values.max()) - float(values.min()) + 1  # type: ignore[arg-type]
    return span <= 1.5 * rows


def correlated_pairs(frame: pl.DataFrame, columns: list[str], threshold: float) -> dict[str, str]:
    """Map each column to drop onto the earlier column it nearly duplicates (|r| >= threshold).

    Missing values are filled with the column mean for the estimate, so a sparse column is not
    judged on a handful of complete rows.
    """
    if threshold >= 1.0 or len(columns) < 2 or frame.height < 3:
        return {}
    sample = frame.select(columns)
    if sample.height > _CORRELATION_SAMPLE:
        sample = sample.sample(_CORRELATION_SAMPLE, seed=0)
    matrix = sample.select(pl.col(c).cast(pl.Float64).fill_nan(None) for c in columns).to_numpy()
    means = np.nanmean(np.where(np.isfinite(matrix), matrix, np.nan), axis=0)
    matrix = np.where(np.isfinite(matrix), matrix, means)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(matrix, rowvar=False)
    dropped: dict[str, str] = {}
    for j in range(len(columns)):
        for i in range(j):
            if columns[i] in dropped:
                continue
            r = corr[i, j]
            if np.isfinite(r) and abs(r) >= threshold:
                dropped[columns[j]] = f"{columns[i]} (r={r:+.4f})"
                break
    return dropped
