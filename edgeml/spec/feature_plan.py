"""The fitted FeaturePlan (stage 3): plain, JSON-serialisable steps that add feature columns.

Like the PrepPlan it is data, not code: ``edgeml.features`` runs it on batches with the Numba
kernels, ``edgeml.runtime`` runs it on a stream one reading at a time. Standard library only, so a
device can read it without Polars or Numba.

Per-entity steps see rows sorted by (entity, time), ties in arrival order. Windows over input
columns end at, and include, the current row (a reading at time t is known at t); windows and
lags over the *target* end at the previous row, since the current label is what is predicted.

>>> plan = FeaturePlan.from_dict({"time_col": "t", "entity_col": None, "steps": [
...     {"kind": "lag", "columns": ["x"], "lags": [1]}]})
>>> plan.outputs
['x_lag_1']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from edgeml.errors import BundleError
from edgeml.util.fields import check_fields

__all__ = [
    "CreatedStep",
    "EwmStep",
    "FeaturePlan",
    "FeatureStep",
    "FormulaStep",
    "GapStep",
    "LagStep",
    "TargetHistoryStep",
    "WindowStep",
    "parse_window",
]

_UNITS_NS = {"s": 10**9, "m": 60 * 10**9, "min": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}


def parse_window(window: str) -> tuple[str, int]:
    """``"12"`` → ("rows", 12); ``"15min"``/``"6h"``/``"7d"``/``"30s"`` → ("span", nanoseconds).

    >>> parse_window("6h")
    ('span', 21600000000000)
    """
    text = str(window).strip().lower()
    if text.isdigit() and int(text) > 0:
        return "rows", int(text)
    for unit in sorted(_UNITS_NS, key=len, reverse=True):
        number = text[: -len(unit)]
        if text.endswith(unit) and number.isdigit() and int(number) > 0:
            return "span", int(number) * _UNITS_NS[unit]
    raise ValueError(
        f"window {window!r}: expected a row count like '12' or a span like '15min', '6h', '7d'"
    )


@dataclass(frozen=True, kw_only=True)
class WindowStep:
    """Rolling statistics of ``columns`` over each window (rows or a time span), current row in."""

    columns: list[str]
    windows: list[str]
    stats: list[str]
    kind: Literal["window"] = "window"

    @property
    def outputs(self) -> list[str]:
        return [f"{c}_{s}_{w}" for c in self.columns for w in self.windows for s in self.stats]


@dataclass(frozen=True, kw_only=True)
class LagStep:
    """The value ``k`` rows earlier in the entity (and, with ``diff``, ``x - lag``)."""

    columns: list[str]
    lags: list[int]
    diff: bool = False
    kind: Literal["lag"] = "lag"

    @property
    def outputs(self) -> list[str]:
        names = [f"{c}_lag_{k}" for c in self.columns for k in self.lags]
        if self.diff:
            names += [f"{c}_diff_{k}" for c in self.columns for k in self.lags]
        return names


@dataclass(frozen=True, kw_only=True)
class EwmStep:
    """Exponentially weighted mean per entity (``halflife`` in rows, not bias-adjusted)."""

    columns: list[str]
    halflives: list[float]
    kind: Literal["ewm"] = "ewm"

    @property
    def outputs(self) -> list[str]:
        return [f"{c}_ewm_{h:g}" for c in self.columns for h in self.halflives]


@dataclass(frozen=True, kw_only=True)
class GapStep:
    """Seconds since the entity's previous row (NaN for its first row)."""

    kind: Literal["gap"] = "gap"

    @property
    def outputs(self) -> list[str]:
        return ["seconds_since_previous"]


@dataclass(frozen=True, kw_only=True)
class TargetHistoryStep:
    """Lags and rolling statistics of the target's past values (the current label excluded).

    With ``relative``, also the last value relative to the entity's past: the previous label
    minus its past mean over each window (``y_rel_28``), the level against the entity's norm,
    which a tree cannot form from the two features alone.
    """

    target: str
    lags: list[int] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    stats: list[str] = field(default_factory=lambda: ["mean"])
    relative: bool = False
    # Rows of the entity whose labels are not known yet when a row is predicted: lag k reads
    # the label k + delay rows back, windows end delay rows before the current one.
    delay: int = 0
    kind: Literal["target_history"] = "target_history"

    @property
    def outputs(self) -> list[str]:
        lags = [f"{self.target}_lag_{k}" for k in self.lags]
        windows = [f"{self.target}_past_{s}_{w}" for w in self.windows for s in self.stats]
        relative = [f"{self.target}_rel_{w}" for w in self.windows] if self.relative else []
        return lags + windows + relative


@dataclass(frozen=True, kw_only=True)
class CreatedStep:
    """A pairwise feature: product, ratio (NaN where the divisor is 0), difference, or square."""

    op: Literal["product", "ratio", "difference", "square"]
    left: str
    right: str
    kind: Literal["created"] = "created"

    @property
    def outputs(self) -> list[str]:
        symbol = {"product": "*", "ratio": "/", "difference": "-", "square": "^2"}[self.op]
        if self.op == "square":
            return [f"{self.left}^2"]
        return [f"{self.left}{symbol}{self.right}"]


