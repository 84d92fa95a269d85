"""Larger-than-memory training on one machine: the data read twice in chunks, never whole.

Pass 1 summarises every chunk (exact counts and a bounded sample, :mod:`edgeml.prep._summary`)
and fits the plans from the summary. Pass 2 turns each chunk into its feature matrix with those
plans and stages it on disk (``.npy`` chunks in a temporary directory beside the bundle,
removed at the end), split row by row into training, early-stopping and holdout rows. LightGBM
then builds its binned Dataset from a :class:`lightgbm.Sequence` over the staged training
chunks (bin boundaries from a sample of rows, then every row in slices), so peak memory is the
binned matrix (about one byte per value) plus a chunk, not the raw table; boosting early-stops
on the staged early-stopping rows, the holdout is scored chunk by chunk.

When to use it: ``edgeml train --stream`` or ``[train] stream = "on"``; ``"auto"`` (the default)
streams when the raw table would take more than a seventh of ``[train] memory_budget_mb``
(default: half the machine's RAM), since the whole-table path grows by about seven times it.
Limits (said in the manifest's notes): no CV folds (the early-stopping slice picks the rounds
and the decision threshold), no search, no time-series features (train them with ``--dask``),
exact duplicate rows are kept,
the prep plan's quantiles and correlations come from a sample of 100,000 training rows.

>>> train_stream("big.csv", target="churn", out="churn.edgeml")  # doctest: +SKIP
TrainResult(bundle=PosixPath('churn.edgeml'), ...)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeml.config import Config
from edgeml.learn import fit_booster, predict_proba
from edgeml.pipeline import TrainResult
from edgeml.prep import Summary
from edgeml.scale._finish import finish
from edgeml.scale._plan import (
    SAMPLE_ROWS,
    Tally,
    chunk_summary,
    fit_plan,
    open_run,
    prepare_chunk,
    sample_size,
)
from edgeml.scale._rows import HOLDOUT, TRAIN, VALID
from edgeml.scale._source import ChunkSource
from edgeml.scale._staged import Staged, StagedSequence
from edgeml.util.progress import SILENT, Reporter

__all__ = ["summarize_source", "train_stream"]


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
    reporter.status(f"pass 1: statistics of {source.source} in chunks of {settings.chunk_rows}")
    summary, tally = summarize_source(source, config, sample_size(source, sample_rows))
    plan = fit_plan(summary, tally, source, config, reporter=reporter)
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
        for chunk in source.chunks(plan.inputs):
            rows = prepare_chunk(chunk, plan)
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


def summarize_source(
    source: ChunkSource, config: Config, sample_rows: int
) -> tuple[Summary, Tally]:
    """Pass 1: the merged summary and row counts of every chunk of ``source``."""
    summary: Summary | None = None
    tally = Tally()
    for chunk in source.chunks():
        part, counts = chunk_summary(chunk, config, sample_rows)
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
