"""Which split each row belongs to, decided row by row so any chunking gives the same answer.

A row's key (its file and row number, or its group's value with ``--group-col``) is hashed with
the seed (SplitMix64: the same on every machine and version); the hash, a number in [0, 1),
puts the row in the holdout (below ``holdout``), in the early-stopping slice (the next 10% of
the rest) or in training. A second hash orders rows for the prep plan's bounded sample. One
pass, no shuffle, no row count needed: what a single process, a Dask worker or a rerun decides
for a row is the same.

>>> codes = split_codes(np.arange(10_000, dtype=np.uint64), seed=0, holdout=0.2, valid=0.1)
>>> [round(float(np.mean(codes == c)), 2) for c in (TRAIN, VALID, HOLDOUT)]
[0.73, 0.08, 0.2]
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["HOLDOUT", "TRAIN", "VALID", "row_keys", "sample_order", "split_codes", "unit_hash"]

TRAIN, VALID, HOLDOUT = 0, 1, 2
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def unit_hash(keys: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """SplitMix64 of ``keys`` (uint64) under ``seed`` and ``salt``, as floats in [0, 1)."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) + _GOLDEN * np.uint64((seed * 1_000_003 + salt) % 2**63 + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def row_keys(frame: pl.DataFrame, positions: np.ndarray, group_col: str | None) -> np.ndarray:
    """The split key of each row: its position key, or its group's value (rows of a group then
    share a split, as ``--group-col`` promises)."""
    if group_col is None:
        return positions
    return frame[group_col].cast(pl.String).hash(seed=17).to_numpy().astype(np.uint64)


def split_codes(keys: np.ndarray, *, seed: int, holdout: float, valid: float) -> np.ndarray:
    """:data:`TRAIN`, :data:`VALID` or :data:`HOLDOUT` per row (int8)."""
    u = unit_hash(keys, seed, 1)
    codes = np.full(len(keys), TRAIN, dtype=np.int8)
    codes[u < holdout + (1.0 - holdout) * valid] = VALID
    codes[u < holdout] = HOLDOUT
    return codes


def sample_order(positions: np.ndarray, seed: int) -> np.ndarray:
    """Per-row sort key of the bounded sample (the smallest keys are the sample)."""
    return unit_hash(positions, seed, 2)
