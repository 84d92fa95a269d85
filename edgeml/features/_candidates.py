"""Candidate feature steps from the ``[features]`` config and the columns' roles."""

from __future__ import annotations

from collections.abc import Mapping

from edgeml.config import FeaturesConfig
from edgeml.errors import ConfigError
from edgeml.spec.feature_plan import (
    CreatedStep,
    EwmStep,
    FeaturePlan,
    FeatureStep,
    FormulaStep,
    GapStep,
    LagStep,
    TargetHistoryStep,
    WindowStep,
    parse_window,
)
from edgeml.spec.formula import Formula

# What ``auto`` builds per numeric column when a time column is set: short and longer memory.
AUTO_LAGS = [1]
AUTO_WINDOWS = ["3", "12"]
AUTO_EWM = [6.0]
# The target's own history per entity in ``auto`` mode: recent labels, the labels a week and two
# back (daily data), and past means, the entity's norm. Rows, not spans: a stream counts labels.
AUTO_TARGET_LAGS = [1, 2, 7, 14]
AUTO_TARGET_WINDOWS = ["7", "28"]
# Numeric columns that are calendar parts: known in advance, so their lags only shift the
# calendar and are never candidates.
CALENDAR_PARTS = frozenset(
    {"year", "quarter", "month", "week", "day", "weekday", "day_of_week", "dayofweek",
     "day_of_year", "dayofyear", "hour", "minute", "second"}
)  # fmt: skip
# Interactions multiply: ``auto`` pairs at most this many numeric columns (10 pairs per kind).
AUTO_INTERACTION_COLUMNS = 5


def candidate_plan(
    config: FeaturesConfig,
    *,
    numeric: list[str],
    known: Mapping[str, str],
    time_col: str | None,
    entity_col: str | None,
    target: str,
    task: str,
) -> FeaturePlan:
    """Every candidate step the config asks for (auto mode fills in defaults from the roles).

    ``numeric`` are the numeric input features (best first, for ``interactions = "auto"``);
    ``known`` maps every column to its logical dtype, to check names given in the config.
    """
    if config.mode == "none":
        return FeaturePlan(time_col=time_col, entity_col=entity_col, steps=[])
    auto = config.mode == "auto"
    series = [c for c in numeric if not _calendar(c)]
    columns = _named(config.columns, known, "columns") or (series if auto else [])
    lags = _positive(config.lags, "lags") or (AUTO_LAGS if auto else [])
    windows = _windows(config.windows) or (AUTO_WINDOWS if auto else [])
    halflives = config.ewm_halflives or (AUTO_EWM if auto else [])
    if any(h <= 0 for h in halflives):
        raise ConfigError(f"[features] ewm_halflives: {halflives}; expected positive rows")
    steps: list[FeatureStep] = []
    series_asked = bool(
        config.lags
        or config.windows
        or config.ewm_halflives
        or config.time_since_previous
        or config.target_lags
        or config.target_windows
    )
    if time_col is None and series_asked:
        raise ConfigError(
            "[features]: lags, windows, EWM and target history need a time column "
            "(--time-col or [train] time_col)"
        )
    if time_col is not None and columns:
        if lags:
            steps.append(LagStep(columns=columns, lags=lags, diff=True))
        if windows:
            steps.append(WindowStep(columns=columns, windows=windows, stats=list(config.stats)))
        if halflives:
            steps.append(EwmStep(columns=columns, halflives=list(halflives)))
    if time_col is not None and config.time_since_previous:
        steps.append(GapStep())
    if config.target_lags or config.target_windows:
        steps.append(_target_history(config, target, task))
    elif auto and config.target_history and time_col is not None and task != "multiclass":
        steps.append(
            TargetHistoryStep(
                target=target,
                lags=list(AUTO_TARGET_LAGS),
                windows=list(AUTO_TARGET_WINDOWS),
                stats=["mean"],
                relative=task == "regression",
                delay=config.label_delay,
            )
        )
    if config.interactions == "auto":
        steps += _interactions(numeric[:AUTO_INTERACTION_COLUMNS])
    for name, text in config.formulas.items():
        formula = Formula.parse(name, text)
        _named(formula.columns, known, f"formulas.{name}")
        steps.append(FormulaStep(name=name, formula=text))
    return FeaturePlan(time_col=time_col, entity_col=entity_col, steps=steps)


def _target_history(config: FeaturesConfig, target: str, task: str) -> TargetHistoryStep:
    if task == "multiclass":
        raise ConfigError(
            "[features] target_lags/target_windows: the history of a multiclass target has no "
            "order to average; use them with regression or binary targets"
        )
    windows = _windows(config.target_windows)
    if any(parse_window(w)[0] == "span" for w in windows):
        raise ConfigError("[features] target_windows: use row counts (e.g. '7'), not spans")
    return TargetHistoryStep(
        target=target,
        lags=_positive(config.target_lags, "target_lags"),
        windows=windows,
        stats=list(config.stats),
        delay=config.label_delay,
    )


def _calendar(column: str) -> bool:
    """``month``, ``date_weekday``, ``Year``: a calendar part by its name."""
    name = column.lower()
    return any(name == part or name.endswith(f"_{part}") for part in CALENDAR_PARTS)


def _interactions(columns: list[str]) -> list[FeatureStep]:
    steps: list[FeatureStep] = []
    for i, left in enumerate(columns):
        for right in columns[i + 1 :]:
            steps.append(CreatedStep(op="product", left=left, right=right))
            steps.append(CreatedStep(op="difference", left=left, right=right))
            steps.append(CreatedStep(op="ratio", left=left, right=right))
            steps.append(CreatedStep(op="ratio", left=right, right=left))
    return steps


def _named(names: list[str], known: Mapping[str, str], key: str) -> list[str]:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"[features] {key}: unknown column(s) {', '.join(map(repr, unknown))}; "
            f"columns are: {', '.join(known)}"
        )
    text = [n for n in names if known[n] not in ("float", "int", "bool")]
    if text:
        raise ConfigError(f"[features] {key}: {', '.join(map(repr, text))} are not numeric")
    return list(names)


def _positive(values: list[int], key: str) -> list[int]:
    if any(v < 1 for v in values):
        raise ConfigError(f"[features] {key}: {values}; expected positive row counts")
    return list(values)


def _windows(windows: list[str]) -> list[str]:
    for window in windows:
        try:
            parse_window(window)
        except ValueError as exc:
            raise ConfigError(f"[features] {exc}") from None
    return [str(w) for w in windows]
