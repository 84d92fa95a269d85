"""``edgeml.train``: raw data to an evaluated, versioned bundle (stages 1, 2, 4, 5)."""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from edgeml._fitting import Fitted, baseline_of, fit_rows, metrics_of
from edgeml._monitoring import feature_histograms
from edgeml._progress import SILENT, Reporter
from edgeml.bundle import write_bundle
from edgeml.config import Config
from edgeml.data import DataCard, Dataset, logical_schema, read_data
from edgeml.data._schema import infer_types
from edgeml.errors import ConfigError, SchemaError
from edgeml.evaluate import primary_metric, summarize_folds
from edgeml.prep import CategoricalStep
from edgeml.prep._plan import Role
from edgeml.train import Splitter, TargetEncoding, fit_target

__all__ = ["TrainResult", "train"]


@dataclass(frozen=True)
class TrainResult:
    """Where the bundle went and what it scored."""

    bundle: Path
    manifest: dict[str, Any]

    @property
    def metrics(self) -> dict[str, Any]:
        return {k: self.manifest["metrics"][k] for k in ("holdout", "cv")}

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object of ``edgeml train``."""
        m = self.manifest
        return {
            "bundle": str(self.bundle),
            "task": m["task"],
            "target": m["target"]["name"],
            "metrics": self.metrics,
            "baseline": m["metrics"]["baseline"],
            "primary_metric": m["metrics"]["primary"],
            "rows": m["metrics"]["rows"],
            "features": len(m["features"]["model"]),
        }


def train(
    data: str | Path | pl.DataFrame,
    *,
    target: str | None = None,
    out: str | Path | None = None,
    config: Config | None = None,
    table: str | None = None,
    query: str | None = None,
    reporter: Reporter = SILENT,
    **options: Any,
) -> TrainResult:
    """Train a LightGBM model on ``data`` and write it, with its plan and metrics, as a bundle.

    ``options`` are ``[train]`` config keys (``task``, ``time_col``, ``seed``, ...) and win over
    ``config``.

    >>> import edgeml
    >>> frame = edgeml.datasets.sensor_fleet(n_machines=4, days=5)
    >>> result = edgeml.train(frame, target="failure_within_24h", cv_folds=0,
    ...                       out=__import__("tempfile").mkdtemp() + "/m.edgeml")
    >>> result.manifest["task"]
    'binary'
    """
    out_text = str(out) if out is not None else None
    config = (config or Config()).with_overrides("train", target=target, out=out_text, **options)
    settings = config.train
    if not settings.target:
        raise ConfigError("no target column: pass --target COL or set target in [train]")
    dataset = _load(data, config, table, query)
    source = dataset.card.sources[0]["uri"] if dataset.card.sources else "data"
    roles = _roles(config, dataset.frame, source)
    frame = dataset.frame
    target_enc = fit_target(frame[settings.target], task=settings.task, source=source)

    row_filters: list[dict[str, Any]] = []
    unlabelled = int(frame[settings.target].is_null().sum())
    if unlabelled:
        frame = frame.filter(pl.col(settings.target).is_not_null())
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
    y = target_enc.encode(frame[settings.target], source=source)
    classification = target_enc.task != "regression"
    splitter = Splitter(
        seed=settings.seed,
        time_ordered=settings.time_col is not None,
        strata=y if classification else None,
        groups=frame[settings.group_col].to_numpy() if settings.group_col else None,
    )
    train_rows, test_rows = splitter.holdout(frame.height, settings.holdout)
    fit = functools.partial(
        fit_rows,
        frame,
        y,
        target=target_enc,
        config=config,
        roles=roles,
        splitter=splitter,
        reporter=reporter,
    )

    cv: dict[str, dict[str, float]] = {}
    if settings.cv_folds:
        folds = splitter.folds(np.arange(frame.height), settings.cv_folds)
        fold_metrics = []
        for i, (fold_train, fold_test) in enumerate(folds, start=1):
            reporter.status(f"cross-validation fold {i}/{len(folds)} ({splitter.kind})")
            fitted = fit(fold_train, label=f"fold {i}")
            output = fitted.predict(frame[fold_test], target_enc.task)
            fold_metrics.append(metrics_of(output, y[fold_test], target_enc))
        cv = summarize_folds(fold_metrics)

    reporter.status(f"training the final model on {len(train_rows)} rows")
    final = fit(train_rows, label="final model")
    holdout: dict[str, float] = {}
    baseline: dict[str, float] = {}
    if len(test_rows):
        output = final.predict(frame[test_rows], target_enc.task)
        holdout = metrics_of(output, y[test_rows], target_enc)
        baseline = baseline_of(final.train_target, y[test_rows], target_enc)
    metrics = {
        "primary": primary_metric(target_enc.task),
        "holdout": holdout,
        "baseline": baseline,
        "cv": cv,
        "split": splitter.kind,
        "cv_folds": settings.cv_folds,
        "rows": {"train": len(train_rows), "holdout": len(test_rows)},
    }
    manifest = _manifest(
        final, target_enc, metrics, dataset.card, config, roles, frame, row_filters
    )
    out = Path(settings.out or f"{settings.target}.edgeml")
    reporter.status(f"writing bundle {out}")
    write_bundle(out, manifest, {"model.txt": final.booster.model_to_string().encode()})
    return TrainResult(bundle=out, manifest=manifest)


def _load(
    data: str | Path | pl.DataFrame, config: Config, table: str | None, query: str | None
) -> Dataset:
    keep_raw = [config.train.target] if config.train.target else []
    if not isinstance(data, pl.DataFrame):
        return read_data(data, config=config.data, table=table, query=query, keep_raw=keep_raw)
    data = infer_types(data, keep_raw=keep_raw)
    card = DataCard(
        sources=[{"uri": "<in-memory DataFrame>", "sha256": None, "bytes": None}],
        rows=data.height,
        columns=data.width,
        schema=logical_schema(data),
        read_at=datetime.now(UTC).isoformat(timespec="seconds"),
        assumptions=list(config.data.assumptions),
    )
    return Dataset(frame=data, card=card)


def _roles(config: Config, frame: pl.DataFrame, source: str) -> dict[str, Role]:
    settings = config.train
    wanted: list[tuple[str | None, Role, str]] = [
        (settings.target, "target", "--target"),
        (settings.time_col, "time", "--time-col"),
        (settings.entity_col, "entity", "--entity-col"),
        (settings.group_col, "group", "--group-col"),
        *[(c, "id", "id_cols") for c in settings.id_cols],
    ]
    roles: dict[str, Role] = {}
    for column, role, option in wanted:
        if column is None:
            continue
        if column not in frame.columns:
            raise SchemaError(
                f"{source}: column {column!r} (from {option}) not found; "
                f"columns are: {', '.join(frame.columns)}"
            )
        roles.setdefault(column, role)
    if settings.time_col and logical_schema(frame.select(settings.time_col))[
        settings.time_col
    ] not in ("date", "datetime", "int", "float"):
        raise SchemaError(
            f"{source}: time column {settings.time_col!r} must hold dates, datetimes or numbers"
        )
    return roles


def _row_filter(kind: str, removed: int, reason: str) -> dict[str, Any]:
    return {"kind": kind, "rows_removed": int(removed), "reason": reason}


def _manifest(
    final: Fitted,
    target: TargetEncoding,
    metrics: dict[str, Any],
    card: DataCard,
    config: Config,
    roles: dict[str, Role],
    frame: pl.DataFrame,
    row_filters: list[dict[str, Any]],
) -> dict[str, Any]:
    plan = final.plan
    prep = plan.to_dict()
    prep["row_filters"] = [*row_filters, *prep["row_filters"]]
    vocab = {s.column: s.categories for s in plan.steps if isinstance(s, CategoricalStep)}
    input_schema = [
        {"name": c.name, "dtype": c.dtype, "role": c.role, **_vocab(vocab, c.name)}
        for c in plan.columns
    ]
    y = final.train_target
    if target.task == "regression":
        target_stats: dict[str, Any] = {"mean": float(np.mean(y))}
    else:
        counts = np.bincount(y, minlength=len(target.classes or []))
        target_stats = {"class_counts": counts.tolist()}
    booster = final.booster
    return {
        "edgeml_version": _version("edgeml"),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "libraries": {
            "python": platform.python_version(),
            **{name: _version(name) for name in ("lightgbm", "polars", "numpy")},
        },
        "task": target.task,
        "target": {**target.to_dict(), **target_stats},
        "roles": dict(roles),
        "id_cols": list(config.train.id_cols),
        "input_schema": input_schema,
        "prep": prep,
        "features": {"model": plan.features, "categorical": plan.categorical_features},
        "model": {
            "file": "model.txt",
            "num_trees": booster.num_trees(),
            "num_iterations": booster.current_iteration(),
        },
        "metrics": metrics,
        "data_card": {**card.to_dict(), "rows_used": frame.height},
        "monitoring": {"features": feature_histograms(final.train_matrix, plan.features)},
        "backends": {"lightgbm": {"file": "model.txt"}},
        "config": config.to_dict(),
    }


def _vocab(vocab: dict[str, list[str]], column: str) -> dict[str, Any]:
    return {"categories": vocab[column]} if column in vocab else {}


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
