"""Hyperparameter search: an Optuna study over the run's CV folds, stored in SQLite.

Every trial scores its parameters by the mean primary metric over the folds of
:meth:`edgeml.learn.Prepared.cross_validate` on the training rows (the same folds for every
trial; the holdout that scores the final model takes no part in choosing it), reports the
running mean after each fold so the median pruner can stop a hopeless trial early, boosts at the
higher ``[search] learning_rate`` (see :func:`searching`), and is
written to ``<bundle>.study.db`` as it finishes: a killed search resumes with ``resume``.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeml.config import Config, Space, apply_params, parse_duration, parse_space
from edgeml.errors import ConfigError
from edgeml.learn import Prepared
from edgeml.metrics import higher_is_better, primary_metric, summarize_folds
from edgeml.search._budget import EdgeBudget, LatencyMeter, latency_us, model_size_bytes
from edgeml.search._choose import choose_best, trial_records
from edgeml.search._monitor import TrialMonitor
from edgeml.search._storage import open_study, study_location
from edgeml.util.progress import SILENT, Reporter

__all__ = ["SearchResult", "search", "study_location"]


class _OutOfTime(Exception):
    """Raised inside a trial when the time budget ran out; Optuna records the trial as failed."""


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """What a search found: the best parameters, the config to train with, every trial."""

    method: str
    sampler: str
    metric: str
    direction: str
    best_params: dict[str, Any]
    best_value: float
    best_config: Config
    trials: list[dict[str, Any]]
    seconds: float
    storage: str
    study_name: str
    reused_trials: int
    space: dict[str, Any]
    budget: dict[str, Any] = field(default_factory=dict)
    pareto: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``search`` entry (``best_config`` is the manifest's ``config``)."""
        out = {
            "method": self.method,
            "sampler": self.sampler,
            "metric": self.metric,
            "direction": self.direction,
            "best_params": self.best_params,
            "best_value": self.best_value,
            "n_trials": len(self.trials),
            "states": _count(t["state"] for t in self.trials),
            "reused_trials": self.reused_trials,
            "seconds": round(self.seconds, 3),
            "storage": self.storage,
            "study_name": self.study_name,
            "space": self.space,
            "trials": self.trials,
        }
        if self.budget:
            out["budget"] = self.budget
        if self.pareto is not None:
            out["pareto"] = self.pareto
        return out


def search(
    prepared: Prepared, *, reporter: Reporter = SILENT, latency: LatencyMeter | None = None
) -> SearchResult:
    """Search ``prepared.config.search`` over the CV folds and return the best config.

    ``latency`` times a trial's model against ``max_latency_us`` (default: ``Booster.predict``;
    ``edgeml train`` passes the native engine's meter).

    Example::

        config = Config().with_overrides("search", method="bayes", trials=30, time_budget="10m")
        config = config.with_overrides("train", target="churn", out="churn.edgeml")
        result = search(prepare("churn.csv", config))   # study in churn.edgeml.study.db
        result.best_params                              # {"num_leaves": 43, ...}
        result.best_config                              # train the final model with this
    """
    import optuna

    config = prepared.config
    settings = config.search
    if settings.method == "none":
        raise ConfigError("[search] method is 'none': pass --search grid|random|bayes")
    if config.train.cv_folds < 2:
        raise ConfigError("a search scores trials by cross-validation: [train] cv_folds >= 2")
    space = parse_space(settings.space, defaults=settings.default_space)
    if not space.params:
        raise ConfigError("[search.space] fixes every parameter: nothing left to search")
    metric = primary_metric(prepared.target.task)
    direction = "maximize" if higher_is_better(metric) else "minimize"
    budget = EdgeBudget(max_latency_us=settings.max_latency_us, max_model_kb=settings.max_model_kb)
    meter = latency or latency_us
    path, name = study_location(prepared)
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{path.resolve()}", engine_kwargs={"connect_args": {"timeout": 60}}
    )
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # we show progress ourselves
    started = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study, reused = open_study(prepared, storage, name, space, direction, budget)
            if settings.resume:
                reporter.status(
                    f"resuming {name}: {reused} finished trials reused"
                    if len(study.trials)
                    else f"nothing to resume in {path} for this data and config: a new search"
                )
            _optimize(study, prepared, space, metric, budget, reused, reporter, meter)
    finally:
        optuna.logging.set_verbosity(level)
    records = trial_records(study, multi=budget.active)
    best = choose_best(records, metric=metric, direction=direction, budget=budget)
    best_config = apply_params(config, {**space.fixed, **best.params})
    result = SearchResult(
        method=settings.method,
        sampler=type(study.sampler).__name__,
        metric=metric,
        direction=direction,
        best_params=best.params,
        best_value=best.value,
        best_config=best_config,
        trials=records,
        seconds=time.monotonic() - started,
        storage=str(path),
        study_name=name,
        reused_trials=reused,
        space=space.to_dict(),
        budget={**budget.to_dict(), "latency_by": _meter_name(meter)} if budget.active else {},
        pareto=best.pareto,
    )
    reporter.status(
        f"search: best {metric} {best.value:.4f} (trial {best.number} of {len(records)}) "
        f"with {_short(best.params)}"
    )
    return result


