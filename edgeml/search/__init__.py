"""Stage 4, tune and select: hyperparameter search, model-family leaderboard, edge budgets.

``search`` runs an Optuna study (grid, random, TPE; NSGA-II when edge budgets are given) over
the LightGBM space of :data:`DEFAULT_SPACE`, scoring each trial by the cross-validated primary
metric on the run's folds. The study lives in SQLite next to the bundle, so ``resume`` picks up
an interrupted search. ``compare_models`` scores several model families on the same folds.

>>> from edgeml.search import DEFAULT_SPACE
>>> DEFAULT_SPACE["num_leaves"].log
True

Attributes are imported on first use (PEP 562): :class:`edgeml.config.SearchConfig` validates
its keys through :mod:`edgeml.config._space` without importing Optuna or the training stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeml.util.lazy import lazy_exports

if TYPE_CHECKING:
    from edgeml.config import DEFAULT_SPACE, Param, parse_duration, parse_space
    from edgeml.search._budget import EdgeBudget, LatencyMeter, latency_us, model_size_bytes
    from edgeml.search._leaderboard import (
        FAMILIES,
        Candidate,
        Leaderboard,
        compare_models,
        family_config_of,
    )
    from edgeml.search._storage import study_location
    from edgeml.search._study import SearchResult, search
    from edgeml.search._view import show_tuning

_LAZY = {
    "DEFAULT_SPACE": "edgeml.config",
    "EdgeBudget": "edgeml.search._budget",
    "LatencyMeter": "edgeml.search._budget",
    "latency_us": "edgeml.search._budget",
    "model_size_bytes": "edgeml.search._budget",
    "FAMILIES": "edgeml.search._leaderboard",
    "Candidate": "edgeml.search._leaderboard",
    "Leaderboard": "edgeml.search._leaderboard",
    "Param": "edgeml.config",
    "SearchResult": "edgeml.search._study",
    "compare_models": "edgeml.search._leaderboard",
    "family_config_of": "edgeml.search._leaderboard",
    "parse_duration": "edgeml.config",
    "parse_space": "edgeml.config",
    "search": "edgeml.search._study",
    "show_tuning": "edgeml.search._view",
    "study_location": "edgeml.search._storage",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "DEFAULT_SPACE",
    "FAMILIES",
    "Candidate",
    "EdgeBudget",
    "LatencyMeter",
    "Leaderboard",
    "Param",
    "SearchResult",
    "compare_models",
    "family_config_of",
    "latency_us",
    "model_size_bytes",
    "parse_duration",
    "parse_space",
    "search",
    "show_tuning",
    "study_location",
]
