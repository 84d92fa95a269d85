"""``edgeml predict --dask ADDRESS``: score a partitioned dataset on an existing Dask cluster.

The driver (this process) opens the bundle, lists the partitions (each file, or each Parquet
row group, is one task), types the id columns from the first rows as a single-machine run does,
and registers a worker plugin that opens and verifies the bundle once per worker. Each task
scores its partition with the compiled backend and writes ``part-NNNNN.parquet`` into a staging
directory beside OUT (a temporary name, renamed when the part is done). Only when every task
has succeeded does the driver write ``_SUCCESS`` (a JSON manifest of the parts) and move the
staging directory over OUT; on any failure the staging directory is removed and an existing
OUT is left as it was. Reading the parts in name order gives exactly the rows, in the order,
of ``edgeml predict`` on one machine.

Limits: the bundle, the data and OUT's parent must be at the same paths on every worker (a
shared file system); the data must be files (Parquet, CSV, NDJSON, IPC, or globs and Parquet
directories of them), not a database. A time-series bundle is scored one file per task and
needs the data partitioned by entity: every entity's rows in one file, in time order; an
entity found in two files is refused (nothing is written), as its features would need the
other file's rows.

>>> predict_dask("churn.edgeml", "parts/", "scores", "tcp://10.0.0.5:8786")  # doctest: +SKIP
BatchResult(out=PosixPath('scores'), rows=10000000, backend='native', batches=80, ...)
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from edgeml.batch._cluster import connect, local_cluster
from edgeml.batch._part import PartDone, PartJob, score_part
from edgeml.batch._partitions import Partition, partitions
from edgeml.batch._progress import Bar, wanted
from edgeml.batch._run import BatchResult, batch_rows_for, data_config, open_model
from edgeml.batch._scan import scan
from edgeml.batch._score import Scorer
from edgeml.batch._writer import FILE_FORMATS, Writer
from edgeml.errors import ClusterError, ConfigError, DataError, EdgeMLError
from edgeml.util.files import discard_tree, replace_path

__all__ = ["SUCCESS", "predict_dask"]

SUCCESS = "_SUCCESS"


def predict_dask(
    bundle: str | Path,
    data: str | Path,
    out: str | Path,
    address: str | None = None,
    *,
    n_workers: int | None = None,
    backend: str = "auto",
    threads: int = 1,
    batch_rows: int | None = None,
    id_cols: Sequence[str] | None = None,
    explain: bool = False,
    table: str | None = None,
    query: str | None = None,
    progress: bool | None = None,
) -> BatchResult:
    """Score every row of ``data`` on the Dask scheduler at ``address`` into the directory
    ``out`` (see the module docstring); the options are :func:`edgeml.batch.predict_file`'s.
    Without ``address``, on a local cluster of ``n_workers`` processes started for this run
    (``[dask] n_workers``)."""
    started = time.perf_counter()
    out = Path(out).resolve()
    if out.suffix.lower() in FILE_FORMATS:
        raise ConfigError(
            f"{out}: --dask writes a directory of Parquet parts, not one {out.suffix} file; "
            "give a directory"
        )
    if address is None:
        if n_workers is None:
            raise ConfigError(
                "--dask: give a scheduler address (--dask tcp://HOST:PORT or [dask] address), "
                "or [dask] n_workers for a local cluster"
            )
        with local_cluster(n_workers) as local:
            return predict_dask(
                bundle, data, out, local, backend=backend, threads=threads,
                batch_rows=batch_rows, id_cols=id_cols, explain=explain, table=table,
                query=query, progress=progress,
            )  # fmt: skip
    bundle = Path(bundle).resolve()
    model, predictor = open_model(bundle, backend=backend, threads=threads)
    rows = batch_rows_for(model) if batch_rows is None else batch_rows
    if rows < 1:
        raise ConfigError(f"--batch-rows: expected at least 1, got {rows}")
    scorer = Scorer(model, predictor.backend, id_cols=id_cols, explain=explain)
    config = data_config(model)
    source = scan(data, **scorer.columns, batch_rows=rows, table=table, query=query, config=config)
    if not source.paths:
        raise ConfigError(
            f"{data}: --dask scores files (Parquet, CSV, NDJSON or IPC; a glob or a Parquet "
            "directory); export the query to files first, or score it without --dask"
        )
    entity = _entity_col(model, scorer, str(data))
    parts = partitions(source.paths, by_file=entity is not None)
    batches = iter(source)
    first = next(batches, None)  # the rows a single-machine run types the ids from
    batches.close()  # type: ignore[attr-defined]
    id_types = scorer.id_types(first) if scorer.ids and first is not None else None
    job_options: dict[str, Any] = dict(
        source=str(Path(source.source).resolve()),
        batch_rows=rows, id_cols=id_cols, explain=explain, id_types=id_types, entity_col=entity,
        fillable=sorted(source.fillable),
    )  # fmt: skip
    from edgeml.batch._plugin import BundlePlugin

    plugin = BundlePlugin(
        str(bundle), backend=backend, threads=threads, digest=str(model.spec.digest)
    )
    client = connect(address)
    try:
        client.register_plugin(plugin, name=plugin.name)
        try:
            done = _run(
                client, address, out, parts, plugin.name, job_options, progress, scorer.empty()
            )
        finally:
            _quietly(client.unregister_worker_plugin, plugin.name)
    finally:
        _quietly(client.close)
    return BatchResult(
        out=out,
        rows=sum(d.rows for d in done),
        backend=predictor.backend_name,
        batches=len(parts),
        seconds=time.perf_counter() - started,
        decision=model.decision_summary(),
    )


def _run(
    client: Any,
    address: str,
    out: Path,
    parts: list[Partition],
    plugin: str,
    options: dict[str, Any],
    progress: bool | None,
    empty: pl.DataFrame,
) -> list[PartDone]:
    """Submit one task per partition, wait for all, then publish the parts as ``out``
    (``empty``: the one part written when no partition has rows)."""
    from distributed import as_completed

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    job = PartJob(staging=str(staging), plugin=plugin, **options)
    run = uuid.uuid4().hex[:12]
    futures: dict[Any, Partition] = {}
    try:
        for part in parts:
            key = f"edgeml-predict-{run}-{part.index:05d}"
            futures[client.submit(score_part, job, part, key=key, pure=False)] = part
        known = [p.rows for p in parts if p.rows is not None]
        total = sum(known) if len(known) == len(parts) else None
        done: list[PartDone] = []
        with Bar(total, enabled=wanted(progress), label=f"scoring on {address}") as bar:
            for future in as_completed(futures, loop=client.loop):
                done.append(_result(future, futures[future], address))
                bar.advance(done[-1].rows)
        done.sort(key=lambda d: d.index)
        if options.get("entity_col"):
            _check_entities(done, parts, str(options["entity_col"]))
        if not any(d.part for d in done):  # a header and no rows: a typed empty table, as
            done[0] = _empty_part(staging, parts[0], empty)  # one machine writes
        _publish(staging, out, done, parts, address)
    except BaseException:
        _quietly(client.cancel, list(futures))
        discard_tree(staging)  # a task still running cannot bring a file of it back
        raise
    return done


def _empty_part(staging: Path, part: Partition, empty: pl.DataFrame) -> PartDone:
    with Writer(staging / part.name, make_parent=False) as writer:
        writer.write(empty)
    return PartDone(part.index, part.name, 0)


def _result(future: Any, part: Partition, address: str) -> PartDone:
    """The task's result; a lost task (its workers died, the scheduler went away) is a
    ClusterError naming the partition, an edgeml error on a worker is raised as it is."""
    from distributed import CancelledError, KilledWorker

    try:
        result: PartDone = future.result()
    except EdgeMLError:
        raise
    except KilledWorker as exc:
        raise ClusterError(
            f"--dask {address}: {part.describe()}: the worker scoring it died "
            f"{exc.allowed_failures + 1} time(s) (last {exc.last_worker.address}); nothing written"
        ) from None
    except (CancelledError, OSError) as exc:
        raise ClusterError(
            f"--dask {address}: {part.describe()}: the job was lost ({type(exc).__name__}: "
            f"{exc}); nothing written"
        ) from None
    return result


def _entity_col(model: Any, scorer: Scorer, data: str) -> str | None:
    """The entity column of a time-series bundle (None for a row-wise one)."""
    if scorer.carry is None:
        return None
    entity = model.feature_plan.entity_col
    if entity is None:
        raise ConfigError(
            f"{data}: this bundle's time-series features run over one series (no entity "
            "column), which cannot be split across Dask tasks; score it without --dask"
        )
    return str(entity)


def _check_entities(done: list[PartDone], parts: list[Partition], entity: str) -> None:
    """Refuse data not partitioned by entity: an entity's features would need other files."""
    where: dict[str | None, int] = {}
    for result in done:
        for value in result.entities or ():
            other = where.setdefault(value, result.index)
            if other != result.index:
                raise DataError(
                    f"{parts[other].path} and {parts[result.index].path}: {entity} {value!r} "
                    "has rows in both; a time-series bundle scores on Dask only data "
                    f"partitioned by {entity} (each one's rows in one file, in time order)"
                )