@dataclass(frozen=True, kw_only=True)
class FormulaStep:
    """A user-defined feature from a safe formula over columns (see ``edgeml.features``)."""

    name: str
    formula: str
    kind: Literal["formula"] = "formula"

    @property
    def outputs(self) -> list[str]:
        return [self.name]


FeatureStep = (
    WindowStep | LagStep | EwmStep | GapStep | TargetHistoryStep | CreatedStep | FormulaStep
)
_KINDS: dict[str, type] = {
    "window": WindowStep,
    "lag": LagStep,
    "ewm": EwmStep,
    "gap": GapStep,
    "target_history": TargetHistoryStep,
    "created": CreatedStep,
    "formula": FormulaStep,
}


@dataclass(frozen=True, kw_only=True)
class FeaturePlan:
    """Steps that add columns, which of their outputs the model keeps, and why."""

    time_col: str | None
    entity_col: str | None
    steps: list[FeatureStep]
    kept: list[str] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outputs(self) -> list[str]:
        """Every column the steps compute, in order."""
        return [name for step in self.steps for name in step.outputs]

    @property
    def sources(self) -> list[str]:
        """Input columns the per-column and pairwise steps read (formulas name their own).

        >>> FeaturePlan(time_col="t", entity_col=None, steps=[
        ...     LagStep(columns=["x", "y"], lags=[1]), CreatedStep(op="ratio", left="y", right="z")
        ... ]).sources
        ['x', 'y', 'z']
        """
        names: list[str] = []
        for step in self.steps:
            if isinstance(step, WindowStep | LagStep | EwmStep):
                names += step.columns
            elif isinstance(step, CreatedStep):
                names += [step.left] if step.op == "square" else [step.left, step.right]
        return list(dict.fromkeys(names))

    def reach(self) -> tuple[int, int, int]:
        """How far back the steps look: (rows of inputs, nanoseconds of inputs, rows of labels).

        Input rows count the current one; the label reach includes the label delay (the current
        label is never read). A stream keeps that much history per entity; a batch carries it
        across batch boundaries.

        >>> FeaturePlan(time_col="t", entity_col=None, steps=[
        ...     LagStep(columns=["x"], lags=[2]),
        ...     WindowStep(columns=["x"], windows=["6h"], stats=["mean"]),
        ...     TargetHistoryStep(target="y", lags=[1], windows=["7"], delay=3)]).reach()
        (3, 21600000000000, 11)
        """
        rows, span, labels = 1, 0, 0
        for step in self.steps:
            if isinstance(step, LagStep):
                rows = max(rows, max(step.lags) + 1)
            elif isinstance(step, WindowStep):
                for window in step.windows:
                    unit, size = parse_window(window)
                    if unit == "rows":
                        rows = max(rows, size)
                    else:
                        span = max(span, size)
            elif isinstance(step, TargetHistoryStep):
                sizes = [parse_window(w)[1] + 1 for w in step.windows]
                labels = max(labels, max([*step.lags, *sizes], default=0) + step.delay)
        return rows, span, labels

    def pruned(self) -> FeaturePlan:
        """This plan computing only what it keeps: a column none of whose features were kept is
        no longer read (so data without it, or with prep dropping it, still predicts).

        >>> plan = FeaturePlan(time_col="t", entity_col=None, kept=["y_lag_1"],
        ...                    steps=[LagStep(columns=["x", "y"], lags=[1])])
        >>> plan.pruned().steps
        [LagStep(columns=['y'], lags=[1], diff=False, kind='lag')]
        """
        if self.kept is None:
            return self
        kept = set(self.kept)
        steps: list[FeatureStep] = []
        for step in self.steps:
            if isinstance(step, WindowStep | LagStep | EwmStep):
                columns = [
                    c
                    for c in step.columns
                    if kept.intersection(dataclasses.replace(step, columns=[c]).outputs)
                ]
                if columns:
                    steps.append(dataclasses.replace(step, columns=columns))
            elif kept.intersection(step.outputs):
                steps.append(step)
        return dataclasses.replace(self, steps=steps)

    @property
    def selected(self) -> list[str]:
        """The computed columns the model uses (all of them before selection)."""
        return list(self.outputs if self.kept is None else self.kept)

    @property
    def needs_time(self) -> bool:
        return any(not isinstance(s, CreatedStep | FormulaStep) for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "time_col": self.time_col,
            "entity_col": self.entity_col,
            "steps": [dataclasses.asdict(s) for s in self.steps],
            "kept": self.kept,
            "candidates": list(self.candidates),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FeaturePlan:
        try:
            steps = [_step(s) for s in raw["steps"]]
            plan = cls(
                time_col=raw.get("time_col"),
                entity_col=raw.get("entity_col"),
                steps=steps,
                kept=raw.get("kept"),
                candidates=list(raw.get("candidates", [])),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"manifest feature plan is malformed: {exc}") from None
        for k, part in enumerate([*plan.steps, plan]):
            check_fields(part, where=f"manifest feature plan, {type(part).__name__} {k}")
        return plan


def _step(raw: dict[str, Any]) -> FeatureStep:
    kind = raw.get("kind")
    if kind not in _KINDS:
        raise BundleError(f"manifest feature plan: unknown step kind {kind!r}")
    step: FeatureStep = _KINDS[kind](**raw)
    return step
