"""Time-series training at scale: the time-ordered split, decided row by row, and whole entities.

``edgeml.train`` sorts the labelled rows by time (ties keep the file order) and holds out the
latest ``[train] holdout`` share of them; without CV folds the latest tenth of the rest decides
when boosting stops. At scale no process holds every row, so a light first pass reads each
labelled row's time and row key (file and row number) and :meth:`TimeSplit.fit` finds the
(time, row key) pairs at those ranks; a row is then placed by comparing its own pair with the
cuts, the same answer in any chunk or partition. When every row's pair is read (the pass samples
them only above :data:`TIME_ROWS` known rows) the split is exactly the single machine's.

The sample the feature and prep plans are fitted on holds whole entities (those whose name has
the smallest hash), each one's training history in time order, so lags and windows computed on
it are what training computes (:func:`whole_entities`).

>>> split = TimeSplit.fit(np.array([5, 1, 3, 3]), np.arange(4, dtype=np.uint64),
...                       holdout=0.25, valid=0.34)
>>> split.codes(np.array([1, 3, 3, 5]), np.array([1, 2, 3, 0], dtype=np.uint64)).tolist()
[0, 0, 1, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from edgeml.config import Config
from edgeml.errors import SchemaError
from edgeml.prep import SAMPLE_KEY
from edgeml.scale._rows import HOLDOUT, TRAIN, VALID, unit_hash
from edgeml.scale._source import Chunk

__all__ = [
    "ROW_KEY", "TIME_ROWS", "TimeSplit", "clock", "entity_keys", "sample_keys", "time_pairs",
    "time_share", "whole_entities",
]  # fmt: skip

# The row key (file and row number) carried beside the rows that need it: the tie-breaker of
# the time order, as the file order is the single machine's.
ROW_KEY = "__row"
# Known rows up to which the time pass reads every row's time (the split then is exact);
# above, a uniform share of this many.
TIME_ROWS = 2_000_000

Cut = tuple[float, int]


def clock(series: pl.Series, where: str) -> np.ndarray:
    """The time column as numbers that sort as the times do: int64 nanoseconds for dates and
    datetimes, the numbers themselves otherwise; a missing time is named with ``where``."""
    if series.null_count():
        row = int(series.is_null().arg_max() or 0)
        raise SchemaError(
            f"{where}: time column {series.name!r} is missing on row {row + 1} of this chunk; "
            "time-series training needs a time on every labelled row"
        )
    if series.dtype.is_temporal():
        return series.cast(pl.Datetime("ns")).dt.epoch("ns").to_numpy().astype(np.int64)
    return series.to_numpy()


def entity_keys(frame: pl.DataFrame, entity_col: str | None) -> np.ndarray:
    """A uint64 hash of each row's entity (its name as text; one series without an entity)."""
    if entity_col is None:
        return np.zeros(frame.height, dtype=np.uint64)
    names = frame[entity_col].cast(pl.String).fill_null("")
    return names.hash(seed=17).to_numpy().astype(np.uint64)


def time_share(known_rows: int | None) -> float:
    """The share of rows whose time the first pass reads: all of them below :data:`TIME_ROWS`
    known rows (or when the count is unknown, as for CSV)."""
    if known_rows is None or known_rows <= TIME_ROWS:
        return 1.0
    return TIME_ROWS / known_rows


@dataclass(frozen=True, kw_only=True)
class TimeSplit:
    """Where the early-stopping slice and the holdout begin, as (time, row key) pairs; None:
    that part is empty."""

    valid_at: Cut | None
    holdout_at: Cut | None

    @classmethod
    def fit(cls, times: np.ndarray, keys: np.ndarray, *, holdout: float, valid: float) -> TimeSplit:
        """The cuts of the labelled rows' ``times`` and ``keys`` (all rows', or a uniform share):
        the latest ``holdout`` share is held out, the latest ``valid`` share of the rest
        early-stops, as ``edgeml.train`` splits rows sorted by time."""
        order = np.lexsort((keys, times))
        n = len(order)
        n_test = round(n * holdout)
        n_train = n - n_test
        n_valid = round(n_train * valid)

        def at(rank: int) -> Cut | None:
            if rank >= n:
                return None
            i = order[rank]
            return times[i].item(), int(keys[i])

        return cls(valid_at=at(n_train - n_valid) if n_valid else None, holdout_at=at(n_train))

    def codes(self, times: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """:data:`TRAIN`, :data:`VALID` or :data:`HOLDOUT` per row (int8)."""
        codes = np.full(len(times), TRAIN, dtype=np.int8)
        for cut, code in ((self.valid_at, VALID), (self.holdout_at, HOLDOUT)):
            if cut is not None:
                time, key = cut
                codes[(times > time) | ((times == time) & (keys >= np.uint64(key)))] = code
        return codes


def whole_entities(sample: pl.DataFrame, size: int, time_col: str) -> pl.DataFrame:
    """The plans' sample (rows keyed by their entity's hash, :data:`SAMPLE_KEY`) trimmed to
    whole entities and sorted by time, ties in file order (:data:`ROW_KEY`, then dropped).

    The merged sample is the ``size`` rows with the smallest keys, so every entity whose key is
    below the largest kept one is whole; the entity holding the largest key may be cut, and is
    left out unless it is the only one.

    >>> s = pl.DataFrame({SAMPLE_KEY: [0.1, 0.1, 0.3], "t": [2, 1, 1], ROW_KEY: [1, 0, 9]})
    >>> whole_entities(s, 3, "t")["t"].to_list()
    [1, 2]
    """
    if sample.height >= size and sample.height:
        last = sample[SAMPLE_KEY].max()
        whole = sample.filter(pl.col(SAMPLE_KEY) < last)
        sample = whole if whole.height else sample
    return sample.sort([time_col, ROW_KEY]).drop(ROW_KEY)


def sample_keys(frame: pl.DataFrame, entity_col: str | None, seed: int) -> np.ndarray:
    """Per-row sort key of the plans' sample: the hash of the row's entity, so an entity's rows
    are kept or left out together."""
    return unit_hash(entity_keys(frame, entity_col), seed, 2)


def time_pairs(chunk: Chunk, config: Config, share: float) -> tuple[np.ndarray, np.ndarray]:
    """The first pass of a time-series run: the time and row key of ``chunk``'s labelled rows
    (a uniform ``share`` of them, picked by row key), for :meth:`TimeSplit.fit`."""
    settings = config.train
    frame, keys = chunk.labelled(str(settings.target))
    times = clock(frame[str(settings.time_col)], chunk.where)
    if share < 1.0:
        kept = unit_hash(keys, settings.seed, 3) < share
        keys, times = keys[kept], times[kept]
    return times, keys