def _publish(
    staging: Path, out: Path, done: list[PartDone], parts: list[Partition], address: str
) -> None:
    """Check every part is there, drop what killed attempts left, write ``_SUCCESS``, rename."""
    for leftover in staging.iterdir():
        if leftover.name.startswith("."):  # the temporary file of an attempt that died
            leftover.unlink(missing_ok=True)
    for result in done:
        if result.part is not None and not (staging / result.part).is_file():
            raise ClusterError(
                f"--dask {address}: {parts[result.index].describe()}: its part {result.part} "
                f"is not in {staging} (do the workers see this directory at the same path?)"
            )
    manifest = {
        "rows": sum(d.rows for d in done),
        "parts": [
            {"part": d.part, "rows": d.rows, "source": parts[d.index].path,
             "row_group": parts[d.index].row_group}
            for d in done
        ],
        "scheduler": address,
    }  # fmt: skip
    temp = staging / f".{SUCCESS}.tmp"
    temp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(temp, staging / SUCCESS)
    staging.chmod(0o755)  # mkdtemp's 0700: the output is for others to read, as predict's is
    replace_path(staging, out)


def _quietly(call: Any, *args: Any) -> None:
    """Clean-up that must not hide the error being raised (or fail a finished job)."""
    with contextlib.suppress(Exception):  # best effort: the cluster may be gone already
        call(*args)
