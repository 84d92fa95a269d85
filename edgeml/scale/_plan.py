"""The plans of a run at scale, fitted from chunk summaries; and one chunk made ready for LightGBM.

The first pass summarises each chunk's training rows (:func:`chunk_summary`: exact counts and a
bounded sample, see :mod:`edgeml.prep._summary`); :func:`fit_plan` fits the target encoding, the
feature plan and the prep plan from the merged summary with the functions a single-machine run
uses (``fit_target``, ``fit_features``, ``fit_prep``). The second pass turns each chunk into
its feature matrix with those plans (:func:`prepare_chunk`), as ``edgeml.train`` does for the
whole table. Time-series training (``--time-col``) splits rows by time
(:mod:`edgeml.scale._series`: the cuts come from a first pass over the times, the plans from a
sample of whole entities) and computes features on each entity's whole history, which the
caller gathers (a shuffle by entity on Dask) or carries across chunks (streamed); search and
model comparison are refused (one model is trained).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from edgeml.config import Config
from edgeml.data import DataCard, column_not_found, file_facts, logical_schema
from edgeml.errors import ConfigError, SchemaError
from edgeml.features import apply_features, fit_features
from edgeml.learn import (
    Prepared,
    Splitter,
    TargetEncoding,
    fit_target,
    require_features,
    series_columns,
)
from edgeml.prep import (
    SAMPLE_KEY,
    PrepPlan,
    Summary,
    apply_prep,
    fit_prep,
    inside_fences,
    to_matrix,
)
from edgeml.prep import summarize as summarize_frame
from edgeml.scale._rows import HOLDOUT, row_keys, sample_order, split_codes
from edgeml.scale._series import ROW_KEY, TimeSplit, clock, sample_keys, whole_entities
from edgeml.scale._source import Chunk, ChunkSource, open_source
from edgeml.spec.feature_plan import FeaturePlan
from edgeml.spec.prep_plan import Role
from edgeml.util.progress import SILENT, Reporter

__all__ = [
    "EARLY_STOPPING_SHARE", "SAMPLE_ROWS", "ChunkRows", "ScaledPlan", "Tally", "chunk_summary",
    "fit_plan", "open_run", "prepare_chunk", "prepare_rows", "sample_size", "valid_share",
]  # fmt: skip

# Rows of the bounded sample the prep and feature plans are fitted on (quantiles, correlations).
SAMPLE_ROWS = 100_000
# ... and at most this many bytes of them (wide rows, such as long text, make a smaller sample).
SAMPLE_BYTES = 64e6
# Share of the training rows that decides when boosting stops (as edgeml.train's slice).
EARLY_STOPPING_SHARE = 0.1


def sample_size(source: ChunkSource, rows: int) -> int:
    """Rows of the bounded sample: ``rows``, fewer when they would take over SAMPLE_BYTES.

    >>> sample_size(ChunkSource(source="x", paths=[], schema={}, row_bytes=3_200), 100_000)
    20000
    """
    return max(1_000, min(rows, int(SAMPLE_BYTES / source.row_bytes)))


def valid_share(config: Config) -> float:
    """The early-stopping slice's share of training rows (none without early stopping)."""
    return EARLY_STOPPING_SHARE if config.train.early_stopping_rounds else 0.0


@dataclass(frozen=True)
class Tally:
    """Row counts of the first pass: all rows read, unlabelled ones, holdout ones."""

    rows: int = 0
    unlabelled: int = 0
    holdout: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(dataclasses.astuple(self),
                                             dataclasses.astuple(other), strict=True)))  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ScaledPlan:
    """What the first pass learned: the plans, and the sample as the pipeline's ``Prepared``."""

    config: Config
    target: TargetEncoding
    prepared: Prepared
    features: FeaturePlan
    prep: PrepPlan
    summary: Summary
    tally: Tally
    inputs: list[str]
    # A time-series run's split by time (None: rows split by the hash of their key).
    timing: TimeSplit | None = None

    def split(self, frame: pl.DataFrame, positions: np.ndarray, where: str) -> np.ndarray:
        """The split code of each labelled row of ``frame`` (``positions``: their row keys)."""
        settings = self.config.train
        if self.timing is not None:
            return self.timing.codes(clock(frame[str(settings.time_col)], where), positions)
        return split_codes(
            row_keys(frame, positions, settings.group_col),
            seed=settings.seed, holdout=settings.holdout, valid=valid_share(self.config),
        )  # fmt: skip

    @property
    def entity_as_text(self) -> bool:
        """Whether the entity column is a feature (then read as text, as ``edgeml.train``)."""
        return any(d["what"] == "entity_feature" and d["choice"] for d in self.prepared.decisions)


