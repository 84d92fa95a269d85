"""Time-series rows on Dask: each entity's whole history gathered in one partition.

An input partition (a file, or a Parquet row group) holds slices of many entities' histories.
Each input task reads its labelled rows, keeps their row keys (file and row number) and cuts
them into ``n`` buckets by the hash of the entity's name (:func:`bucket`); output task ``j``
concatenates bucket ``j`` of every input and sorts it by time, ties in file order
(:func:`gather`): each entity's rows in the order ``edgeml.train`` sees them after its sort by
time. Features are then computed per output partition by the same
:func:`edgeml.features.apply_features` as on one machine, so they equal it row for row.

The buckets move between workers as Dask task results (Dask's own transfer and spilling to
disk). The hash partition is these few lines rather than ``dask.dataframe.shuffle`` because
that takes the rows through pandas and back, which changes Polars types (nullable integers,
categoricals, nanosecond datetimes) on the way.

>>> frame = pl.DataFrame({"m": ["a", "b", "a"], "t": [3, 1, 2], "y": [0, 1, 0]})
>>> parts = bucket_frame(frame.with_columns(pl.Series(ROW_KEY, [0, 1, 2], pl.UInt64)), "m", 1)
>>> gather(list(parts), time_col="t")["t"].to_list()
[1, 2, 3]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from edgeml.features import apply_features
from edgeml.scale._plan import ChunkRows, ScaledPlan, prepare_rows
from edgeml.scale._series import ROW_KEY, entity_keys
from edgeml.scale._source import ChunkSource

__all__ = ["bucket", "bucket_frame", "by_entity", "featured", "gather", "prepared"]

Job = tuple[int, int | None]


def by_entity(jobs: list[Job], source: ChunkSource, plan: Any, n: int, then: Any) -> list[Any]:
    """``n`` Dask delayed results, ``then(rows, plan=plan, where=...)`` of each output partition
    (:func:`prepared` or :func:`featured`); ``plan`` may be a scattered :class:`ScaledPlan`."""
    import dask

    cut = [dask.delayed(bucket, nout=n, pure=True)(job, source, plan, n) for job in jobs]
    return [
        dask.delayed(then, pure=True)(
            dask.delayed(gather, pure=True)([parts[j] for parts in cut], plan=plan),
            plan=plan,
            where=f"{source.source} (entity partition {j + 1} of {n})",
        )
        for j in range(n)
    ]


def bucket(job: Job, source: ChunkSource, plan: ScaledPlan, n: int) -> tuple[pl.DataFrame, ...]:
    """The labelled rows of input partition ``job`` (with their row keys), cut into ``n``
    buckets by entity."""
    target = plan.target.name
    frames = []
    for chunk in source.part(job[0], job[1], plan.inputs):
        frame, keys = chunk.labelled(target)
        frames.append(frame.with_columns(pl.Series(ROW_KEY, keys)))
    if not frames:
        return tuple(pl.DataFrame() for _ in range(n))
    return bucket_frame(pl.concat(frames), plan.config.train.entity_col, n)


def bucket_frame(frame: pl.DataFrame, entity_col: str | None, n: int) -> tuple[pl.DataFrame, ...]:
    """``frame`` cut into ``n`` parts by the hash of each row's entity."""
    codes = entity_keys(frame, entity_col) % np.uint64(n)
    return tuple(frame.filter(pl.Series(codes == j)) for j in range(n))


def gather(
    parts: list[pl.DataFrame], *, plan: ScaledPlan | None = None, time_col: str | None = None
) -> pl.DataFrame | None:
    """One output partition: its buckets from every input, sorted by time and then by row key
    (the single machine's stable sort by time of rows in file order); None when empty."""
    kept = [p for p in parts if p.width]
    if not kept:
        return None
    column = time_col or (str(plan.config.train.time_col) if plan is not None else None)
    return pl.concat(kept, how="vertical_relaxed").sort([str(column), ROW_KEY])


def prepared(frame: pl.DataFrame | None, *, plan: ScaledPlan, where: str) -> ChunkRows:
    """The model's rows of one output partition (:func:`edgeml.scale._plan.prepare_rows`)."""
    if frame is None:
        width = len(plan.prep.features)
        return ChunkRows(np.empty((0, width)), np.empty(0), np.empty(0, dtype=np.int8))
    positions = frame[ROW_KEY].to_numpy().astype(np.uint64)
    return prepare_rows(frame.drop(ROW_KEY), positions, plan, where)


def featured(frame: pl.DataFrame | None, *, plan: ScaledPlan, where: str) -> pl.DataFrame | None:
    """One output partition with the feature plan's columns (and :data:`ROW_KEY`): what
    :func:`prepared` feeds the prep plan, for comparing with a single machine."""
    if frame is None:
        return None
    y = plan.target.encode(frame[plan.target.name], source=where).astype(np.float64)
    return apply_features(plan.features, frame, target=y, source=where)
