"""Where a search's study lives (SQLite beside the bundle) and how it is opened or resumed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from edgeml.config import Space
from edgeml.learn import Prepared
from edgeml.search._budget import EdgeBudget

__all__ = ["open_study", "study_location"]

# Keys that say how long to search, not what is searched: a study resumed with other values of
# these is the same study.
_RUN_ONLY = ("trials", "time_budget", "resume", "compare")


def study_location(prepared: Prepared) -> tuple[Path, str]:
    """``(<bundle>.study.db, study name)``; the name hashes the data and what is searched.

    The same data and config find the same study again (so ``resume`` continues it); changing
    either starts a new study in the same file.
    """
    config = prepared.config
    bundle = Path(config.train.out or f"{config.train.target}.edgeml")
    shas = [source.get("sha256") for source in prepared.card.sources]
    if not shas or None in shas:
        # In-memory data: hash the rows themselves.
        shas = [hashlib.sha256(prepared.frame.hash_rows(seed=0).to_numpy().tobytes()).hexdigest()]
    settings = config.to_dict()
    settings["train"].pop("out")
    for key in _RUN_ONLY:
        settings["search"].pop(key)
    digest = hashlib.sha256(
        json.dumps({"data": shas, "config": settings}, sort_keys=True, default=str).encode()
    ).hexdigest()
    budgets = config.search.max_latency_us or config.search.max_model_kb
    name = f"{'nsga2' if budgets else config.search.method}-{digest[:16]}"
    return bundle.with_name(bundle.name + ".study.db"), name


def open_study(
    prepared: Prepared,
    storage: Any,
    name: str,
    space: Space,
    direction: str,
    budget: EdgeBudget,
) -> tuple[Any, int]:
    """Create the study (replacing an old one) or load it (``resume``); and the trials reused."""
    import optuna
    from optuna.trial import TrialState

    settings = prepared.config.search
    existing = {s.study_name for s in storage.get_all_studies()}
    if name in existing and not settings.resume:
        optuna.delete_study(study_name=name, storage=storage)
    reused = previous = 0
    interrupted: list[dict[str, Any]] = []
    if name in existing and settings.resume:
        trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
        for trial in trials:
            if trial.state == TrialState.RUNNING:
                # Left running by a killed process: failed, and queued to run first again.
                storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
                if set(trial.params) == set(space.params):
                    interrupted.append(trial.params)
        reused = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
        previous = len(trials)
    # A resumed run draws new random numbers (the same seed would repeat the first trials),
    # except on a grid, whose seed fixes the order its points are visited in.
    seed = prepared.config.train.seed + (previous if settings.method != "grid" else 0)
    sampler = _sampler(settings.method, space, seed, budget, settings)
    kwargs: dict[str, Any] = (
        {"directions": [direction, "minimize", "minimize"]}
        if budget.active
        else {"direction": direction}
    )
    # The median rule over the folds' running mean. Hyperband over folds was measured here too:
    # five folds make only two brackets, and on short searches it let hopeless trials through.
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
        if settings.prune and not budget.active
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
        **kwargs,
    )
    for params in interrupted:
        study.enqueue_trial(params)
    return study, reused


def _sampler(method: str, space: Space, seed: int, budget: EdgeBudget, settings: Any) -> Any:
    import optuna

    if budget.active:
        population = min(50, max(4, settings.trials // 3))
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    if method == "grid":
        grid = {name: param.grid(settings.grid_points) for name, param in space.params.items()}
        return optuna.samplers.GridSampler(grid, seed=seed)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    startup = min(10, max(4, settings.trials // 4))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)
