"""Retraining: a challenger trained like the champion on fresher data, promoted only if it wins.

The challenger uses the champion's stored configuration (its ``[retrain]`` section, or the one of
the ``config`` passed in, says how) and trains on the window of rows ``[retrain] window`` picks.
Both models are scored on the same holdout: a share of the *new* rows the challenger never saw,
the most recent ones when the model has a time column. The challenger is accepted only if

1. the paired bootstrap gain of the primary metric is above zero at ``confidence``
   (:mod:`edgeml.maintain._compare`),
2. every backend the champion was exported to exports again and passes the parity gate,
3. it meets the ``[search]`` edge budgets (single-row latency, model size) when any are set
   (in the ``config`` passed in, else in the champion's).

The decision, both scores, the interval and the reasons go into the challenger's manifest under
``"retrain"`` (written with the bundle, so it is covered like every other manifest key), into the
registry history, and into the returned :class:`RetrainResult`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from edgeml._model import Model, load
from edgeml._pipeline import train
from edgeml._progress import SILENT, Reporter
from edgeml.bundle import MANIFEST, read_bundle_files, read_manifest, sha256_file, write_bundle
from edgeml.config import Config, RetrainConfig
from edgeml.data import conform, logical_schema, read_data
from edgeml.errors import (
    BundleError,
    ConfigError,
    DataError,
    ExportError,
    SchemaError,
    SourceError,
)
from edgeml.evaluate import primary_metric
from edgeml.maintain._compare import Comparison, paired_bootstrap
from edgeml.maintain._registry import Registry

__all__ = ["MIN_HOLDOUT_ROWS", "RetrainResult", "retrain"]

# Fewer held-out rows than this cannot show a gain beyond noise; refuse rather than pretend.
MIN_HOLDOUT_ROWS = 20
_IN_MEMORY = "<in-memory DataFrame>"
_SQLITE = "sqlite:///"


@dataclass(frozen=True, kw_only=True)
class RetrainResult:
    """What retraining decided and why.

    ``accepted`` says the challenger beat the champion and passed every gate; ``promoted`` that
    it was made current in a registry (never without one). ``rows`` counts the champion's rows
    re-read (``old``), the labelled ``new`` ones, those handed to training (``train``, before
    de-duplication) and the ``holdout`` both models were scored on.
    """

    champion: Path
    challenger: Path
    accepted: bool
    promoted: bool
    comparison: Comparison
    reasons: list[str]
    window: str
    rows: dict[str, int]
    checks: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    name: str | None = None
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object of ``edgeml retrain``."""
        return {
            "champion": str(self.champion),
            "challenger": str(self.challenger),
            "name": self.name,
            "version": self.version,
            "accepted": self.accepted,
            "promoted": self.promoted,
            "comparison": self.comparison.to_dict(),
            "reasons": list(self.reasons),
            "window": self.window,
            "rows": dict(self.rows),
            "checks": self.checks,
            "warnings": list(self.warnings),
        }