@dataclass(frozen=True)
class ChunkRows:
    """One chunk ready for LightGBM: feature matrix, encoded target, split code per row."""

    x: np.ndarray
    y: np.ndarray
    split: np.ndarray

    def part(self, code: int) -> tuple[np.ndarray, np.ndarray]:
        keep = self.split == code
        return self.x[keep], self.y[keep]


def open_run(
    data: str | Path,
    how: str,
    *,
    config: Config | None,
    target: str | None,
    out: str | Path | None,
    options: dict[str, Any],
) -> tuple[Config, ChunkSource]:
    """The config of a run at scale (``[train]`` keys from the arguments, no CV folds) and its
    chunked source; a ConfigError naming ``how`` (``--stream``, ``--dask``) for what it cannot
    do."""
    out_text = str(out) if out is not None else None
    config = (config or Config()).with_overrides("train", target=target, out=out_text, **options)
    config = _check_config(config, how)
    settings = config.train
    source = open_source(
        data, target=str(settings.target), config=config.data, batch_rows=settings.chunk_rows
    )
    # the date formats reading found are the model's input contract, as in edgeml.learn
    config = dataclasses.replace(config, data=source.config)
    return config, source


def _check_config(config: Config, how: str) -> Config:
    settings = config.train
    if not settings.target:
        raise ConfigError("no target column: pass --target COL or set target in [train]")
    if settings.time_col and not settings.entity_col and how == "--dask":
        raise ConfigError(
            f"{how}: time-series training without --entity-col is one series, which cannot be "
            "spread over workers; name the entity column, or train without --dask"
        )
    if config.search.method != "none" or config.search.compare:
        raise ConfigError(f"{how}: trains one model; --search and --compare are not supported")
    return dataclasses.replace(config, train=dataclasses.replace(settings, cv_folds=0))


def chunk_summary(
    chunk: Chunk, config: Config, size: int, cutoff: float = 1.0, timing: TimeSplit | None = None
) -> tuple[Summary, Tally]:
    """The summary of one chunk's training rows (holdout rows left out) and its row counts;
    ``cutoff``: see :func:`edgeml.prep.summarize`; ``timing``: a time-series run's split (the
    sample then takes whole entities, see :mod:`edgeml.scale._series`)."""
    settings = config.train
    target = str(settings.target)
    frame, positions = chunk.labelled(target)
    if timing is not None:
        codes = timing.codes(clock(frame[str(settings.time_col)], chunk.where), positions)
    else:
        codes = split_codes(
            row_keys(frame, positions, settings.group_col),
            seed=settings.seed, holdout=settings.holdout, valid=valid_share(config),
        )  # fmt: skip
    keep = codes != HOLDOUT
    frame = frame.filter(keep)
    if timing is not None:
        order = sample_keys(frame, settings.entity_col, settings.seed)
        frame = frame.with_columns(
            pl.Series(SAMPLE_KEY, order), pl.Series(ROW_KEY, positions[keep])
        )
    else:
        frame = frame.with_columns(
            pl.Series(SAMPLE_KEY, sample_order(positions[keep], settings.seed))
        )
    schema = logical_schema(chunk.frame)
    tally = Tally(chunk.frame.height, chunk.frame.height - frame.height, int((~keep).sum()))
    return summarize_frame(frame, schema, size=size, cutoff=cutoff), tally