def _optimize(
    study: Any,
    prepared: Prepared,
    space: Space,
    metric: str,
    budget: EdgeBudget,
    reused: int,
    reporter: Reporter,
    meter: LatencyMeter,
) -> None:
    import optuna

    settings = prepared.config.search
    remaining = settings.trials - reused
    if remaining <= 0:
        return
    start = time.monotonic()
    budget_s = parse_duration(settings.time_budget) if settings.time_budget else None
    deadline = start + budget_s if budget_s is not None else None
    durations: list[float] = []
    folds_total = prepared.config.train.cv_folds

    def objective(trial: optuna.Trial) -> Any:
        params = {name: param.suggest(trial, name) for name, param in space.params.items()}
        trial_config = searching(apply_params(prepared.config, {**space.fixed, **params}), space)
        values: list[float] = []

        def on_fold(fold: int, metrics: dict[str, float]) -> None:
            values.append(metrics.get(metric, math.nan))
            trial.set_user_attr("folds", values)  # kept when the trial is pruned
            finite = [v for v in values if not math.isnan(v)]
            if finite and not budget.active:
                trial.report(float(np.mean(finite)), fold)
                # After the last fold the trial's cost is spent: keep its complete value.
                if fold < folds_total and trial.should_prune():
                    raise optuna.TrialPruned()
            if deadline is not None and time.monotonic() > deadline:
                trial.set_user_attr("stopped", "time budget")
                raise _OutOfTime()

        folds = prepared.cross_validate(
            config=trial_config, on_fold=on_fold, rows=prepared.train_rows
        )
        value = summarize_folds(folds)[metric]["mean"]
        if not budget.active:
            return value
        fitted = prepared.fit(prepared.train_rows, config=trial_config)
        size_kb = model_size_bytes(fitted.booster) / 1024
        measured = meter(fitted.booster, fitted.train_matrix[:1])
        trial.set_user_attr("latency_us", measured)
        trial.set_user_attr("size_kb", size_kb)
        for key, over in budget.violations(latency=measured, size_kb=size_kb).items():
            trial.set_constraint(key, over)
        return value, measured, size_kb

    with TrialMonitor.start(
        reporter, total=settings.trials, done=reused, metric=metric, deadline=deadline
    ) as monitor:

        def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            durations.append(trial.duration.total_seconds() if trial.duration else 0.0)
            complete = trial.state == optuna.trial.TrialState.COMPLETE
            value = trial.values[0] if complete and trial.values else None
            monitor.finished(
                number=trial.number,
                state=trial.state.name.lower(),
                value=value,
                best=_best_value(study, budget),
            )
            # Optuna's timeout only stops between trials: do not start one that cannot end in
            # time (judged by the mean trial so far).
            if deadline is not None and deadline - time.monotonic() < float(np.mean(durations)):
                study.stop()

        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=timeout,
            callbacks=[after_trial],
            catch=(_OutOfTime,),
        )


def searching(config: Config, space: Space) -> Config:
    """A trial's config: boosting at ``[search] learning_rate`` (unless the space searches or
    fixes the rate) with early stopping's patience shortened in proportion, so a trial takes a
    fraction of the rounds; the final model goes back to ``[train] learning_rate``."""
    if "learning_rate" in space.params or "learning_rate" in space.fixed:
        return config
    train = config.train
    own = train.learning_rate_for(None)  # prepare() has set it by rows
    rate = max(config.search.learning_rate, own)
    patience = train.early_stopping_rounds
    if patience:
        patience = max(10, round(patience * own / rate))
    faster = dataclasses.replace(train, learning_rate=rate, early_stopping_rounds=patience)
    return dataclasses.replace(config, train=faster)


def _meter_name(meter: LatencyMeter) -> str:
    """What timed the trials, as the manifest records it."""
    return str(getattr(meter, "name", "lightgbm Booster.predict"))


def _best_value(study: Any, budget: EdgeBudget) -> float | None:
    if budget.active:
        values = [t.values[0] for t in study.best_trials if t.values]
        if not values:
            return None
        return max(values) if study.directions[0].name == "MAXIMIZE" else min(values)
    try:
        return float(study.best_value)
    except ValueError:  # no completed trial yet
        return None


def _count(states: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for state in states:
        out[state] = out.get(state, 0) + 1
    return out


def _short(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