def retrain(
    bundle: str | Path | None,
    new_data: str | Path,
    *,
    registry: Registry | str | Path | None = None,
    name: str | None = None,
    config: Config | None = None,
    table: str | None = None,
    query: str | None = None,
    out: str | Path | None = None,
    reporter: Reporter = SILENT,
) -> RetrainResult:
    """Train a challenger on ``new_data`` (plus the champion's data) and keep the better model.

    Without a registry ``bundle`` is the champion and the challenger is written to ``out``
    (default ``NAME.challenger.edgeml`` beside it). With one, the champion is the current
    version of ``name`` (``bundle`` may give the name instead); the challenger is added as the
    next version and made current only if accepted. Only the ``[retrain]`` section and the
    ``[search]`` edge budgets of ``config`` are used (default: the champion's): the challenger
    trains with the champion's own settings, so the two differ by their data alone (a stored
    search is not re-run: its best parameters are kept).

    >>> result = retrain("churn.edgeml", "march.csv")                      # doctest: +SKIP
    >>> result.accepted, result.comparison.gain > result.comparison.low > 0  # doctest: +SKIP
    (True, True)
    """
    store = Registry(registry) if isinstance(registry, str | Path) else registry
    champion, name = _champion(bundle, store, name, out)
    manifest = read_manifest(champion, verify=True)
    trained = _trained_config(manifest, champion)
    settings = (config or trained).retrain
    rows = _gather(new_data, manifest, trained, settings, champion, table, query, reporter)

    staging = store.scratch(str(name)) if store is not None else _beside(_out_path(champion, out))
    with staging as scratch:
        path = scratch / "challenger.edgeml"
        reporter.status(f"training the challenger on {rows.frame.height} rows ({settings.window})")
        train(rows.frame, config=_challenger_config(trained, path), reporter=reporter)
        comparison = _compare(load(champion), load(path), rows.holdout, settings, trained, reporter)
        reasons = [_verdict(comparison)]
        checks: dict[str, Any] = {}
        if comparison.better:  # the gates cost compiles: only run them for a possible winner
            reasons += _gates(path, manifest, config or trained, checks, reporter)
        accepted = comparison.better and len(reasons) == 1
        record = {
            "champion": str(champion),
            "accepted": accepted,
            "comparison": comparison.to_dict(),
            "reasons": reasons,
            "window": settings.window,
            "rows": rows.counts,
            "checks": checks,
            "warnings": rows.warnings,
        }
        challenger = path if store is not None else _out_path(champion, out)
        stored = trained.with_overrides("train", out=str(challenger)).to_dict()
        _finish_bundle(path, challenger, stored, rows.sources, record)
        version = None
        if store is not None:
            note = {"source": "retrain", "retrain": record}
            added = store.add(str(name), path, promote=accepted, note=note)
            challenger, version = added.path, added.version
    reporter.status(reasons[0] if accepted else "; ".join(reasons))
    return RetrainResult(
        champion=champion,
        challenger=challenger,
        accepted=accepted,
        promoted=accepted and store is not None,
        comparison=comparison,
        reasons=reasons,
        window=settings.window,
        rows=rows.counts,
        checks=checks,
        warnings=rows.warnings,
        name=name,
        version=version,
    )


@dataclass(frozen=True, kw_only=True)
class _Rows:
    """What the challenger trains on, what both are compared on, and where it all came from."""

    frame: pl.DataFrame
    holdout: pl.DataFrame
    counts: dict[str, int]
    sources: list[dict[str, Any]]
    warnings: list[str]


def _gather(
    new_data: str | Path,
    manifest: dict[str, Any],
    trained: Config,
    settings: RetrainConfig,
    champion: Path,
    table: str | None,
    query: str | None,
    reporter: Reporter,
) -> _Rows:
    """Read the new rows, hold some out, and add the champion's rows as the window asks."""
    target = str(manifest["target"]["name"])
    source = str(new_data)
    reporter.status(f"reading new data {source}")
    new = read_data(new_data, config=trained.data, table=table, query=query, keep_raw=[target])
    old_sources = [dict(s) for s in manifest["data_card"]["sources"]]
    _check_unseen(new.card.sources, old_sources)
    labelled = _labelled(new.frame, target, source)
    frame, holdout = _split_holdout(labelled, settings, trained, source)
    warnings: list[str] = []
    old_rows = 0
    if settings.window != "new":
        old = _read_old(old_sources, trained, target, champion, reporter)
        old_rows = old.height
        frame = pl.concat([old, _align(frame, old, source, warnings)], how="vertical")
        if settings.window == "sliding":
            if trained.train.time_col:
                frame = frame.sort(trained.train.time_col, maintain_order=True)
            frame = frame.tail(settings.max_rows)
    counts = {"old": old_rows, "new": labelled.height, "train": frame.height}
    counts["holdout"] = holdout.height
    sources = [*(old_sources if old_rows else []), *map(_absolute, new.card.sources)]
    return _Rows(
        frame=frame, holdout=holdout, counts=counts, sources=_dedupe(sources), warnings=warnings
    )


