"""``edgeml train --dask ADDRESS``: train on a Dask cluster with LightGBM's own Dask integration.

The driver (this process) reads the schema from the first rows and lists the partitions (each
file, or each Parquet row group, is one task). Pass 1: every task summarises its partition's
training rows (exact counts and a bounded sample, :mod:`edgeml.prep._summary`); the driver
merges the summaries and fits the target encoding, feature and prep plans with the
single-machine functions. Pass 2: each task turns its partition into the model's feature matrix
with those plans (the same :func:`prepare_chunk` a streamed run uses), a Dask array
partition; ``lightgbm.dask.DaskLGBMRegressor`` (with the task's objective, so class codes are
used as given rather than re-encoded per worker) trains on them, every worker on its own
partitions. Pass 3: each task scores its holdout rows with the final booster. The bundle is
then written as ``edgeml.train`` writes it.

The number of rounds: LightGBM's Dask training cannot stop early (every worker must run the
same rounds), but it records the metric on an ``eval_set`` after every round. So the driver
early-stops a model on the sample first, the Dask model runs twice those rounds plus the
patience on the training rows, with the early-stopping rows (10% of the training rows; the
latest 10% for a time series) as its eval set, and is cut at its best round
(:mod:`edgeml.scale._best`), as ``edgeml.train`` keeps an early-stopped model's best iteration.
lightgbm.dask evaluates on the eval rows held by the worker whose model it returns (about
``1/workers`` of them). ``[train] early_stopping_rounds = 0``: ``num_boost_round`` rounds on
all training rows.

Time series (``--time-col`` with ``--entity-col``): pass 0 reads the labelled rows' times and
row keys and fixes the time split (:mod:`edgeml.scale._series`: the latest rows are the holdout,
as on one machine); the plans are fitted on a sample of whole entities; pass 2 shuffles the rows
by entity (:mod:`edgeml.scale._shuffle`: one output partition per input partition, each entity's
whole history in one of them, sorted by time) and computes the features there with the
single-machine code; those partitions are kept on the workers for training and pass 3.

A worker lost mid-job: Dask reruns the summarising, preparing and scoring tasks elsewhere;
LightGBM's training cannot be rerun (its workers are one network): the driver watches its
workers (:mod:`edgeml.scale._watch`) and the run stops with a ClusterError naming the
scheduler, nothing written (:mod:`edgeml.scale._lost`).

When to reach for it: data larger than one machine's memory, already in files every worker can
read at the same path (a shared file system or object store mount). Limits: files only; no CV
folds, search or comparison; a time series needs an entity column, and one entity's rows must
fit in a worker; the driver holds the sample (100,000 rows), the holdout's predictions and, for
a time series, up to 2,000,000 (time, row key) pairs.

>>> train_dask("parts/", "tcp://10.0.0.5:8786", target="churn")  # doctest: +SKIP
TrainResult(bundle=PosixPath('churn.edgeml'), ...)
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
import warnings
from collections import deque
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from edgeml.batch import connect, local_cluster, partitions
from edgeml.config import Config
from edgeml.learn import fit_booster, lightgbm_params, predict_proba
from edgeml.pipeline import TrainResult
from edgeml.prep import Summary, apply_prep, to_matrix
from edgeml.scale._best import best_round, round_cap
from edgeml.scale._finish import finish
from edgeml.scale._lost import NETWORK_MINUTES, lost_job
from edgeml.scale._plan import (
    SAMPLE_ROWS,
    ChunkRows,
    ScaledPlan,
    Tally,
    chunk_summary,
    fit_plan,
    open_run,
    prepare_chunk,
    sample_size,
    valid_share,
)
from edgeml.scale._rows import HOLDOUT, TRAIN, VALID, split_codes
from edgeml.scale._series import TimeSplit, time_pairs, time_share
from edgeml.scale._shuffle import by_entity
from edgeml.scale._shuffle import prepared as prepared_rows
from edgeml.scale._source import ChunkSource
from edgeml.scale._watch import fit_watched
from edgeml.util.progress import SILENT, Reporter

__all__ = ["train_dask"]

# Share of the sample that early-stops the driver's model choosing the rounds.
_PROBE_VALID = 0.2


def train_dask(
    data: str | Path,
    address: str | None = None,
    *,
    n_workers: int | None = None,
    target: str | None = None,
    out: str | Path | None = None,
    config: Config | None = None,
    reporter: Reporter = SILENT,
    sample_rows: int = SAMPLE_ROWS,
    **options: Any,
) -> TrainResult:
    """Train on ``data`` (files) on the Dask scheduler at ``address`` (without one: a local
    cluster of ``n_workers`` processes for the run) and write a bundle of the same format as
    :func:`edgeml.train`; ``options`` are ``[train]`` keys."""
    config, source = open_run(
        data, "--dask", config=config, target=target, out=out, options=options
    )
    if address is None:
        with local_cluster(n_workers or 2) as local, lost_job(local, "the job"):
            return _train(local, source, config, reporter, sample_rows)
    with lost_job(address, "the job"):
        return _train(address, source, config, reporter, sample_rows)


def _train(
    address: str, source: ChunkSource, config: Config, reporter: Reporter, sample_rows: int
) -> TrainResult:
    import dask
    from lightgbm.dask import DaskLGBMRegressor

    client = connect(address)
    try:
        started = time.perf_counter()
        parts = partitions([Path(p) for p in source.paths])
        files = {p: i for i, p in enumerate(source.paths)}
        jobs = [(files[p.path], p.row_group) for p in parts]
        reporter.status(f"pass 1: statistics of {len(parts)} partitions on {address}")
        known = [p.rows for p in parts]
        size = sample_size(source, sample_rows)
        # Rows sampled (u below the cutoff) with room to spare: a uniform sample a few times
        # the size needed, so tasks ship little to this process.
        cutoff = 1.0 if None in known else min(1.0, 4 * size / max(sum(known), 1))
        timing = None
        if config.train.time_col:
            reporter.status(f"pass 0: times of {len(parts)} partitions, for the time split")
            timing = _timing(client, jobs, source, config, known)
        summary, tally = _summaries(client, jobs, source, config, size, cutoff, timing)
        plan = fit_plan(summary, tally, source, config, reporter=reporter, timing=timing)
        rounds, probe_rows = _rounds(plan, reporter)
        slim = client.scatter(_slim(plan), broadcast=True)
        width = len(plan.prep.features)
        if timing is not None:
            # Each entity's history gathered in one partition, computed once: training and
            # the holdout's scoring both read it.
            rows = client.persist(by_entity(jobs, source, slim, len(jobs), prepared_rows))
        else:
            rows = [dask.delayed(_rows, pure=False)(job, source, slim) for job in jobs]
        settings = config.train
        stop = bool(settings.early_stopping_rounds)
        cap = round_cap(rounds, settings) if stop else rounds
        x, y = _arrays([dask.delayed(_fit_rows, nout=2)(r, stop) for r in rows], width)
        fit: dict[str, Any] = {}
        if stop:
            valid = _arrays([dask.delayed(_valid_part, nout=2)(r) for r in rows], width)
            fit = _eval_args(valid)
        reporter.status(f"pass 2: lightgbm.dask, {cap} rounds on {len(parts)} partitions")
        params = _params(plan, cap)
        model = DaskLGBMRegressor(client=client, **params)
        # lightgbm.dask waits on the current client and logs to stdout (``--json`` owns it)
        stage = "pass 2 (lightgbm.dask training)"
        with lost_job(address, stage), client.as_current(), contextlib.redirect_stdout(
            sys.stderr
        ), _quiet():  # fmt: skip
            fit_watched(client, address, stage, partial(
                model.fit, x, y, feature_name=plan.prep.features,
                categorical_feature=plan.prep.categorical_features, **fit,
            ))  # fmt: skip
        curves = _curves(model, params["metric"]) if stop else None
        best = best_round(curves["valid"][params["metric"]]) if curves else cap
        booster = lgb.Booster(model_str=model.booster_.model_to_string(num_iteration=best))
        reporter.status("pass 3: holdout scored on the workers")
        text = client.scatter(booster.model_to_string(), broadcast=True)
        scored = client.gather(client.compute([
            dask.delayed(_score_part)(r, plan=slim, booster_text=text) for r in rows
        ]))  # fmt: skip
        del rows
        workers = len(client.scheduler_info().get("workers", {}))
    finally:
        client.close()
    task = plan.target.task
    output, y_hold = _joined([s[0] for s in scored]), _joined([s[1] for s in scored])
    valid_out, y_valid = _joined([s[5] for s in scored]), _joined([s[6] for s in scored])
    counts = np.sum([s[2] for s in scored], axis=0)
    trained = int(counts.sum()) if task != "regression" else int(sum(s[3] for s in scored))
    seconds = time.perf_counter() - started
    how = (
        f"{cap} rounds (twice the {rounds} that early stopping chose on {probe_rows} sampled "
        f"rows, plus {settings.early_stopping_rounds}), cut at the best round {best} on "
        f"{len(y_valid)} early-stopping rows (Dask training cannot stop early; those rows "
        "are not refitted)"
        if stop else f"{rounds} rounds"
    )  # fmt: skip
    return finish(
        plan,
        booster,
        holdout=(output, y_hold),
        valid=(valid_out, y_valid) if stop and len(y_valid) else None,
        class_counts=counts if task != "regression" else None,
        y_mean=float(sum(s[4] for s in scored) / max(trained, 1)) if task == "regression"
        else None,
        rows={"train": trained, "holdout": len(y_hold)},
        notes=[
            f"trained on Dask ({workers} workers, {len(parts)} partitions) with lightgbm.dask "
            f"in {seconds:.0f} s: {how}"
        ],
        curves=curves,
    )  # fmt: skip


def _arrays(parts: list[Any], width: int) -> tuple[Any, Any]:
    """Dask arrays of the (matrix, labels) pairs of ``parts`` (delayed, row counts unknown)."""
    import dask.array as da

    x = da.concatenate([da.from_delayed(p[0], shape=(np.nan, width), dtype=np.float64)
                        for p in parts])  # fmt: skip
    y = da.concatenate([da.from_delayed(p[1], shape=(np.nan,), dtype=np.float64) for p in parts])
    return x, y


def _eval_args(valid: tuple[Any, Any]) -> dict[str, Any]:
    """The eval set as ``fit`` takes it: ``eval_X``/``eval_y`` from LightGBM 4.7 on (which
    deprecates ``eval_set``), ``eval_set`` before."""
    import inspect

    from lightgbm.dask import DaskLGBMRegressor

    if "eval_X" in inspect.signature(DaskLGBMRegressor.fit).parameters:
        return {"eval_X": (valid[0],), "eval_y": (valid[1],), "eval_names": ["valid"]}
    return {"eval_set": [valid], "eval_names": ["valid"]}


def _curves(model: Any, metric: str) -> dict[str, dict[str, list[float]]] | None:
    """The early-stopping rows' metric after every round, as the manifest records curves
    (None when no worker reported one)."""
    curve = (getattr(model, "evals_result_", None) or {}).get("valid", {}).get(metric)
    return {"valid": {metric: [float(v) for v in curve]}} if curve else None


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0)


def _summaries(
    client: Any,
    jobs: list[tuple[int, int | None]],
    source: ChunkSource,
    config: Config,
    size: int,
    cutoff: float,
    timing: TimeSplit | None,
) -> tuple[Summary, Tally]:
    """Pass 1: the partitions' summaries merged in partition order, each as soon as it is
    done, with at most two tasks per worker in flight (a finished summary waits on its worker
    until merged: memory on the workers and here stays a few partitions' worth)."""
    window = 2 * max(1, len(client.scheduler_info().get("workers", {})))
    submit = partial(client.submit, _summarize_part, source=source, config=config, size=size,
                     cutoff=cutoff, timing=timing, pure=False)  # fmt: skip
    pending = deque(submit(job) for job in jobs[:window])
    waiting = deque(jobs[window:])
    summary: Summary | None = None
    tally = Tally()
    while pending:
        future = pending.popleft()
        part, counts = future.result()
        future.release()
        if waiting:
            pending.append(submit(waiting.popleft()))
        if part is not None:
            summary = part if summary is None else summary.merge(part)
        tally = tally + counts
    if summary is None:
        from edgeml.errors import SourceError

        raise SourceError(f"{source.source}: no rows")
    return summary, tally


def _timing(
    client: Any,
    jobs: list[tuple[int, int | None]],
    source: ChunkSource,
    config: Config,
    known: list[int | None],
) -> TimeSplit:
    """Pass 0 of a time-series run: the time split from the labelled rows' times (all of
    them up to TIME_ROWS known rows), 16 bytes a row shipped here."""
    share = time_share(None if None in known else sum(k or 0 for k in known))
    pairs = client.gather(
        client.map(_time_part, jobs, source=source, config=config, share=share, pure=False)
    )
    times = np.concatenate([t for t, _ in pairs]) if pairs else np.empty(0)
    keys = np.concatenate([k for _, k in pairs]) if pairs else np.empty(0, np.uint64)
    settings = config.train
    return TimeSplit.fit(times, keys, holdout=settings.holdout, valid=valid_share(config))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Without lightgbm.dask's warning that the sklearn API's ``n_jobs`` is ignored (each
    worker uses its own threads): not the user's doing."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        yield


def _rounds(plan: ScaledPlan, reporter: Reporter) -> tuple[int, int]:
    """Boosting rounds for the Dask model: early stopping on the sample (see the module)."""
    settings = plan.config.train
    if not settings.early_stopping_rounds:
        return settings.num_boost_round, 0
    frame = plan.prepared.frame
    x = to_matrix(apply_prep(plan.prep, frame))
    y = plan.prepared.y
    seed = settings.seed
    if plan.timing is not None:  # the sample is in time order: its latest rows
        valid = np.arange(len(y)) >= len(y) - round(len(y) * _PROBE_VALID)
    else:
        valid = split_codes(np.arange(len(y), dtype=np.uint64), seed=seed,
                            holdout=_PROBE_VALID, valid=0.0) == HOLDOUT  # fmt: skip
    n_classes = len(plan.target.classes) if plan.target.classes else 1
    probe = fit_booster(
        x[~valid], y[~valid], task=plan.target.task, n_classes=n_classes, config=settings,
        feature_names=plan.prep.features, categorical=plan.prep.categorical_features,
        valid=(x[valid], y[valid]), reporter=reporter, label="rounds on the sample",
    )  # fmt: skip
    return max(1, probe.current_iteration()), len(y)


def _params(plan: ScaledPlan, rounds: int) -> dict[str, Any]:
    """``lightgbm_params`` as sklearn-API keywords for DaskLGBMRegressor."""
    n_classes = len(plan.target.classes) if plan.target.classes else 1
    params = lightgbm_params(plan.target.task, n_classes, plan.config.train)
    # the first metric: the one early stopping reads (a loss)
    params["metric"] = params["metric"][0]
    params["n_estimators"] = rounds
    params["random_state"] = params.pop("seed", None)
    params["time_out"] = NETWORK_MINUTES  # see edgeml.scale._lost
    return params


def _slim(plan: ScaledPlan) -> ScaledPlan:
    """``plan`` without its sample rows: what a worker needs to prepare a partition."""
    prepared = plan.prepared
    empty = dataclasses.replace(prepared, frame=prepared.frame.clear(), y=prepared.y[:0])
    summary = dataclasses.replace(plan.summary, sample=plan.summary.sample.clear())
    return dataclasses.replace(plan, prepared=empty, summary=summary)


# -- worker tasks --------------------------------------------------------------------------


def _rows(job: tuple[int, int | None], source: ChunkSource, plan: ScaledPlan) -> ChunkRows:
    chunks = [prepare_chunk(c, plan) for c in source.part(job[0], job[1], plan.inputs)]
    if not chunks:
        width = len(plan.prep.features)
        return ChunkRows(np.empty((0, width)), np.empty(0), np.empty(0, dtype=np.int8))
    return ChunkRows(
        np.concatenate([c.x for c in chunks]),
        np.concatenate([c.y for c in chunks]),
        np.concatenate([c.split for c in chunks]),
    )


def _time_part(
    job: tuple[int, int | None], *, source: ChunkSource, config: Config, share: float
) -> tuple[np.ndarray, np.ndarray]:
    settings = config.train
    columns = [str(settings.time_col), str(settings.target)]
    pairs = [time_pairs(chunk, config, share) for chunk in source.part(job[0], job[1], columns)]
    if not pairs:
        return np.empty(0), np.empty(0, dtype=np.uint64)
    return np.concatenate([t for t, _ in pairs]), np.concatenate([k for _, k in pairs])


def _summarize_part(
    job: tuple[int, int | None],
    *,
    source: ChunkSource,
    config: Config,
    size: int,
    cutoff: float,
    timing: TimeSplit | None,
) -> tuple[Summary | None, Tally]:
    summary: Summary | None = None
    tally = Tally()
    for chunk in source.part(job[0], job[1]):
        part, counts = chunk_summary(chunk, config, size, cutoff, timing)
        summary = part if summary is None else summary.merge(part)
        tally = tally + counts
    return summary, tally


def _fit_rows(rows: ChunkRows, stop: bool) -> tuple[np.ndarray, np.ndarray]:
    """The training rows of one partition: every row but the holdout's, and but the
    early-stopping rows' when they are the eval set (``stop``)."""
    keep = rows.split == TRAIN if stop else rows.split != HOLDOUT
    return rows.x[keep], rows.y[keep].astype(np.float64)


def _valid_part(rows: ChunkRows) -> tuple[np.ndarray, np.ndarray]:
    """The early-stopping rows of one partition (the eval set)."""
    keep = rows.split == VALID
    return rows.x[keep], rows.y[keep].astype(np.float64)


def _score_part(
    rows: ChunkRows, *, plan: ScaledPlan, booster_text: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, float, np.ndarray, np.ndarray]:
    """The holdout rows' model output and labels, the training rows' target counts, and the
    early-stopping rows' output and labels (the decision threshold is learned on them)."""
    hold = rows.split == HOLDOUT
    valid = rows.split == VALID
    task = plan.target.task
    n_out = len(plan.target.classes or []) if task != "binary" else 2
    booster = lgb.Booster(model_str=booster_text)

    def scores(keep: np.ndarray) -> np.ndarray:
        if keep.any():
            return predict_proba(booster, rows.x[keep], task)
        return np.empty((0, n_out) if task != "regression" else 0)

    output = scores(hold)
    y_train = rows.y[~hold]
    n_classes = len(plan.target.classes) if plan.target.classes else 1
    counts = (
        np.bincount(y_train.astype(np.int64), minlength=n_classes)
        if task != "regression" else np.zeros(1, dtype=np.int64)
    )  # fmt: skip
    return (output, rows.y[hold], counts, len(y_train), float(np.sum(y_train)), scores(valid),
            rows.y[valid])  # fmt: skip
