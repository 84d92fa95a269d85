"""Column screening: which input columns are useless or redundant, and why."""

from __future__ import annotations

import numpy as np
import polars as pl

from edgeml.config import PrepConfig
from edgeml.data import text_id_like
from edgeml.prep._stats import ColumnStats

# Fewer rows than this and "unique on every row" says little about a column being an identifier.
_MIN_ROWS_FOR_ID = 20
_MIN_ROWS_FOR_SPARSE_ID = 100
# Random keys (see _random_key): fewer rows than this cannot show an even spread (the sample
# quartiles' standard error is 3% of the range at 200 rows), and keys this short are as often
# codes or measurements (years, zip codes, prices in cents).
_MIN_ROWS_FOR_RANDOM_ID = 200
_MIN_KEY_DIGITS = 6
# A mostly missing column informs the target only if it is present on enough rows for a leaf
# (LightGBM's min_data_in_leaf) and the target differs there beyond chance (about 1 in 2,000
# under no difference, for each class compared).
_MIN_PRESENT_TO_SPLIT = 20
_INFORMS_Z = 3.5
# Pearson correlation is estimated on about this many rows: near |r| = 0.995 its standard
# error is below 1e-4, far finer than the threshold needs.
_CORRELATION_SAMPLE = 20_000


def screen_column(
    stats: ColumnStats,
    dtype: str,
    config: PrepConfig,
    *,
    name: str = "column",
    target: pl.Series | None = None,
    values: pl.Series | None = None,
) -> str | None:
    """The reason to drop column ``name`` before modelling, or None to keep it. A mostly
    missing column is kept when the target differs where it is present (see
    :func:`missing_informs`; ``values`` and ``target`` are the training rows')."""
    share = stats.missing / stats.rows if stats.rows else 0.0
    if share > config.max_missing and not (
        values is not None and target is not None and missing_informs(values, target)
    ):
        return f"missing in {share:.1%} of training rows (limit {config.max_missing:.0%})"
    if config.drop_constant and stats.distinct <= 1:
        shown = repr(stats.first) if stats.distinct else "nothing"
        return f"constant: holds {shown} on every non-missing training row"
    if config.drop_id_like and dtype == "int" and _random_key(stats):
        digits = len(str(int(stats.high or 0)))
        return (
            f"{stats.distinct} different integers in {stats.rows} rows, spread evenly over the "
            f"{digits}-digit numbers ({int(stats.low or 0)}..{int(stats.high or 0)}) in no row "
            "order: looks like a random identifier, which cannot generalise (to keep it: "
            f'[data] dtypes = {{ {name} = "float" }})'
        )
    if config.drop_id_like and _looks_like_id(stats, dtype):
        present = stats.rows - stats.missing
        if stats.distinct == present:
            return "unique on every row: looks like an identifier, which cannot generalise"
        return (
            f"{stats.distinct} different values in {present} rows: looks like an identifier "
            "or free text, which cannot generalise"
        )
    return None


def missing_informs(values: pl.Series, target: pl.Series) -> bool:
    """Whether the target differs between the rows where ``values`` is present and the rest,
    beyond chance (|z| >= 3.5 on the target's mean, or on any class's share for text labels),
    with enough present rows for a tree to split them off. A column recorded only for a few
    rows ("days since the last default", "pool quality") is often present exactly where the
    outcome differs: LightGBM splits on its presence, and dropping it as mostly missing cost
    0.03 of ROC AUC on such a file.

    >>> t = pl.Series([1] * 40 + [0] * 960)
    >>> missing_informs(pl.Series([5.0] * 40 + [None] * 960), t)
    True
    >>> missing_informs(pl.Series(([5.0] + [None] * 24) * 40), t)
    False
    """
    labelled = target.is_not_null()
    present = values.is_not_null().filter(labelled).to_numpy()
    if present.sum() < _MIN_PRESENT_TO_SPLIT or (~present).sum() < _MIN_PRESENT_TO_SPLIT:
        return False
    known = target.filter(labelled)
    if known.dtype.is_numeric() or known.dtype == pl.Boolean:
        columns = [known.cast(pl.Float64).to_numpy()]
    else:
        columns = [(known == label).to_numpy().astype(float) for label in known.unique()[:50]]
    return any(abs(_welch_z(y[present], y[~present])) >= _INFORMS_Z for y in columns)


def _welch_z(a: np.ndarray, b: np.ndarray) -> float:
    gap = float(a.mean() - b.mean())
    spread = a.var() / len(a) + b.var() / len(b)
    if spread == 0:  # each side constant: apart (perfectly) or alike
        return float("inf") if gap else 0.0
    return gap / float(np.sqrt(spread))