def _champion(
    bundle: str | Path | None, store: Registry | None, name: str | None, out: str | Path | None
) -> tuple[Path, str | None]:
    """The champion's bundle, and its registry name when there is a registry."""
    if store is None:
        if bundle is None:
            raise ConfigError("retrain needs the champion: a BUNDLE path, or --registry and a NAME")
        return Path(bundle), None
    if out is not None:
        raise ConfigError(
            "--out is for retraining without a registry; with one the challenger is added as "
            "the next version"
        )
    chosen = _registry_name(bundle, name)
    return store.current(chosen), chosen


def _trained_config(manifest: dict[str, Any], champion: Path) -> Config:
    """The config the champion was trained with (its data card says what it was trained on)."""
    for key in ("config", "data_card", "target"):
        if key not in manifest:
            raise BundleError(
                f"{champion / MANIFEST}: no {key!r} entry; retraining needs the settings and "
                "data card of the training run (re-train it with this edgeml)"
            )
    return Config.from_dict(manifest["config"], source=f"{champion / MANIFEST} config")


def _registry_name(bundle: str | Path | None, name: str | None) -> str:
    if name is not None and bundle is not None and str(bundle) != name:
        raise ConfigError(
            f"with a registry give the model name once: got {str(bundle)!r} and name {name!r}"
        )
    chosen = name if name is not None else bundle
    if chosen is None:
        raise ConfigError("retrain with a registry needs the model NAME")
    return str(chosen)


def _challenger_config(trained: Config, path: Path) -> Config:
    """The champion's config without its search: the stored config already holds the best
    parameters found, and searching again would make the comparison about tuning luck as much
    as data (and cost many trainings). The budgets go too (they need a search to be valid);
    they are checked on the result, and the champion's whole config is stored with it."""
    search = dataclasses.replace(
        trained.search,
        method="none",
        compare=False,
        resume=False,
        max_latency_us=None,
        max_model_kb=None,
    )
    return dataclasses.replace(trained, search=search).with_overrides("train", out=str(path))


