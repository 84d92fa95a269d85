"""Labelled rows made ready for fitting, and cross-validation over them.

``prepare`` reads the data, checks the roles, drops unlabelled and duplicate rows, sorts by time
and encodes the target; the result fits pipelines on any rows and cross-validates any config
(the search in stage 4 calls :meth:`Prepared.cross_validate` once per trial).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from edgeml.config import SMALL_DATA_LEARNING_RATE, SMALL_DATA_ROWS, Config, TrainConfig
from edgeml.data import (
    DataCard,
    Dataset,
    column_not_found,
    find_leakage,
    infer_with_formats,
    logical_schema,
    read_data,
)
from edgeml.errors import ConfigError, SchemaError
from edgeml.learn._fitting import Fitted, fit_rows, metrics_of
from edgeml.learn._sizes import split_sizes
from edgeml.learn._split import Splitter
from edgeml.learn._target import (
    TargetEncoding,
    fit_target,
    has_label,
    outlier_note,
    task_note,
)
from edgeml.learn._together import fit_folds_together
from edgeml.spec.prep_plan import Role
from edgeml.util.progress import SILENT, Reporter

# Decisions that make a role column (also) a model feature.
_AS_FEATURE = ("entity_feature", "time_calendar")

# Called after each CV fold with (fold index, that fold's metrics); raising stops the run
# (the search uses it to prune a trial).
FoldCallback = Callable[[int, dict[str, float]], None]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Prepared:
    """Rows ready for fitting: labelled, deduplicated, time-sorted, target encoded."""

    frame: pl.DataFrame
    y: np.ndarray
    target: TargetEncoding
    roles: dict[str, Role]
    splitter: Splitter
    card: DataCard
    config: Config
    row_filters: list[dict[str, Any]]
    train_rows: np.ndarray
    test_rows: np.ndarray
    # Choices made on the data before any fit (e.g. the entity as a feature, or as an ID), each
    # {"what", "choice", "reason"}: the manifest's ``decisions``.
    decisions: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def prep_roles(self) -> dict[str, Role]:
        """The roles the prep plan leaves out of the features: all but the entity and the time
        column when the decisions made them features."""
        used = {d["column"] for d in self.decisions if d["what"] in _AS_FEATURE and d["choice"]}
        return {c: r for c, r in self.roles.items() if c not in used}

    #: What the run gave up for lack of rows (fewer CV folds, no holdout), said in the manifest.
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def source(self) -> str:
        """The data's name for messages: its file or URI (``data`` for a frame)."""
        return str(self.card.sources[0]["uri"]) if self.card.sources else "data"

    def fit(
        self,
        rows: np.ndarray,
        *,
        config: Config | None = None,
        reporter: Reporter = SILENT,
        label: str = "training",
        curves: dict[str, Any] | None = None,
        valid_rows: np.ndarray | None = None,
        rounds: int | None = None,
    ) -> Fitted:
        """Fit the prep plan and booster on ``rows`` (``config`` defaults to the run's).

        ``curves`` receives the learning curves (see :func:`edgeml.train.fit_booster`);
        ``valid_rows`` and ``rounds`` decide the number of rounds (see :func:`fit_rows`).
        """
        return fit_rows(
            self.frame,
            self.y,
            rows,
            target=self.target,
            config=config or self.config,
            roles=self.prep_roles,
            splitter=self.splitter,
            reporter=reporter,
            label=label,
            curves=curves,
            valid_rows=valid_rows,
            rounds=rounds,
        )

    def cross_validate(
        self,
        *,
        config: Config | None = None,
        reporter: Reporter = SILENT,
        on_fold: FoldCallback | None = None,
        rows: np.ndarray | None = None,
        rounds: list[tuple[int, int]] | None = None,
        curves: dict[str, Any] | None = None,
        outputs: list[tuple[np.ndarray, np.ndarray]] | None = None,
        folds: int | None = None,
        stop_on_test: bool = True,
        fitted: list[Fitted] | None = None,
    ) -> list[dict[str, float]]:
        """Metrics of each of ``folds`` folds (``[train] cv_folds`` by default) over ``rows`` (all
        labelled rows by default): the one cross-validation loop of edgeml.

        Each fold early-stops on its own test part and is scored at its best iteration
        (``stop_on_test=False``: it stops on a part of its training rows, as a final model does,
        and the test part only scores it). ``rounds``, when given, receives each fold's (best
        iteration, training rows), from which :func:`rounds_from_folds` sizes the final model:
        then the folds are boosted together and all cut at the round that minimises their mean
        validation loss (:func:`~edgeml.learn._together.fit_folds_together`, as ``lightgbm.cv``
        does), and ``curves`` receives the last fold's learning curves (training and validation
        part).
        ``outputs``, when given, receives each fold's ``(test rows, model output)``: the
        out-of-fold predictions that calibration and the decision threshold are learned on;
        ``fitted`` each fold's model.

        The folds are the same for every config of a run (same seed, same rows), so results of
        different configs are paired fold by fold. Model selection passes the training rows, so
        the holdout that scores the final model stays unseen by the choice.
        """
        config = config or self.config
        rows = np.arange(self.frame.height) if rows is None else rows
        splits = self.splitter.folds(rows, folds or config.train.cv_folds)
        together = rounds is not None and stop_on_test and config.train.early_stopping_rounds > 0
        if together:
            reporter.status(f"cross-validation: {len(splits)} folds ({self.splitter.kind})")
            models: Iterable[Fitted] = fit_folds_together(
                self.frame, self.y, splits, target=self.target, config=config,
                roles=self.prep_roles, reporter=reporter, curves=curves,
            )  # fmt: skip
        else:
            models = self._fold_models(splits, config, reporter, stop_on_test, curves)
        results = []
        paired = zip(splits, models, strict=True)
        for i, ((fold_train, fold_test), model) in enumerate(paired, start=1):
            if rounds is not None:
                rounds.append((model.booster.current_iteration(), len(fold_train)))
            if fitted is not None:
                fitted.append(model)
            output = model.predict(self.frame[fold_test], self.target.task)
            if outputs is not None:
                outputs.append((fold_test, output))
            results.append(metrics_of(output, self.y[fold_test], self.target))
            if on_fold is not None:
                on_fold(i, results[-1])
        return results

    def _fold_models(
        self,
        splits: list[tuple[np.ndarray, np.ndarray]],
        config: Config,
        reporter: Reporter,
        stop_on_test: bool,
        curves: dict[str, Any] | None,
    ) -> Iterator[Fitted]:
        """Each fold's model, fitted when the loop asks for it (a pruned search trial stops
        after the fold that decided it)."""
        for i, (fold_train, fold_test) in enumerate(splits, start=1):
            reporter.status(f"cross-validation fold {i}/{len(splits)} ({self.splitter.kind})")
            yield self.fit(
                fold_train,
                config=config,
                reporter=reporter,
                label=f"fold {i}",
                valid_rows=fold_test if stop_on_test else None,
                curves=curves if i == len(splits) else None,
            )


