"""Streaming feature state: push one reading at a time, get the batch executor's features.

Per entity the stream keeps what the FeaturePlan's steps need and nothing more: a ring buffer of
the last rows (as long as the longest row window or lag), a time-bounded buffer for span windows,
the EWM state, the previous time, and the past target values. NumPy and the standard library
only, so a device runs it without Numba.

Semantics equal ``edgeml.features.apply_features`` on the same rows in arrival order (ties in
time broken by arrival): windows end at and include the current reading, target history ends at
the previous row, statistics skip NaN and follow NumPy's ``nan*`` functions on the window.

>>> from edgeml.spec.feature_plan import FeaturePlan, LagStep
>>> stream = FeatureStream(FeaturePlan(time_col="t", entity_col="m",
...                                    steps=[LagStep(columns=["x"], lags=[1])]))
>>> [stream.push({"t": t, "m": "a", "x": x})["x_lag_1"] for t, x in [(1, 5.0), (2, 7.0)]]
[nan, 5.0]
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeml.errors import SchemaError
from edgeml.runtime._schema import epoch_micros, to_datetime
from edgeml.spec.feature_plan import (
    CreatedStep,
    EwmStep,
    FeaturePlan,
    FormulaStep,
    GapStep,
    LagStep,
    TargetHistoryStep,
    WindowStep,
    parse_window,
)
from edgeml.spec.formula import Formula


@dataclass
class _Entity:
    rows: deque[tuple[int, np.ndarray]]  # (time, values of the plan's columns), newest last
    ewm: dict[tuple[int, float], float] = field(default_factory=dict)
    last_time: int | None = None
    targets: deque[float] = field(default_factory=deque)
    target_times: deque[int] = field(default_factory=deque)  # the reading each label belongs to


class FeatureStream:
    """Per-entity state for a FeaturePlan; :meth:`push` returns the selected features.

    ``max_entities`` bounds the memory a long-running server gives to entities: past it, the
    entity seen longest ago is forgotten (and starts cold if it comes back).
    """

    def __init__(
        self, plan: FeaturePlan, *, max_entities: int | None = None, time_format: str | None = None
    ) -> None:
        self.plan = plan
        self.max_entities = max_entities
        # how the time column's text is written, where the bundle recorded a date format
        self.time_format = time_format
        self._columns = sorted(
            {
                c
                for s in plan.steps
                if isinstance(s, WindowStep | LagStep | EwmStep)
                for c in s.columns
            }
        )
        self._index = {c: i for i, c in enumerate(self._columns)}
        self._row_reach, self._span_reach, self._target_reach = plan.reach()
        self._formulas = {
            s.name: Formula.parse(s.name, s.formula)
            for s in plan.steps
            if isinstance(s, FormulaStep)
        }
        self._entities: OrderedDict[Any, _Entity] = OrderedDict()
        self._wanted = set(plan.selected)
        # Readings pushed, and how many of them got their label (with the reading or later):
        # a model fed by labels that never arrive predicts from missing target history.
        self.readings = 0
        self.labelled = 0

    def push(self, row: Mapping[str, Any], *, target: float | None = None) -> dict[str, float]:
        """Features of this reading from its entity's past; then remember it (and its label).

        ``target`` is this row's label when it is already known (as in a replay); it feeds the
        target history of later rows, never this row's own features.
        """
        key = row.get(self.plan.entity_col) if self.plan.entity_col else None
        key = "" if key is None else str(key)
        time, temporal = self._time(row)
        values = np.array([_number(row, c) for c in self._columns], dtype=np.float64)
        state = self._entities.get(key)
        if state is None:
            state = self._entities[key] = _Entity(rows=deque())
            if self.max_entities is not None and len(self._entities) > self.max_entities:
                self._entities.popitem(last=False)
        elif self.max_entities is not None:
            self._entities.move_to_end(key)
        state.rows.append((time, values))
        self._trim(state, time)
        out: dict[str, float] = {}
        for step in self.plan.steps:
            if self._wanted.isdisjoint(step.outputs):
                continue
            out.update(self._step(step, row, state, time, temporal))
        state.last_time = time
        if self.needs_labels:
            state.targets.append(math.nan if target is None else float(target))
            state.target_times.append(time)
            self.readings += 1
            self.labelled += target is not None
            while len(state.targets) > self._target_reach:
                state.targets.popleft()
                state.target_times.popleft()
        return {name: out[name] for name in self.plan.selected}

    @property
    def needs_labels(self) -> bool:
        """Whether the features need past labels (a target-history step)."""
        return any(isinstance(s, TargetHistoryStep) for s in self.plan.steps)

    def push_label(self, entity: Any, time: Any, label: float) -> bool:
        """The true label of ``entity``'s reading at ``time``, learnt after it was pushed: later
        readings' target history uses it, as the batch pipeline uses the target column.

        ``label`` is the encoded target (0/1 for binary, the value for regression). Returns
        False when no reading of that entity at that time is still remembered (too old to
        matter, or never pushed); the label of the latest such reading is set.

        >>> from edgeml.spec.feature_plan import TargetHistoryStep
        >>> stream = FeatureStream(FeaturePlan(time_col="t", entity_col="m",
        ...     steps=[TargetHistoryStep(target="y", lags=[1])]))
        >>> _ = stream.push({"t": 1, "m": "a"})
        >>> stream.push_label("a", 1, 4.0)
        True
        >>> stream.push({"t": 2, "m": "a"})["y_lag_1"]
        4.0
        """
        state = self._entities.get("" if entity is None else str(entity))
        if state is None or not self.needs_labels:
            return False
        stamp, _ = self._time({self.plan.time_col: time} if self.plan.time_col else {})
        for i in range(len(state.target_times) - 1, -1, -1):
            if state.target_times[i] == stamp:
                if math.isnan(state.targets[i]):
                    self.labelled += 1
                state.targets[i] = float(label)
                return True
        return False

    def _time(self, row: Mapping[str, Any]) -> tuple[int, bool]:
        column = self.plan.time_col
        if column is None or not self.plan.needs_time:
            return 0, False
        value = row.get(column)
        if value is None:
            raise SchemaError(f"time column {column!r} is missing from the reading")
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        ):
            return int(value), False
        try:
            stamp = to_datetime(value, "datetime", self.time_format)
        except ValueError as exc:
            raise SchemaError(f"time column {column!r}: {exc}") from None
        if stamp is None:
            raise SchemaError(f"time column {column!r} is empty")
        return epoch_micros(stamp) * 1000, True

    def _trim(self, state: _Entity, time: int) -> None:
        rows = state.rows
        while len(rows) > self._row_reach and (
            not self._span_reach or rows[0][0] <= time - self._span_reach
        ):
            rows.popleft()

    def _step(
        self, step: Any, row: Mapping[str, Any], state: _Entity, time: int, temporal: bool
    ) -> dict[str, float]:
        if isinstance(step, CreatedStep):
            a = _number(row, step.left)
            b = a if step.op == "square" else _number(row, step.right)
            return {step.outputs[0]: _created(step.op, a, b)}
        if isinstance(step, FormulaStep):
            formula = self._formulas[step.name]
            columns = {c: np.array([_number(row, c)]) for c in formula.columns}
            return {step.name: float(formula.evaluate(columns).reshape(-1)[0])}
        if isinstance(step, GapStep):
            gap = math.nan if state.last_time is None else time - state.last_time
            return {step.outputs[0]: gap / 1e9 if temporal else float(gap)}
        if isinstance(step, TargetHistoryStep):
            return _target_history(step, state.targets)
        history = [values for _, values in state.rows]
        if isinstance(step, LagStep):
            return self._lags(step, history)
        if isinstance(step, EwmStep):
            return self._ewm(step, state, history[-1])
        return self._windows(step, state, time)

    def _lags(self, step: LagStep, history: list[np.ndarray]) -> dict[str, float]:
        out = {}
        for column in step.columns:
            j = self._index[column]
            for k in step.lags:
                earlier = history[-1 - k][j] if len(history) > k else math.nan
                out[f"{column}_lag_{k}"] = float(earlier)
                if step.diff:
                    out[f"{column}_diff_{k}"] = float(history[-1][j] - earlier)
        return out

    def _ewm(self, step: EwmStep, state: _Entity, current: np.ndarray) -> dict[str, float]:
        out = {}
        for h in step.halflives:
            alpha = 1.0 - math.exp(-math.log(2.0) / h)  # as edgeml.kernels.ewm_alpha
            for column in step.columns:
                x = float(current[self._index[column]])
                s = state.ewm.get((self._index[column], h), math.nan)
                if not math.isnan(x):
                    s = x if math.isnan(s) else alpha * x + (1.0 - alpha) * s
                state.ewm[(self._index[column], h)] = s
                out[f"{column}_ewm_{h:g}"] = s
        return out

    def _windows(self, step: WindowStep, state: _Entity, time: int) -> dict[str, float]:
        out = {}
        for window in step.windows:
            kind, size = parse_window(window)
            if kind == "rows":
                rows = list(state.rows)[-size:]
            else:
                rows = [r for r in state.rows if r[0] > time - size]
            block = np.array([values for _, values in rows])
            picked = block[:, [self._index[c] for c in step.columns]]
            # Every column of the window at once: a call per (column, stat) cost 0.3 ms a row.
            stats = window_stats(picked, step.stats)
            for stat, values in stats.items():
                for column, value in zip(step.columns, values.tolist(), strict=True):
                    out[f"{column}_{stat}_{window}"] = value
        return out


def window_stats(block: np.ndarray, stats: Sequence[str]) -> dict[str, np.ndarray]:
    """:func:`window_stat` of each column of ``block`` (rows × columns), NaN skipped.

    >>> window_stats(np.array([[1.0, np.nan], [3.0, np.nan]]), ["mean", "count"])
    {'mean': array([ 2., nan]), 'count': array([2., 0.])}
    """
    present = ~np.isnan(block)
    n = present.sum(axis=0)
    out: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        total = np.where(present, block, 0.0).sum(axis=0)
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        for stat in stats:
            if stat == "count":
                out[stat] = n.astype(np.float64)
            elif stat == "sum":
                out[stat] = np.where(n > 0, total, np.nan)
            elif stat == "mean":
                out[stat] = mean
            elif stat in ("std", "var"):
                deviation = np.where(present, block - mean, 0.0)
                var = (deviation * deviation).sum(axis=0) / np.maximum(n - 1, 1)
                infinite = (np.isinf(block) & present).any(axis=0)
                var = np.where((n < 2) | infinite, np.nan, var)
                out[stat] = np.sqrt(var) if stat == "std" else var
            else:
                fill = np.inf if stat == "min" else -np.inf
                masked = np.where(present, block, fill)
                extreme = (
                    masked.min(axis=0, initial=fill)
                    if stat == "min"
                    else masked.max(axis=0, initial=fill)
                )
                out[stat] = np.where(n > 0, extreme, np.nan)
    return out


def window_stat(values: np.ndarray, stat: str) -> float:
    """One statistic of a window, NaN skipped, as NumPy's ``nan*`` functions give it."""
    present = values[~np.isnan(values)]
    n = present.size
    if stat == "count":
        return float(n)
    if n == 0:
        return math.nan
    with np.errstate(all="ignore"):
        if stat == "sum":
            return float(present.sum())
        if stat == "mean":
            return float(present.mean())
        if stat in ("std", "var"):
            if n < 2 or not np.isfinite(present).all():
                return math.nan
            var = float(present.var(ddof=1))
            return math.sqrt(var) if stat == "std" else var
        return float(present.min() if stat == "min" else present.max())


def _target_history(step: TargetHistoryStep, targets: deque[float]) -> dict[str, float]:
    # The last ``delay`` readings' labels are not known at this reading, even when pushed early.
    past = list(targets)[: max(0, len(targets) - step.delay)]
    out = {f"{step.target}_lag_{k}": past[-k] if len(past) >= k else math.nan for k in step.lags}
    for window in step.windows:
        size = parse_window(window)[1]
        values = np.array(past[-size:], dtype=np.float64)
        for stat in step.stats:
            out[f"{step.target}_past_{stat}_{window}"] = window_stat(values, stat)
        if step.relative:
            last = past[-1] if past else math.nan
            out[f"{step.target}_rel_{window}"] = last - window_stat(values, "mean")
    return out


def _created(op: str, a: float, b: float) -> float:
    if op == "ratio":
        return math.nan if b == 0 else a / b
    if op == "difference":
        return a - b
    return a * b


def _number(row: Mapping[str, Any], column: str) -> float:
    value = row.get(column)
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SchemaError(f"column {column!r}: expected a number, got {value!r}") from None