def _check_unseen(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> None:
    """The holdout must be rows neither model trained on: refuse the champion's own files."""
    seen = {_source_key(s) for s in old if s.get("sha256")}
    for entry in new:
        if _source_key(entry) in seen:
            raise DataError(
                f"{entry['uri']}: the champion was trained on this file (same sha256); "
                "retraining needs rows neither model has seen"
            )


def _labelled(frame: pl.DataFrame, target: str, source: str) -> pl.DataFrame:
    if target not in frame.columns:
        raise SchemaError(f"{source}: target column {target!r} not found; retraining needs labels")
    return frame.filter(pl.col(target).is_not_null())


def _split_holdout(
    frame: pl.DataFrame, settings: RetrainConfig, trained: Config, source: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows to train on, rows to compare on): the latest share by time, else a seeded share."""
    n = frame.height
    size = math.ceil(settings.holdout * n)
    if size < MIN_HOLDOUT_ROWS or size >= n:
        raise DataError(
            f"{source}: {n} labelled new rows; a {settings.holdout:g} holdout needs at least "
            f"{MIN_HOLDOUT_ROWS} of them and some left to train on (add rows or raise "
            "[retrain] holdout)"
        )
    time_col = trained.train.time_col
    if time_col:
        ordered = frame.sort(time_col, maintain_order=True)
        return ordered.head(n - size), ordered.tail(size)
    picked = np.zeros(n, dtype=bool)
    picked[np.random.default_rng(trained.train.seed).permutation(n)[:size]] = True
    mask = pl.Series(picked)
    return frame.filter(~mask), frame.filter(mask)


def _read_old(
    sources: list[dict[str, Any]], trained: Config, target: str, champion: Path, reporter: Reporter
) -> pl.DataFrame:
    """The champion's training rows, re-read from its data card after checking each sha256.

    A missing or changed source is an error, not a silent fall-back to the new rows: that would
    train on a different window than configured, and the user should choose it (window "new").
    """
    advice = 'restore it, or set [retrain] window = "new" to train on the new rows only'
    frames = []
    for entry in sources:
        uri = str(entry.get("uri"))
        if uri == _IN_MEMORY or not entry.get("sha256"):
            raise SourceError(
                f"{champion}: the champion was trained on {uri}, which cannot be read again; "
                'set [retrain] window = "new" to train on the new rows only'
            )
        path = Path(uri[len(_SQLITE) :] if uri.startswith(_SQLITE) else uri)
        if not path.is_file():
            raise SourceError(f"{uri}: the champion's training data is gone; {advice}")
        if sha256_file(path) != entry["sha256"]:
            raise SourceError(
                f"{uri}: changed since the champion was trained (sha256 differs from the data "
                f"card in {champion / MANIFEST}); {advice}"
            )
        reporter.status(f"re-reading the champion's data {uri}")
        dataset = read_data(
            uri,
            config=trained.data,
            table=entry.get("table"),
            query=entry.get("query"),
            keep_raw=[target],
        )
        frames.append(dataset.frame)
    schema = logical_schema(frames[0])
    return pl.concat(
        [conform(f, schema, source=s["uri"]) for f, s in zip(frames, sources, strict=True)]
    )


def _align(new: pl.DataFrame, old: pl.DataFrame, source: str, warnings: list[str]) -> pl.DataFrame:
    """The new rows with the old data's columns and types (extra columns left out, noted)."""
    missing = [c for c in old.columns if c not in new.columns]
    if missing:
        raise SchemaError(
            f"{source}: missing column(s) {', '.join(repr(c) for c in missing)} that the "
            "champion's training data has"
        )
    extra = [c for c in new.columns if c not in old.columns]
    if extra:
        warnings.append(f"{source}: column(s) not in the champion's data left out: {extra}")
    return conform(new, logical_schema(old), source=source)


def _compare(
    champion: Model,
    challenger: Model,
    holdout: pl.DataFrame,
    settings: RetrainConfig,
    trained: Config,
    reporter: Reporter,
) -> Comparison:
    """Both models on the same held-out rows, paired by the bootstrap."""
    if champion.target.classes != challenger.target.classes:
        raise DataError(
            f"the challenger learned classes {challenger.target.classes} but the champion "
            f"{champion.target.classes}; their scores cannot be paired (train a new model)"
        )
    source = "retrain holdout"
    y = champion.target.encode(holdout[champion.target.name], source=source)
    metric = primary_metric(champion.task)  # type: ignore[arg-type]
    reporter.status(f"comparing on {holdout.height} held-out rows by {metric}")
    return paired_bootstrap(
        metric,
        y,
        champion=_output(champion, holdout),
        challenger=_output(challenger, holdout),
        confidence=settings.confidence,
        resamples=settings.bootstrap,
        seed=trained.train.seed,
    )


def _output(model: Model, frame: pl.DataFrame) -> np.ndarray:
    """Probabilities (n, K) in class order, or predicted values (n,)."""
    predicted = model.predict(frame)
    classes = model.target.classes
    if classes is None:
        return predicted["prediction"].to_numpy().astype(np.float64)
    return np.column_stack([predicted[f"proba_{c}"].to_numpy() for c in classes])


def _verdict(comparison: Comparison) -> str:
    c = comparison
    bound = f"{c.confidence:.0%} lower bound {c.low:+.4g}"
    if c.better:
        return f"{c.metric} {c.champion:.4f} -> {c.challenger:.4f}: gain {c.gain:+.4g}, {bound} > 0"
    return (
        f"{c.metric} {c.champion:.4f} -> {c.challenger:.4f}: gain {c.gain:+.4g} is not beyond "
        f"noise ({bound} <= 0)"
    )


def _gates(
    path: Path,
    champion: dict[str, Any],
    config: Config,
    checks: dict[str, Any],
    reporter: Reporter,
) -> list[str]:
    """Reasons the challenger fails the champion's exports or the edge budgets (none: passes)."""
    from edgeml.compile import export  # imports the toolchains: only for a possible winner

    failures = []
    for backend, entry in champion.get("backends", {}).items():
        options = {k: True for k in ("annotate", "quantize") if entry.get(k)}
        try:
            result = export(
                path,
                format=backend,
                target=str(entry.get("target", "host")),
                options=options,
                reporter=reporter,
            )
            checks[backend] = result.parity
        except ExportError as exc:  # ParityError, or a toolchain that is missing here
            checks[backend] = {"passed": False, "error": str(exc)}
            text = str(exc)  # parity errors already start with the backend's name
            failures.append(text if text.startswith(backend) else f"{backend} export: {text}")
    failures += _budget(path, config, checks)
    return failures


def _budget(path: Path, config: Config, checks: dict[str, Any]) -> list[str]:
    from edgeml.compile._parity import load_reference
    from edgeml.search._budget import EdgeBudget, latency_us, model_size_bytes

    budget = EdgeBudget(
        max_latency_us=config.search.max_latency_us, max_model_kb=config.search.max_model_kb
    )
    if not budget.active:
        return []
    manifest, files = read_bundle_files(path)
    reference = load_reference(manifest, files)
    width = len(manifest["features"]["model"])
    row = reference.matrix[:1] if len(reference.matrix) else np.zeros((1, width))
    latency = latency_us(reference.booster, row)
    size_kb = model_size_bytes(reference.booster) / 1024
    over = budget.violations(latency=latency, size_kb=size_kb)
    checks["budget"] = {**budget.to_dict(), "latency_us": latency, "size_kb": size_kb}
    failures = []
    if over.get("latency_us", 0) > 0:
        failures.append(f"latency {latency:.1f} µs is over the {budget.max_latency_us:g} µs budget")
    if over.get("size_kb", 0) > 0:
        failures.append(
            f"model size {size_kb:.1f} KB is over the {budget.max_model_kb:g} KB budget"
        )
    return failures


def _finish_bundle(
    path: Path,
    destination: Path,
    config: dict[str, Any],
    sources: list[dict[str, Any]],
    record: dict[str, Any],
) -> None:
    """Write the challenger to ``destination`` (atomically) with the decision, the champion's
    config, and where its rows came from: files, not the in-memory frame it was trained on, so
    that it can be retrained in turn, the same way."""
    manifest, files = read_bundle_files(path)
    manifest["config"] = config
    manifest["data_card"] = {**manifest["data_card"], "sources": sources}
    manifest["retrain"] = record
    write_bundle(destination, manifest, files)


def _absolute(entry: dict[str, Any]) -> dict[str, Any]:
    """A data-card source with an absolute path, so a later retrain finds it from anywhere."""
    uri = str(entry["uri"])
    if uri.startswith(_SQLITE):
        return {**entry, "uri": _SQLITE + str(Path(uri[len(_SQLITE) :]).absolute())}
    return {**entry, "uri": str(Path(uri).absolute())}


def _dedupe(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for s in sources:
        key = _source_key(s)
        if key not in seen:
            seen.add(key)
            kept.append(s)
    return kept


def _source_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    """Same rows: same file content, and the same table or query of a database."""
    return (entry.get("sha256"), entry.get("table"), entry.get("query"))


def _out_path(champion: Path, out: str | Path | None) -> Path:
    if out is not None:
        return Path(out)
    stem = champion.name.removesuffix(".edgeml")
    return champion.with_name(f"{stem}.challenger.edgeml")


@contextlib.contextmanager
def _beside(path: Path) -> Iterator[Path]:
    """A temporary directory next to ``path`` (same filesystem), removed on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".retrain", dir=path.parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