def prepare(
    data: str | Path | pl.DataFrame,
    config: Config,
    *,
    table: str | None = None,
    query: str | None = None,
) -> Prepared:
    """Read ``data`` and make its labelled rows ready for fitting under ``config``."""
    settings = config.train
    if not settings.target:
        raise ConfigError("no target column: pass --target COL or set target in [train]")
    dataset = _load(data, config, table, query)
    source = dataset.card.sources[0]["uri"] if dataset.card.sources else "data"  # as .source
    roles = _roles(config, dataset.frame, source)
    frame = dataset.frame
    target = fit_target(
        frame[settings.target], task=settings.task, source=source, positive=settings.positive_class
    )
    # a detected task on whole numbers is a guess worth saying (codes 3..8: regression)
    guessed = task_note(frame[settings.target], target) if settings.task == "auto" else None

    row_filters: list[dict[str, Any]] = []
    labelled = has_label(frame[settings.target], source=source)
    unlabelled = frame.height - int(labelled.sum())
    if unlabelled:
        frame = frame.filter(labelled)
        row_filters.append(_row_filter("unlabelled", unlabelled, "target is missing"))
    if config.prep.dedupe:
        before = frame.height
        frame = frame.unique(maintain_order=True)
        if before - frame.height:
            row_filters.append(
                _row_filter("duplicates", before - frame.height, "exact duplicate rows")
            )
    if settings.time_col:
        frame = frame.sort(settings.time_col, maintain_order=True)
    frame, decisions = series_columns(frame, config)
    y = target.encode(frame[settings.target], source=source)
    splitter = Splitter(
        seed=settings.seed,
        time_ordered=settings.time_col is not None,
        strata=y if target.task != "regression" else None,
        groups=frame[settings.group_col].to_numpy() if settings.group_col else None,
    )
    # the columns as read (not those series_columns derived): the leakage suspects' candidates
    read = [c for c in dataset.frame.columns if c not in roles and c in frame.columns]
    # Tiny data: keep what the rows allow (fewer folds, no holdout) and say so in the notes.
    sizes = split_sizes(
        splitter,
        frame.height,
        holdout=settings.holdout,
        cv_folds=settings.cv_folds,
        classes=target.classes,
    )
    if settings.learning_rate is None:  # a retrain decides again on its own rows
        decisions.append(_learning_rate_decision(settings, len(sizes.train_rows)))
    settings = dataclasses.replace(
        settings,
        holdout=sizes.holdout,
        cv_folds=sizes.cv_folds,
        # unset: by the rows the folds and the model train on (recorded in the manifest's config)
        learning_rate=settings.learning_rate_for(len(sizes.train_rows)),
    )
    # The date formats reading found are the model's input contract: every executor (and a
    # retrain reading new rows) reads those columns' text with them.
    formats = {**dataset.card.date_formats, **config.data.date_formats}
    data_config = dataclasses.replace(config.data, date_formats=formats)
    config = dataclasses.replace(config, train=settings, data=data_config)
    return Prepared(
        frame=frame,
        y=y,
        target=target,
        roles=roles,
        splitter=splitter,
        card=dataset.card,
        config=config,
        row_filters=row_filters,
        train_rows=sizes.train_rows,
        test_rows=sizes.test_rows,
        decisions=decisions,
        # what reading decided (a column left out), what the row count allowed, suspects
        notes=[
            *_read_notes(dataset, config),
            *([guessed] if guessed else []),
            *sizes.notes,
            *_leak_notes(frame, y, target, read),
            *_outlier_notes(y, target, settings),
        ],
    )


