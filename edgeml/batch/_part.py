"""One Dask task: score one partition with the worker's opened bundle into its own Parquet part.

The part is written to a temporary name in the job's staging directory and renamed to
``part-NNNNN.parquet`` only when the whole partition is scored, so a worker that dies mid-task
leaves at most a hidden temporary file (the driver removes those) and never a part that looks
done. A retried task writes the part again, the same bytes under the same name.

>>> job = PartJob(source="/data/parts", staging="/out/.scores.x.tmp", plugin="edgeml-bundle-…",
...               batch_rows=50_000)
>>> score_part(job, Partition(0, "/data/parts/a.parquet"))   # on a worker  # doctest: +SKIP
PartDone(index=0, part='part-00000.parquet', rows=125000, entities=None)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from edgeml.batch._partitions import Partition
from edgeml.batch._plugin import opened
from edgeml.batch._run import data_config
from edgeml.batch._scan import Scan
from edgeml.batch._score import Scorer
from edgeml.batch._writer import Writer

__all__ = ["PartDone", "PartJob", "score_part"]


@dataclass(frozen=True)
class PartJob:
    """What every task of a job shares: the DATA as given (``source``, the root of Hive
    folders), the staging directory, the bundle plugin's name and the scoring options."""

    source: str
    staging: str
    plugin: str
    batch_rows: int
    id_cols: Sequence[str] | None = None
    explain: bool = False
    id_types: dict[str, str] | None = None  # typed by the driver from the first rows
    entity_col: str | None = None  # time-series bundles: report the entities seen
    # columns some file of the source holds: null in a file lacking them (from the driver,
    # which lists every file; a task reads one)
    fillable: Sequence[str] = ()


@dataclass(frozen=True)
class PartDone:
    """A scored partition: its part file (None when it held no rows) and its row count."""

    index: int
    part: str | None
    rows: int
    entities: frozenset[str | None] | None = None


def score_part(job: PartJob, partition: Partition) -> PartDone:
    """Score ``partition`` into ``job.staging``/``partition.name`` (runs on a worker)."""
    model, predictor = opened(job.plugin)
    scorer = Scorer(
        model, predictor.backend, id_cols=job.id_cols, explain=job.explain, id_types=job.id_types
    )
    path = Path(partition.path)
    source = Scan(
        job.source, **scorer.columns, batch_rows=job.batch_rows, config=data_config(model),
        paths=[path], fillable=job.fillable,
    )  # fmt: skip
    entity = job.entity_col
    seen: set[str | None] | None = None if entity is None else set()
    # the staging directory is never created here: once the driver removed it (a failed or
    # cancelled job), a straggling task cannot bring it back
    writer = Writer(Path(job.staging) / partition.name, make_parent=False)
    try:
        for batch in source.part(path, partition.row_group):
            writer.write(scorer.score(batch))
            if entity is not None and seen is not None:
                column = batch.frame[entity].cast(pl.String)
                seen.update(column.unique().to_list())
    except BaseException:
        writer.abort()
        raise
    if writer.rows == 0:
        writer.abort()
        return PartDone(partition.index, None, 0, _frozen(seen))
    writer.commit()
    return PartDone(partition.index, partition.name, writer.rows, _frozen(seen))


def _frozen(seen: set[str | None] | None) -> frozenset[str | None] | None:
    return None if seen is None else frozenset(seen)
