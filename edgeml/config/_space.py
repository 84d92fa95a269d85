"""The hyperparameter space: the documented default, ``[search.space]`` overrides, validation.

Default LightGBM space (rounds are not searched: early stopping picks them per fit; nor is the
learning rate: trials boost at ``[search] learning_rate``, a higher rate that makes each one a few
times cheaper, and the final model is refitted at ``[train] learning_rate`` with its rounds found
again by early stopping — add ``learning_rate`` to ``[search.space]`` to search it instead):

=================  ==========================  ==============================================
parameter          range                       why
=================  ==========================  ==============================================
num_leaves         7 .. 255 (int, log)          model capacity; size and latency grow with it
min_data_in_leaf   5 .. 100 (int, log)         the main guard against overfitting small data
feature_fraction   0.5 .. 1.0                  column subsampling per tree
bagging_fraction   0.5 .. 1.0                  row subsampling (``bagging_freq = 1`` is added)
lambda_l1          1e-8 .. 10 (log)            L1 leaf regularisation
lambda_l2          1e-8 .. 10 (log)            L2 leaf regularisation
max_depth          -1, 4, 6, 8, 12 (choices)   -1 is unlimited; shallow trees are faster
=================  ==========================  ==============================================

``[search.space]`` entries replace or add to the default (``[search] default_space = false``
keeps only yours). Each entry is one of::

    num_leaves = [15, 255]                              # a range; log scale as in the default
    learning_rate = { low = 0.01, high = 0.3, log = true }
    max_depth = [-1, 6, 8]                              # choices (any list but two numbers)
    min_data_in_leaf = { choices = [10, 40] }           # two choices
    extra_trees = true                                  # fixed: taken out of the search

Grid search walks choices as they are and ranges at ``[search] grid_points`` evenly spaced
values (geometrically on a log scale).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from edgeml.config._duration import parse_duration
from edgeml.errors import ConfigError

if TYPE_CHECKING:
    from edgeml.config._schema import Config, SearchConfig

__all__ = ["DEFAULT_SPACE", "Param", "Space", "apply_params", "check_search_config", "parse_space"]

WHERE = "[search.space]"

# Parameters LightGBM reads as integers, and the values each may take.
_INT_PARAMS = frozenset(
    {"num_leaves", "min_data_in_leaf", "max_depth", "bagging_freq", "max_bin", "min_data_per_group"}
)
_INF = math.inf
_LIMITS: dict[str, tuple[float, float]] = {
    "num_leaves": (2, 131072),
    "learning_rate": (1e-6, 1.0),
    "min_data_in_leaf": (0, _INF),
    "max_depth": (-1, 1000),
    "bagging_freq": (0, _INF),
    "max_bin": (2, _INF),
    "feature_fraction": (1e-6, 1.0),
    "bagging_fraction": (1e-6, 1.0),
    "lambda_l1": (0, _INF),
    "lambda_l2": (0, _INF),
    "min_gain_to_split": (0, _INF),
    "min_sum_hessian_in_leaf": (0, _INF),
}
_TABLE_KEYS = ("low", "high", "log", "choices")


@dataclass(frozen=True, kw_only=True)
class Param:
    """One searched parameter: an int or float range (optionally log scale), or choices.

    >>> Param(kind="int", low=7, high=255, log=True).grid(3)
    [7, 42, 255]
    """

    kind: Literal["int", "float", "choice"]
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any, name: str) -> Any:
        """Ask an Optuna trial for a value of this parameter."""
        if self.kind == "choice":
            return trial.suggest_categorical(name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def grid(self, points: int) -> list[Any]:
        """Values a grid search tries."""
        if self.kind == "choice":
            return list(self.choices)
        values = _spaced(self.low, self.high, points, log=self.log)
        if self.kind == "int":
            return sorted({round(float(v)) for v in values})
        return [float(f"{v:.6g}") for v in values]

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"choices": list(self.choices)}
        return {"kind": self.kind, "low": self.low, "high": self.high, "log": self.log}


DEFAULT_SPACE: dict[str, Param] = {
    "num_leaves": Param(kind="int", low=7, high=255, log=True),
    "min_data_in_leaf": Param(kind="int", low=5, high=100, log=True),
    "feature_fraction": Param(kind="float", low=0.5, high=1.0),
    "bagging_fraction": Param(kind="float", low=0.5, high=1.0),
    "lambda_l1": Param(kind="float", low=1e-8, high=10.0, log=True),
    "lambda_l2": Param(kind="float", low=1e-8, high=10.0, log=True),
    "max_depth": Param(kind="choice", choices=(-1, 4, 6, 8, 12)),
}


@dataclass(frozen=True, kw_only=True)
class Space:
    """Searched parameters and fixed ones (set on every trial)."""

    params: dict[str, Param]
    fixed: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": {name: p.to_dict() for name, p in self.params.items()},
            "fixed": dict(self.fixed),
        }


def parse_space(raw: Mapping[str, Any], *, defaults: bool = True) -> Space:
    """The space from ``[search.space]`` entries, merged over :data:`DEFAULT_SPACE`.

    >>> parse_space({"num_leaves": [15, 63], "extra_trees": True}).params["num_leaves"]
    Param(kind='int', low=15, high=63, log=True, choices=())
    >>> parse_space({"num_leaves": [300, 255]})
    Traceback (most recent call last):
    edgeml.errors.ConfigError: [search.space] num_leaves: low 300 > high 255
    """
    params = dict(DEFAULT_SPACE) if defaults else {}
    fixed: dict[str, Any] = {}
    for name, value in raw.items():
        params.pop(name, None)
        entry = _entry(name, value)
        if isinstance(entry, Param):
            params[name] = entry
        else:
            fixed[name] = entry
    return Space(params=params, fixed=fixed)


def _entry(name: str, value: Any) -> Param | Any:
    where = f"{WHERE} {name}"
    if _is_scalar(value):
        return value
    if isinstance(value, list | tuple):
        if len(value) == 2 and all(_is_number(v) for v in value):
            return _range(name, value[0], value[1], None, where)
        return _choices(value, where)
    if isinstance(value, Mapping):
        for key in value:
            if key not in _TABLE_KEYS:
                raise ConfigError(
                    f"{where}: unknown key {key!r}; expected one of: {', '.join(_TABLE_KEYS)}"
                )
        if "choices" in value:
            if set(value) != {"choices"}:
                raise ConfigError(f"{where}: give either choices or low/high, not both")
            return _choices(value["choices"], where)
        if "low" not in value or "high" not in value:
            raise ConfigError(f"{where}: a range needs both low and high")
        log = value.get("log")
        if log is not None and not isinstance(log, bool):
            raise ConfigError(f"{where} log: expected true or false, got {log!r}")
        return _range(name, value["low"], value["high"], log, where)
    raise ConfigError(
        f"{where}: expected a value, [low, high], a list of choices, "
        f"{{ low = .., high = .., log = .. }} or {{ choices = [..] }}; got {value!r}"
    )


def _range(name: str, low: Any, high: Any, log: bool | None, where: str) -> Param:
    for label, bound in (("low", low), ("high", high)):
        if not _is_number(bound):
            raise ConfigError(f"{where}: {label} must be a number, got {bound!r}")
    if low > high:
        raise ConfigError(f"{where}: low {low!r} > high {high!r}")
    is_int = name in _INT_PARAMS or (
        name not in _LIMITS and isinstance(low, int) and isinstance(high, int)
    )
    if is_int and not (float(low).is_integer() and float(high).is_integer()):
        raise ConfigError(f"{where}: expected integers, got [{low!r}, {high!r}]")
    if name in _LIMITS:
        lo, hi = _LIMITS[name]
        for label, bound in (("low", low), ("high", high)):
            if not lo <= bound <= hi:
                raise ConfigError(
                    f"{where}: {label} {bound!r} is out of range; expected {lo:g}..{hi:g}"
                )
    if log is None:
        default = DEFAULT_SPACE.get(name)
        log = default.log if default is not None else False
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low > 0, got {low!r}")
    if is_int:
        return Param(kind="int", low=int(low), high=int(high), log=log)
    return Param(kind="float", low=float(low), high=float(high), log=log)


def _choices(values: Any, where: str) -> Param:
    if not isinstance(values, list | tuple) or not values:
        raise ConfigError(f"{where}: choices must be a non-empty list, got {values!r}")
    for value in values:
        if not _is_scalar(value):
            raise ConfigError(f"{where}: each choice must be a number, string or boolean")
    return Param(kind="choice", choices=tuple(values))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, int | float | str | bool)


def _spaced(low: float, high: float, points: int, *, log: bool) -> list[float]:
    """``points`` values from ``low`` to ``high`` (both exact), evenly or geometrically spaced:
    NumPy's linspace/geomspace, in plain Python so the config schema imports no NumPy.

    >>> _spaced(1.0, 100.0, 3, log=True), _spaced(0.0, 1.0, 3, log=False)
    ([1.0, 10.000000000000002, 100.0], [0.0, 0.5, 1.0])
    """
    if points == 1:
        return [float(low)]
    ends = (math.log(low), math.log(high)) if log else (float(low), float(high))
    steps = [ends[0] + (ends[1] - ends[0]) * i / (points - 1) for i in range(points)]
    values = [math.exp(v) for v in steps] if log else steps
    values[0], values[-1] = float(low), float(high)
    return values


def apply_params(config: Config, params: Mapping[str, Any]) -> Config:
    """``config`` with LightGBM ``params`` set: ``[train]`` keys where they exist, else ``params``.

    Sampling rows (``bagging_fraction`` < 1) does nothing in LightGBM without ``bagging_freq``,
    so ``bagging_freq = 1`` is added unless set anywhere.
    """
    train = config.train
    extra = {k: v for k, v in params.items() if k not in ("learning_rate", "num_leaves")}
    merged = {**train.params, **extra}
    if merged.get("bagging_fraction", 1.0) < 1.0 and "bagging_freq" not in merged:
        merged["bagging_freq"] = 1
    changed = dataclasses.replace(
        train,
        learning_rate=float(params.get("learning_rate", train.learning_rate_for(None))),
        num_leaves=int(params.get("num_leaves", train.num_leaves)),
        params=merged,
    )
    return dataclasses.replace(config, train=changed)


def check_search_config(config: SearchConfig) -> None:
    """Validate ``[search]`` (called when the config is built): ranges, duration, space."""
    limits = {"trials": (1, 100_000), "grid_points": (2, 50)}
    for key, (lo, hi) in limits.items():
        value = getattr(config, key)
        if not lo <= value <= hi:
            raise ConfigError(f"[search] {key}: {value!r} is out of range; expected {lo}..{hi}")
    for key in ("max_latency_us", "max_model_kb"):
        value = getattr(config, key)
        if value is not None and not value > 0:
            raise ConfigError(f"[search] {key}: {value!r} must be positive")
        if value is not None and config.method == "none":
            option = "--" + key.replace("_", "-")
            raise ConfigError(
                f"[search] {key} ({option}) needs a search: "
                "pass --search grid|random|bayes or set [search] method"
            )
    if config.time_budget is not None:
        parse_duration(config.time_budget)
    parse_space(config.space, defaults=config.default_space)
