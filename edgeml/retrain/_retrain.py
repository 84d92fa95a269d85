"""Retraining: a challenger trained like the champion on fresher data, promoted only if it wins.

The challenger uses the champion's stored configuration (its ``[retrain]`` section, or the one of
the ``config`` passed in, says how) and trains on the window of rows ``[retrain] window`` picks.
Both models are scored on the same holdout: a share of the *new* rows the challenger never saw,
the most recent ones when the model has a time column. The challenger is accepted only if

1. the paired bootstrap gain of the primary metric is above zero at ``confidence``
   (:mod:`edgeml.retrain._compare`),
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
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from edgeml.bundle import MANIFEST, open_bundle, read_bundle_files, write_bundle
from edgeml.compile import latency_meter, load_reference
from edgeml.config import Config, RetrainConfig
from edgeml.errors import BundleError, ConfigError, DataError, ExportError
from edgeml.learn import LEARNING_RATE_DECISION
from edgeml.metrics import primary_metric
from edgeml.pipeline import Model, load, train
from edgeml.registry import Registry
from edgeml.retrain._compare import Comparison, paired_bootstrap
from edgeml.retrain._data import MIN_HOLDOUT_ROWS, gather_rows
from edgeml.search import EdgeBudget, latency_us, model_size_bytes
from edgeml.spec.manifest import Manifest
from edgeml.util.progress import SILENT, Reporter

__all__ = ["MIN_HOLDOUT_ROWS", "RetrainResult", "retrain"]


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
    since: str | None = None,
) -> RetrainResult:
    """Train a challenger on ``new_data`` (plus the champion's data) and keep the better model.

    Without a registry ``bundle`` is the champion and the challenger is written to ``out``
    (default ``NAME.challenger.edgeml`` beside it). With one, the champion is the current
    version of ``name`` (``bundle`` may give the name instead); the challenger is added as the
    next version and made current only if accepted. Only the ``[retrain]`` section and the
    ``[search]`` edge budgets of ``config`` are used (default: the champion's): the challenger
    trains with the champion's own settings, so the two differ by their data alone (a stored
    search is not re-run: its best parameters are kept). With the champion's ``[data]
    watermark``, ``new_data`` gives only the rows after ``since`` (default: the latest watermark
    in the champion's data card).

    >>> result = retrain("churn.edgeml", "march.csv")                      # doctest: +SKIP
    >>> result.accepted, result.comparison.gain > result.comparison.low > 0  # doctest: +SKIP
    (True, True)
    """
    store = Registry(registry) if isinstance(registry, str | Path) else registry
    champion, name = _champion(bundle, store, name, out)
    manifest = open_bundle(champion).spec
    trained = _trained_config(manifest, champion)
    settings = (config or trained).retrain
    rows = gather_rows(
        new_data, manifest, trained, settings, champion, table, query, reporter, since=since
    )

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


def _trained_config(manifest: Manifest, champion: Path) -> Config:
    """The config the champion was trained with (its data card says what it was trained on)."""
    for key, empty in (
        ("config", not manifest.config),
        ("data_card", not manifest.data_card.sources),
    ):
        if empty:
            raise BundleError(
                f"{champion / MANIFEST}: no {key!r} entry; retraining needs the settings and "
                "data card of the training run (re-train it with this edgeml)"
            )
    config = Config.from_dict(manifest.config, source=f"{champion / MANIFEST} config")
    if any(d.get("what") == LEARNING_RATE_DECISION for d in manifest.decisions):
        # The rate was chosen by the champion's rows, not set: the challenger's rows choose it.
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, learning_rate=None)
        )
    classes = manifest.target.classes
    if manifest.task == "binary" and classes and config.train.positive_class is None:
        # The challenger finds the champion's positive class even where the new rows make the
        # other label the rarer one: the two are compared, thresholded and served alike.
        config = config.with_overrides("train", positive_class=str(classes[1]))
    return config


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
    champion: Manifest,
    config: Config,
    checks: dict[str, Any],
    reporter: Reporter,
) -> list[str]:
    """Reasons the challenger fails the champion's exports or the edge budgets (none: passes)."""
    from edgeml.compile import export  # imports the toolchains: only for a possible winner

    failures = []
    for backend, entry in champion.backends.items():
        try:
            result = export(
                path,
                format=backend,
                target=entry.target or "host",
                options=entry.options,
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
    budget = EdgeBudget(
        max_latency_us=config.search.max_latency_us, max_model_kb=config.search.max_model_kb
    )
    if not budget.active:
        return []
    raw, files = read_bundle_files(path)
    manifest = Manifest.from_dict(raw, where=str(path))
    reference = load_reference(manifest, files)
    width = len(manifest.features.model)
    row = reference.matrix[:1] if len(reference.matrix) else np.zeros((1, width))
    meter = latency_meter()  # the deployed engine; LightGBM where no compiler builds it
    latency = meter(reference.booster, row) if meter else latency_us(reference.booster, row)
    size_kb = model_size_bytes(reference.booster) / 1024
    over = budget.violations(latency=latency, size_kb=size_kb)
    checks["budget"] = {
        **budget.to_dict(),
        "latency_us": latency,
        "latency_by": meter.name if meter else "lightgbm Booster.predict",
        "size_kb": size_kb,
    }
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
    spec = Manifest.from_dict(manifest, where=str(path))
    # the rate the challenger trained at (chosen by its rows where the champion's was)
    rate = spec.config.get("train", {}).get("learning_rate")
    config = {**config, "train": {**config["train"], "learning_rate": rate}}
    card = dataclasses.replace(spec.data_card, sources=tuple(sources))
    spec = dataclasses.replace(spec, config=config, data_card=card, retrain=record)
    write_bundle(destination, spec.to_dict(), files)


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