def fit_plan(
    summary: Summary,
    tally: Tally,
    source: ChunkSource,
    config: Config,
    *,
    reporter: Reporter = SILENT,
    timing: TimeSplit | None = None,
) -> ScaledPlan:
    """The target encoding, feature plan and prep plan of the summarised training rows
    (``timing``: a time-series run's split, its summary from :func:`chunk_summary` with it)."""
    settings = config.train
    target_name = str(settings.target)
    if summary.rows == 0:
        raise SchemaError(f"{source.source}: no labelled training rows in {target_name!r}")
    sample = summary.sample
    if timing is not None:
        sample = whole_entities(sample, summary.size, str(settings.time_col))
    sample = sample.drop(SAMPLE_KEY)
    sample, decisions = series_columns(sample, config)
    counts = summary.counts.get(target_name)
    labels = (
        pl.Series(target_name, list(counts), dtype=sample[target_name].dtype)
        if counts is not None
        else sample[target_name]
    )
    target = fit_target(
        labels, task=settings.task, source=source.source, positive=settings.positive_class,
        counts=counts,
    )  # fmt: skip
    y = target.encode(sample[target_name], source=source.source)
    prepared = Prepared(
        frame=sample,
        y=y,
        target=target,
        roles=_roles(config, source),
        splitter=Splitter(seed=settings.seed, time_ordered=timing is not None),
        card=_card(source, tally),
        config=config,
        row_filters=_row_filters(tally),
        train_rows=np.arange(sample.height),
        test_rows=np.arange(0),
        decisions=decisions,
        notes=[
            *source.notes,
            f"trained at scale: prep and feature plans fitted on a sample of {sample.height} "
            f"of {summary.rows} training rows (counts, extremes and categories on all rows); "
            "no CV folds; exact duplicate rows kept"
            + ("; the sample holds whole entities" if timing is not None else ""),
        ],
    )
    features = fit_features(prepared, reporter=reporter)
    if features.selected:
        extended = apply_features(features, sample, target=y.astype(np.float64), source="data")
        prepared = dataclasses.replace(prepared, frame=extended)
    prep = fit_prep(prepared.frame, config=config.prep, roles=prepared.prep_roles,
                    summary=summary, group=settings.entity_col,
                    formats=source.config.date_formats)  # fmt: skip
    require_features(prep)
    used = {c.name for c in prep.columns if c.role != "dropped"}
    keys = (target_name, settings.time_col, settings.entity_col)
    inputs = [c for c in source.schema if c in used or features.selected or c in keys]
    return ScaledPlan(
        config=config, target=target, prepared=prepared, features=features, prep=prep,
        summary=summary, tally=tally, inputs=inputs, timing=timing,
    )  # fmt: skip


def prepare_chunk(chunk: Chunk, plan: ScaledPlan) -> ChunkRows:
    """One chunk's labelled rows as the model's feature matrix, target codes and split codes;
    training rows outside ``[prep] outliers = "drop"`` fences are left out, as in training."""
    frame, positions = chunk.labelled(plan.target.name)
    return prepare_rows(frame, positions, plan, chunk.where)


def prepare_rows(
    frame: pl.DataFrame,
    positions: np.ndarray,
    plan: ScaledPlan,
    where: str,
    *,
    featured: bool = False,
) -> ChunkRows:
    """:func:`prepare_chunk` of labelled rows (``positions``: their row keys); a time-series
    run passes each entity's whole history, in time order, so features see what training's
    see, or rows whose features are computed already (``featured``: carried across chunks)."""
    y = plan.target.encode(frame[plan.target.name], source=where)
    split = plan.split(frame, positions, where)
    entity = plan.config.train.entity_col
    if entity and plan.entity_as_text:
        frame = frame.with_columns(pl.col(entity).cast(pl.String))
    if plan.features.selected and not featured:
        frame = apply_features(plan.features, frame, target=y.astype(np.float64), source=where)
    for row_filter in plan.prep.row_filters:
        if row_filter["kind"] == "outlier_rows":
            keep = inside_fences(frame, row_filter["bounds"]) | (split == HOLDOUT)
            frame, y, split = frame.filter(keep), y[keep], split[keep]
    return ChunkRows(to_matrix(apply_prep(plan.prep, frame)), y, split)


def _roles(config: Config, source: ChunkSource) -> dict[str, Role]:
    settings = config.train
    wanted: list[tuple[str | None, Role, str]] = [
        (settings.target, "target", "--target"),
        (settings.time_col, "time", "--time-col"),
        (settings.entity_col, "entity", "--entity-col"),
        (settings.group_col, "group", "--group-col"),
        *[(c, "id", "[train] id_cols") for c in settings.id_cols],
    ]
    roles: dict[str, Role] = {}
    for column, role, option in wanted:
        if column is None:
            continue
        if column not in source.schema:
            raise SchemaError(
                column_not_found(column, option, list(source.schema), source=source.source)
            )
        roles.setdefault(column, role)
    return roles


def _card(source: ChunkSource, tally: Tally) -> DataCard:
    return DataCard(
        sources=[file_facts(Path(p), p) for p in source.paths],
        rows=tally.rows,
        columns=len(source.schema),
        schema=dict(source.schema),
        read_at=datetime.now(UTC).isoformat(timespec="seconds"),
        assumptions=[*source.config.assumptions, *source.notes],
        date_formats=dict(source.config.date_formats),
    )


def _row_filters(tally: Tally) -> list[dict[str, Any]]:
    if not tally.unlabelled:
        return []
    return [{"kind": "unlabelled", "rows_removed": tally.unlabelled, "reason": "target is missing"}]
