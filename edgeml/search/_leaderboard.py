"""Model-family leaderboard: several LightGBM modes and the trivial baseline on the same folds.

Each candidate gets the run's cross-validation over the training rows (the same folds for all,
so scores pair fold by fold; the holdout stays out of the choice), then one fit on the training
rows like the final model, timed, weighed (bytes of the model text) and timed again per
single-row prediction.

"Within noise" of the best: the mean paired difference over the folds is at most one standard
error of those differences (paired t <= 1). It is a lenient screen, not a significance test:
folds share training rows, so the standard error is optimistic (Nadeau and Bengio, 2003), and a
candidate marked ≈ may well be as good as the best.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
from rich.console import Console
from rich.table import Table

from edgeml.config import Config
from edgeml.errors import ConfigError, EdgeMLError
from edgeml.learn import Prepared, baseline_of
from edgeml.metrics import higher_is_better, primary_metric, summarize_folds
from edgeml.search._budget import LATENCY_CALLS, LatencyMeter, latency_us, model_size_bytes
from edgeml.util.progress import SILENT, Reporter

__all__ = [
    "FAMILIES",
    "Candidate",
    "Leaderboard",
    "compare_models",
    "family_config_of",
    "ship_choice",
]

NOISE_RULE = "mean paired fold difference <= 1 standard error of the differences"
# A family replaces gbdt only when its mean paired gain over the folds exceeds this many
# standard errors of the gains: stricter than the ≈ screen, since shipping it is a change.
SHIP_K = 2.0
# Families the compiled backends (treelite, ONNX, C) cannot express, and why.
NOT_DEPLOYABLE = {
    "linear_tree": "linear models in the leaves: the treelite, ONNX and C exporters compile "
    "constant-leaf trees only",
    "baseline": "the trivial baseline, for reference",
}

# LightGBM parameters of each family, over the run's own. "baseline" is the trivial model.
FAMILIES: dict[str, dict[str, Any]] = {
    "gbdt": {"boosting": "gbdt"},
    "dart": {"boosting": "dart"},
    "goss": {"boosting": "gbdt", "data_sample_strategy": "goss"},
    "rf": {"boosting": "rf", "bagging_fraction": 0.632, "bagging_freq": 1, "feature_fraction": 0.8},
    "linear_tree": {"boosting": "gbdt", "linear_tree": True},
    "baseline": {},
}
# GOSS samples rows itself; LightGBM refuses bagging parameters beside it.
_BAGGING = ("bagging_fraction", "bagging_freq", "subsample", "subsample_freq", "bagging")
# DART cannot early-stop (dropped trees change old predictions), so it gets the gbdt's rounds
# within these bounds; random forests stop early but converge slowly, hence a cap.
_DART_ROUNDS = (50, 500)
_RF_MAX_ROUNDS = 500


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One model family's row of the leaderboard."""

    name: str
    params: dict[str, Any]
    folds: list[float]
    mean: float
    std: float
    cv_seconds: float
    fit_seconds: float
    size_bytes: int
    latency_us: float | None
    rounds: int = 0
    diff_mean: float = 0.0
    diff_stderr: float = 0.0
    within_noise: bool = True
    best: bool = False
    deployable: bool = True
    not_deployable: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, kw_only=True)
class Leaderboard:
    """Candidates ranked best first by the CV primary metric."""

    metric: str
    higher_is_better: bool
    split: str
    n_folds: int
    candidates: list[Candidate]
    errors: dict[str, str]

    @property
    def best(self) -> Candidate:
        return self.candidates[0]

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``leaderboard`` entry and the ``--json`` object's."""
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "split": self.split,
            "folds": self.n_folds,
            "noise_rule": NOISE_RULE,
            "best": self.best.name,
            "shipped": self.shipped[0],
            "ship_reason": self.shipped[1],
            "candidates": [c.to_dict() for c in self.candidates],
            "errors": self.errors,
        }

    @property
    def shipped(self) -> tuple[str, str]:
        """The family the bundle ships and why: the best deployable one when it beats gbdt by
        more than :data:`SHIP_K` standard errors of the paired fold gains, else gbdt."""
        return ship_choice(self.candidates, self.higher_is_better)

    def table(self) -> Table:
        """A rich table for people."""
        return leaderboard_table(self.to_dict())

    def render(self, console: Console) -> None:
        console.print(self.table())