def _looks_like_id(stats: ColumnStats, dtype: str) -> bool:
    if dtype == "str":  # the profile's rule, so what it flags as id-like is what is dropped
        return text_id_like(stats.rows - stats.missing, stats.distinct)
    rows = stats.rows
    if rows < _MIN_ROWS_FOR_ID or stats.missing or dtype != "int" or stats.distinct != rows:
        return False
    # Unique integers are an id only when dense like a row number; a measurement
    # (e.g. an area in pixels) can be unique per row by chance. From 100 rows, ids spread over
    # up to 10 times as many values are ids too (a sample of a table's keys: a file split off
    # for training, then the holdout): integers that measure something repeat when drawn from
    # so few values (n draws over 10n values are all distinct with probability about
    # exp(-n/20), under 1% from 100 rows).
    span = (stats.high or 0.0) - (stats.low or 0.0) + 1
    return span <= 1.5 * rows or (rows >= _MIN_ROWS_FOR_SPARSE_ID and span <= 10 * rows)


def _random_key(stats: ColumnStats) -> bool:
    """Whether unique integers look like random keys (customer numbers drawn at random).

    Uniqueness alone proves nothing here: over a range far wider than the rows squared, a
    measurement is unique by chance too (pixel counts, bytes sent). So every sign of a key must
    be there, each one a sign against a measurement: all values of one width of at least 6
    digits and spread over most of that width (keys are numbered so; a measurement of one width
    covers a narrow band, like coordinates in microdegrees or a year of Unix times), an even
    spread (quartiles at a quarter and three quarters of the range; measurements are skewed or
    bunched), no missing values, and no trend with the row order (a key that grows with the rows
    may be a time or a sequence). A false drop costs a feature; a kept key costs little.
    """
    rows = stats.rows
    if rows < _MIN_ROWS_FOR_RANDOM_ID or stats.missing or stats.distinct != rows:
        return False
    if stats.order is None or stats.order > 0.3:  # 4 standard errors of r from 200 rows
        return False
    if None in (stats.low, stats.high, stats.q1, stats.q3):
        return False
    low, high = float(stats.low or 0.0), float(stats.high or 0.0)
    q1, q3 = float(stats.q1 or 0.0), float(stats.q3 or 0.0)
    digits = len(str(int(high)))
    floor, ceiling = 10.0 ** (digits - 1), 10.0**digits
    if digits < _MIN_KEY_DIGITS or low < floor:
        return False
    span = high - low
    if span < 0.5 * (ceiling - floor):
        return False
    return abs(q1 - (low + span / 4)) <= 0.1 * span and abs(q3 - (low + 3 * span / 4)) <= 0.1 * span


def correlated_pairs(
    frame: pl.DataFrame, columns: list[str], threshold: float, *, group: str | None = None
) -> dict[str, str]:
    """Map each column to drop onto the earlier column it nearly duplicates (|r| >= threshold).

    Missing values are filled with the column mean for the estimate, so a sparse column is not
    judged on a handful of complete rows. With ``group`` (the entity column), the correlation is
    taken within groups (see :func:`within_groups`).
    """
    if threshold >= 1.0 or len(columns) < 2 or frame.height < 3:
        return {}
    sample = frame.select([*columns, *([group] if group else [])])
    if sample.height > _CORRELATION_SAMPLE:
        # An even stride is deterministic and cheaper than a random sample.
        sample = sample.gather_every(sample.height // _CORRELATION_SAMPLE)
    matrix = sample.select(pl.col(c).cast(pl.Float64).fill_nan(None) for c in columns).to_numpy()
    if group is not None:
        matrix = within_groups(matrix, sample[group].to_numpy())
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


def within_groups(columns: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Each column minus its group's (entity's) mean, missing values kept: pooled over entities
    with different levels, every reading of a series and its lags and past means correlate near
    1 (the level), though within an entity they carry different information (yesterday against
    last week). Near-duplicates are judged on what is left.

    >>> x = np.array([[1.0], [3.0], [10.0], [14.0]])
    >>> within_groups(x, np.array(["a", "a", "b", "b"])).ravel().tolist()
    [-1.0, 1.0, -2.0, 2.0]
    """
    _, codes = np.unique(keys.astype(str), return_inverse=True)
    present = np.isfinite(columns)
    counts = np.zeros((codes.max() + 1, columns.shape[1])) if len(codes) else np.zeros((0, 0))
    sums = np.zeros_like(counts)
    np.add.at(counts, codes, present)
    np.add.at(sums, codes, np.where(present, columns, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return columns - means[codes]