# Leakage is judged on at most this many rows (a warning, not a decision: 5,000 rows still show
# a column that predicts the target almost perfectly, at a quarter of the time of 20,000, which
# took 1.6-4.0 CPU-s on 330 columns), and only from this many: on fewer, any column can look
# like it predicts the target.
_LEAK_SAMPLE_ROWS = 5_000
_LEAK_MIN_ROWS = 200


def _leak_notes(
    frame: pl.DataFrame, y: np.ndarray, target: TargetEncoding, candidates: list[str]
) -> list[str]:
    """A note for each feature column that alone predicts the target almost perfectly (see
    :func:`edgeml.data.find_leakage`): a column filled in after the outcome (a refund date for
    churn, a diagnosis code for the disease) makes a model that is perfect here and useless in
    production, so training says so instead of reporting a perfect score silently."""
    if frame.height < _LEAK_MIN_ROWS:
        return []
    name = target.name
    data = frame.with_columns(pl.Series(name, y))
    if data.height > _LEAK_SAMPLE_ROWS:
        data = data.sample(_LEAK_SAMPLE_ROWS, seed=0)
    task: Literal["classification", "regression"] = (
        "regression" if target.task == "regression" else "classification"
    )
    return [
        f"column {s.column!r} alone predicts {name!r} almost perfectly ({s.method} "
        f"{s.score:.3f}): if its value is only known after the outcome, it leaks; leave it out "
        "with [data] drop = [...]"
        for s in find_leakage(data, target=name, task=task, candidates=candidates)
    ]


def _outlier_notes(y: np.ndarray, target: TargetEncoding, settings: TrainConfig) -> list[str]:
    if target.task != "regression":
        return []
    note = outlier_note(y, target.name, settings.params.get("objective"))
    return [note] if note else []


def _read_notes(dataset: Dataset, config: Config) -> list[str]:
    """The data card's notes that reading added (the user's own assumptions are not news)."""
    given = set(config.data.assumptions)
    return [note for note in dataset.card.assumptions if note not in given]