def leaderboard_table(board: dict[str, Any]) -> Table:
    """Rich table of a leaderboard dict (as stored in the manifest)."""
    table = Table(
        title=f"leaderboard: {board['metric']} over {board['folds']} {board['split']} folds",
        title_justify="left",
        caption="≈ within noise of the best (paired over folds)",
        caption_justify="left",
    )
    columns = ("#", "model", board["metric"], "std", "Δ best", "", "fit s", "KB", "µs/row")
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    sign = -1.0 if board["higher_is_better"] else 1.0
    for rank, c in enumerate(board["candidates"], start=1):
        table.add_row(
            str(rank),
            c["name"],
            f"{c['mean']:.4f}",
            f"{c['std']:.4f}",
            "" if c["best"] else f"{sign * c['diff_mean']:+.4f}",
            "best" if c["best"] else ("≈" if c["within_noise"] else ""),
            f"{c['fit_seconds']:.2f}",
            f"{c['size_bytes'] / 1024:.1f}",
            "—" if c["latency_us"] is None else f"{c['latency_us']:.1f}",
        )
    for name, error in board.get("errors", {}).items():
        table.add_row("", name, "failed", error, "", "", "", "", "")
    notes = [
        f"not deployable: {c['name']} ({c['not_deployable']})"
        for c in board["candidates"]
        if not c.get("deployable", True) and c["name"] != "baseline"
    ]
    if "shipped" in board:
        notes.append(f"shipped: {board['shipped']} ({board['ship_reason']})")
    table.caption = "\n".join([str(table.caption), *notes])
    return table


def ship_choice(candidates: Sequence[Candidate], higher: bool) -> tuple[str, str]:
    """(family, reason): see :attr:`Leaderboard.shipped`."""
    sign = 1.0 if higher else -1.0
    gbdt = next((c for c in candidates if c.name == "gbdt"), None)
    if gbdt is None:
        return "gbdt", "gbdt: no cross-validated gbdt to compare with"
    best_name, best_reason, best_gain = "gbdt", "no deployable family beats gbdt beyond noise", 0.0
    for c in candidates:
        if c.name == "gbdt" or not c.deployable:
            continue
        gains = [
            sign * (x - g) for x, g in zip(c.folds, gbdt.folds, strict=True)
            if not (math.isnan(x) or math.isnan(g))
        ]  # fmt: skip
        if len(gains) < 2:
            continue
        mean = float(np.mean(gains))
        stderr = float(np.std(gains, ddof=1)) / math.sqrt(len(gains))
        if mean > SHIP_K * stderr and mean > best_gain:
            best_name, best_gain = c.name, mean
            best_reason = (
                f"beats gbdt by {mean:+.4f} mean paired gain over {len(gains)} folds "
                f"> {SHIP_K:g} standard errors ({stderr:.4f})"
            )
    return best_name, best_reason


