"""Larger-than-memory training on one machine: the data read twice in chunks, never whole.

Pass 1 summarises every chunk (exact counts and a bounded sample, :mod:`edgeml.prep._summary`)
and fits the plans from the summary. Pass 2 turns each chunk into its feature matrix with those
plans and stages it on disk (``.npy`` chunks in a temporary directory beside the bundle,
removed at the end), split row by row into training, early-stopping and holdout rows. LightGBM
then builds its binned Dataset from a :class:`lightgbm.Sequence` over the staged training
chunks (bin boundaries from a sample of rows, then every row in slices), so peak memory is the
binned matrix (about one byte per value) plus a chunk, not the raw table; boosting early-stops
on the staged early-stopping rows, the holdout is scored chunk by chunk.

A time series (``--time-col``) is split by time as on one machine (a pass 0 reads every
labelled row's time: the latest rows are the holdout, :mod:`edgeml.scale._series`), its plans
are fitted on a sample of whole entities, and pass 2 carries each entity's history from chunk
to chunk (:func:`featured_chunks`): the input must hold each entity's rows in time order (rows
of different entities may interleave, and a chunk may hold any order); a row that goes back in
time across a chunk boundary stops the run naming its file and row.

When to use it: ``edgeml train --stream`` or ``[train] stream = "on"``; ``"auto"`` (the default)
streams when the raw table would take more than a seventh of ``[train] memory_budget_mb``
(default: half the machine's RAM), since the whole-table path grows by about seven times it.
Limits (said in the manifest's notes): no CV folds (the early-stopping slice picks the rounds
and the decision threshold), no search, exact duplicate rows are kept, the prep plan's
quantiles and correlations come from a sample of 100,000 training rows; a time series holds
16 bytes per labelled row for its split, and a window's mean or spread carried across chunks
may differ from the one-shot value in the last bit (the rolling sums regroup).

>>> train_stream("big.csv", target="churn", out="churn.edgeml")  # doctest: +SKIP
TrainResult(bundle=PosixPath('churn.edgeml'), ...)
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from edgeml.batch import FeatureCarry
from edgeml.config import Config
from edgeml.features import apply_features
from edgeml.learn import fit_booster, predict_proba
from edgeml.pipeline import TrainResult
from edgeml.prep import Summary
from edgeml.scale._finish import finish
from edgeml.scale._plan import (
    SAMPLE_ROWS,
    ScaledPlan,
    Tally,
    chunk_summary,
    fit_plan,
    open_run,
    prepare_rows,
    sample_size,
    valid_share,
)
from edgeml.scale._rows import HOLDOUT, TRAIN, VALID
from edgeml.scale._series import TimeSplit, time_pairs
from edgeml.scale._source import ChunkSource
from edgeml.scale._staged import Staged, StagedSequence
from edgeml.util.progress import SILENT, Reporter

__all__ = ["featured_chunks", "summarize_source", "time_split", "train_stream"]


def train_stream(
    data: str | Path,
    *,
    target: str | None = None,
    out: str | Path | None = None,
    config: Config | None = None,
    reporter: Reporter = SILENT,
    sample_rows: int = SAMPLE_ROWS,
    **options: Any,
) -> TrainResult:
    """Train on ``data`` (files) in chunks of ``[train] chunk_rows`` rows and write a bundle
    of the same format as :func:`edgeml.train`; ``options`` are ``[train]`` keys."""
    config, source = open_run(
        data, "--stream", config=config, target=target, out=out, options=options
    )
    settings = config.train
    timing = None
    if settings.time_col:
        reporter.status(f"pass 0: times of {source.source}, for the time split")
        timing = time_split(source, config)
    reporter.status(f"pass 1: statistics of {source.source} in chunks of {settings.chunk_rows}")
    summary, tally = summarize_source(source, config, sample_size(source, sample_rows), timing)
    plan = fit_plan(summary, tally, source, config, reporter=reporter, timing=timing)
    bundle = Path(settings.out or f"{settings.target}.edgeml")
    bundle.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".edgeml-stream-", dir=bundle.parent) as tmp:
        reporter.status("pass 2: feature matrix staged on disk")
        staged = {code: Staged(Path(tmp), name) for code, name in
                  ((TRAIN, "train"), (VALID, "valid"), (HOLDOUT, "holdout"))}  # fmt: skip
        task = plan.target.task
        n_classes = len(plan.target.classes) if plan.target.classes else 1
        # Labels as float32, as LightGBM keeps them: 4 bytes a row beside its ~10 a row bins.
        ys: dict[int, list[np.ndarray]] = {code: [] for code in staged}
        counts = np.zeros(n_classes if task != "regression" else 1, dtype=np.int64)
        total = 0.0
        for frame, positions, where in featured_chunks(source, plan):
            rows = prepare_rows(frame, positions, plan, where, featured=True)
            for code, matrix in staged.items():
                x, labels = rows.part(code)
                matrix.add(x)
                ys[code].append(labels.astype(np.float32))
                if code != HOLDOUT and task != "regression":
                    counts += np.bincount(labels.astype(np.int64), minlength=len(counts))
                elif code != HOLDOUT:
                    total += float(np.sum(labels))
        y = {c: np.concatenate(parts) if parts else np.empty(0, np.float32)
             for c, parts in ys.items()}  # fmt: skip
        del ys
        reporter.status(f"training on {len(y[TRAIN])} rows from a LightGBM Sequence")
        booster = fit_booster(
            StagedSequence(staged[TRAIN]),
            y[TRAIN],
            task=task,
            n_classes=n_classes,
            config=settings,
            feature_names=plan.prep.features,
            categorical=plan.prep.categorical_features,
            valid=(StagedSequence(staged[VALID]), y[VALID]) if len(y[VALID]) else None,
            reporter=reporter,
            label="streamed model",
        )
        outputs = {code: _predict(booster, staged[code], task) for code in (VALID, HOLDOUT)}
    trained = len(y[TRAIN]) + len(y[VALID])
    return finish(
        plan,
        booster,
        holdout=(outputs[HOLDOUT], y[HOLDOUT]),
        valid=(outputs[VALID], y[VALID]) if len(y[VALID]) else None,
        class_counts=counts if task != "regression" else None,
        y_mean=total / max(trained, 1) if task == "regression" else None,
        rows={"train": trained, "holdout": len(y[HOLDOUT])},
        notes=[
            f"streamed: boosting early-stopped on {len(y[VALID])} training rows kept out of "
            "the trees (not refitted with them)"
        ],
    )  # fmt: skip


def time_split(source: ChunkSource, config: Config) -> TimeSplit:
    """Pass 0 of a time series: the time split from every labelled row's time (16 bytes a row
    held here)."""
    settings = config.train
    columns = [str(settings.time_col), str(settings.target)]
    pairs = [time_pairs(chunk, config, 1.0) for chunk in source.chunks(columns)]
    times = np.concatenate([t for t, _ in pairs]) if pairs else np.empty(0)
    keys = np.concatenate([k for _, k in pairs]) if pairs else np.empty(0, np.uint64)
    return TimeSplit.fit(times, keys, holdout=settings.holdout, valid=valid_share(config))


def featured_chunks(
    source: ChunkSource, plan: ScaledPlan
) -> Iterator[tuple[pl.DataFrame, np.ndarray, str]]:
    """Each chunk's labelled rows with the feature plan's columns, their row keys and where they
    are from. A time series carries each entity's history across chunks
    (:class:`edgeml.batch.FeatureCarry`, as ``edgeml predict`` does), which gives exactly the
    one-shot features when every entity's rows come in time order across chunks; a row older
    than one of its entity's rows in an earlier chunk is a DataError naming its file and row."""
    carry = (
        FeatureCarry(plan.features, larger="larger chunks ([train] chunk_rows)")
        if plan.timing is not None
        else None
    )
    target = plan.target.name
    for chunk in source.chunks(plan.inputs):
        frame, positions = chunk.labelled(target)
        if plan.features.selected:
            y = plan.target.encode(frame[target], source=chunk.where).astype(np.float64)
            if carry is not None:
                name = partial(_row_name, source, positions)
                frame = carry.apply(frame, target=y, source=chunk.where, where=name)
            else:
                frame = apply_features(plan.features, frame, target=y, source=chunk.where)
        yield frame, positions, chunk.where


def _row_name(source: ChunkSource, keys: np.ndarray, row: int) -> str:
    return source.row(int(keys[row]))


def summarize_source(
    source: ChunkSource, config: Config, sample_rows: int, timing: TimeSplit | None = None
) -> tuple[Summary, Tally]:
    """Pass 1: the merged summary and row counts of every chunk of ``source``."""
    summary: Summary | None = None
    tally = Tally()
    for chunk in source.chunks():
        part, counts = chunk_summary(chunk, config, sample_rows, timing=timing)
        summary = part if summary is None else summary.merge(part)
        tally = tally + counts
    if summary is None:
        from edgeml.errors import SourceError

        raise SourceError(f"{source.source}: no rows")
    return summary, tally


def _predict(booster: Any, staged: Staged, task: str) -> np.ndarray:
    """The model's output on every staged row, chunk by chunk."""
    parts = [predict_proba(booster, x, task) for x in staged.chunks()]  # type: ignore[arg-type]
    if parts:
        return np.concatenate(parts)
    width = 2 if task == "binary" else booster.num_model_per_iteration()
    return np.empty((0, width)) if task != "regression" else np.empty(0)