def _load(
    data: str | Path | pl.DataFrame, config: Config, table: str | None, query: str | None
) -> Dataset:
    keep_raw = [config.train.target] if config.train.target else []
    if not isinstance(data, pl.DataFrame):
        # the target in every file of a glob: a file without it would give unlabelled rows
        return read_data(
            data, config=config.data, table=table, query=query, keep_raw=keep_raw,
            required=keep_raw,
        )  # fmt: skip
    data, formats, notes = infer_with_formats(
        data, keep_raw=keep_raw, date_formats=config.data.date_formats, source="<DataFrame>"
    )
    card = DataCard(
        sources=[{"uri": "<in-memory DataFrame>", "sha256": None, "bytes": None}],
        rows=data.height,
        columns=data.width,
        schema=logical_schema(data),
        read_at=datetime.now(UTC).isoformat(timespec="seconds"),
        assumptions=[*config.data.assumptions, *notes],
        date_formats=formats,
    )
    return Dataset(frame=data, card=card)


def _roles(config: Config, frame: pl.DataFrame, source: str) -> dict[str, Role]:
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
        if column not in frame.columns:
            raise SchemaError(column_not_found(column, option, frame.columns, source=source))
        roles.setdefault(column, role)
    time_col = settings.time_col
    if time_col and logical_schema(frame.select(time_col))[time_col] not in (
        "date",
        "datetime",
        "int",
        "float",
    ):
        raise SchemaError(
            f"{source}: time column {time_col!r} must hold dates, datetimes or numbers"
        )
    return roles


def series_columns(
    frame: pl.DataFrame, config: Config
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """What the time and entity columns of ``[train]`` are for the model (see
    :func:`_time_feature` and :func:`_entity_feature`): the frame (the entity as text where it
    is a feature) and the decisions to record; one machine and a run at scale decide alike."""
    settings = config.train
    decisions: list[dict[str, Any]] = []
    if settings.time_col:
        decisions.append(_time_feature(frame, settings.time_col))
    if settings.entity_col:
        frame, decision = _entity_feature(frame, settings.entity_col, config)
        decisions.append(decision)
    return frame, decisions


#: The ``what`` of the decision recording an unset ``[train] learning_rate`` chosen by rows.
LEARNING_RATE_DECISION = "learning_rate"


def _learning_rate_decision(settings: TrainConfig, rows: int) -> dict[str, Any]:
    rate = settings.learning_rate_for(rows)
    reason = (
        f"[train] learning_rate unset: {rate} for {rows:,} training rows "
        f"({SMALL_DATA_LEARNING_RATE} under {SMALL_DATA_ROWS:,}, "
        f"{settings.learning_rate_for(SMALL_DATA_ROWS)} from there on)"
    )
    return {"what": LEARNING_RATE_DECISION, "column": None, "choice": rate, "reason": reason}


def _time_feature(frame: pl.DataFrame, time_col: str) -> dict[str, Any]:
    """A date or datetime time column also gives calendar parts (weekday, month, ...) as
    features: seasonality a daily or hourly series needs. Numbers stay out (a counter has no
    calendar).

    >>> _time_feature(pl.DataFrame({"t": [1, 2]}), "t")["choice"]
    False
    """
    temporal = frame[time_col].dtype.is_temporal()
    reason = (
        "expanded to calendar parts (known in advance, so never lagged)"
        if temporal
        else "numeric time: ordering only, not a feature"
    )
    return {"what": "time_calendar", "column": time_col, "choice": temporal, "reason": reason}


def _entity_feature(
    frame: pl.DataFrame, entity: str, config: Config
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Whether the entity column is a feature, and the frame with it as text if so.

    As text, the prep plan makes it a native categorical even when entities are numbered (a
    machine number has no order); an entity unseen in training then maps to missing.

    >>> frame, decision = _entity_feature(pl.DataFrame({"m": [1, 1, 2, 2]}), "m", Config())
    >>> decision["choice"], frame["m"].dtype
    (True, String)
    """
    distinct = frame[entity].n_unique()
    decision: dict[str, Any] = {"what": "entity_feature", "column": entity, "choice": False}
    if not config.features.entity_as_feature:
        return frame, {**decision, "reason": "[features] entity_as_feature = false"}
    if distinct > frame.height / 2:
        reason = (
            f"{distinct} distinct values in {frame.height} rows (more than rows/2): treated as "
            "an ID, not used as a feature"
        )
        return frame, {**decision, "reason": reason}
    reason = f"{distinct} entities as a native categorical feature; an unseen entity is missing"
    frame = frame.with_columns(pl.col(entity).cast(pl.String))
    return frame, {**decision, "choice": True, "reason": reason}


def _row_filter(kind: str, removed: int, reason: str) -> dict[str, Any]:
    return {"kind": kind, "rows_removed": int(removed), "reason": reason}