def compare_models(
    prepared: Prepared,
    *,
    families: Sequence[str] | None = None,
    reporter: Reporter = SILENT,
    latency_calls: int = LATENCY_CALLS,
    latency: LatencyMeter | None = None,
) -> Leaderboard:
    """Score each family in ``families`` (default: all of :data:`FAMILIES`) on the run's folds.

    Example::

        board = compare_models(prepare("churn.csv", config), families=["gbdt", "rf", "baseline"])
        board.best.name                  # "gbdt"
        board.render(Console())          # the table; board.to_dict() for JSON
    """
    names = list(families or FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ConfigError(
            f"unknown model family {unknown[0]!r}; expected one of: {', '.join(FAMILIES)}"
        )
    config = prepared.config
    if config.train.cv_folds < 2:
        raise ConfigError("the leaderboard compares cross-validated scores: [train] cv_folds >= 2")
    metric = primary_metric(prepared.target.task)
    higher = higher_is_better(metric)
    rows: list[Candidate] = []
    errors: dict[str, str] = {}
    gbdt_rounds: int | None = None
    # gbdt first: dart takes its number of rounds.
    for i, name in enumerate(sorted(names, key=lambda n: n != "gbdt"), start=1):
        reporter.status(f"leaderboard: {name} ({i}/{len(names)})")
        if name == "baseline":
            rows.append(_baseline(prepared, metric))
            continue
        family_config = family_config_of(config, name, gbdt_rounds)
        try:
            row = _candidate(prepared, name, family_config, metric, latency_calls, latency)
        except lgb.basic.LightGBMError as exc:
            # One family LightGBM refuses for this data must not sink the comparison.
            errors[name] = str(exc).splitlines()[0]
            continue
        if name == "gbdt":
            gbdt_rounds = row.rounds
        rows.append(row)
    return Leaderboard(
        metric=metric,
        higher_is_better=higher,
        split=prepared.splitter.kind,
        n_folds=config.train.cv_folds,
        candidates=_rank(rows, higher),
        errors=errors,
    )


def family_config_of(config: Config, name: str, gbdt_rounds: int | None) -> Config:
    """``config`` with the LightGBM parameters of family ``name`` (dart takes ``gbdt_rounds``)."""
    train = config.train
    params = {k: v for k, v in train.params.items() if k != "data_sample_strategy"}
    if name == "goss":
        params = {k: v for k, v in params.items() if k not in _BAGGING}
    params.update(FAMILIES[name])
    changes: dict[str, Any] = {"params": params}
    if name == "dart":
        lo, hi = _DART_ROUNDS
        changes["num_boost_round"] = min(hi, max(lo, gbdt_rounds or train.num_boost_round))
        changes["early_stopping_rounds"] = 0
    elif name == "rf":
        changes["num_boost_round"] = min(train.num_boost_round, _RF_MAX_ROUNDS)
    return dataclasses.replace(config, train=dataclasses.replace(train, **changes))


def _candidate(
    prepared: Prepared,
    name: str,
    config: Config,
    metric: str,
    latency_calls: int,
    meter: LatencyMeter | None,
) -> Candidate:
    start = time.perf_counter()
    folds = prepared.cross_validate(config=config, rows=prepared.train_rows)
    cv_seconds = time.perf_counter() - start
    summary = summarize_folds(folds)[metric]
    start = time.perf_counter()
    fitted = prepared.fit(prepared.train_rows, config=config)
    fit_seconds = time.perf_counter() - start
    booster = fitted.booster
    return Candidate(
        name=name,
        params=dict(FAMILIES[name]),
        rounds=booster.current_iteration(),
        folds=[f.get(metric, math.nan) for f in folds],
        mean=summary["mean"],
        std=summary["std"],
        cv_seconds=round(cv_seconds, 3),
        fit_seconds=round(fit_seconds, 3),
        size_bytes=model_size_bytes(booster),
        latency_us=_timed(booster, fitted.train_matrix[:1], latency_calls, meter),
        deployable=name not in NOT_DEPLOYABLE,
        not_deployable=NOT_DEPLOYABLE.get(name, ""),
    )


def _timed(booster: Any, row: Any, calls: int, meter: LatencyMeter | None) -> float:
    """A family's single-row latency: on the given meter (the deployed engine), else LightGBM.
    A family the engine cannot express (the meter raises) is timed on LightGBM."""
    if meter is not None:
        try:
            return meter(booster, row)
        except EdgeMLError:
            pass
    return latency_us(booster, row, calls=calls)


def _baseline(prepared: Prepared, metric: str) -> Candidate:
    # The folds cross_validate uses: the same splitter over every labelled row.
    rows = np.arange(prepared.frame.height)
    folds = prepared.splitter.folds(rows, prepared.config.train.cv_folds)
    scores = [
        baseline_of(prepared.y[train], prepared.y[test], prepared.target) for train, test in folds
    ]
    summary = summarize_folds(scores)[metric]
    return Candidate(
        name="baseline",
        params={"model": "majority class" if prepared.target.task != "regression" else "mean"},
        folds=[s.get(metric, math.nan) for s in scores],
        mean=summary["mean"],
        std=summary["std"],
        cv_seconds=0.0,
        fit_seconds=0.0,
        size_bytes=0,
        latency_us=None,
        deployable=False,
        not_deployable=NOT_DEPLOYABLE["baseline"],
    )


def _rank(rows: list[Candidate], higher: bool) -> list[Candidate]:
    sign = 1.0 if higher else -1.0

    def key(c: Candidate) -> float:
        return -sign * c.mean if not math.isnan(c.mean) else math.inf

    ranked = sorted(rows, key=key)
    if not ranked:
        return ranked
    best = ranked[0]
    out = [dataclasses.replace(best, best=True)]
    for c in ranked[1:]:
        # Positive differences: the best scored better on that fold.
        pairs = [
            sign * (b - x) for b, x in zip(best.folds, c.folds, strict=True)
            if not (math.isnan(b) or math.isnan(x))
        ]  # fmt: skip
        if len(pairs) < 2:
            out.append(dataclasses.replace(c, diff_mean=math.nan, diff_stderr=math.nan,
                                           within_noise=False))  # fmt: skip
            continue
        diff = float(np.mean(pairs))
        stderr = float(np.std(pairs, ddof=1)) / math.sqrt(len(pairs))
        out.append(
            dataclasses.replace(c, diff_mean=diff, diff_stderr=stderr, within_noise=diff <= stderr)
        )
    return out
