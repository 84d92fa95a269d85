"""The batch executor of a FeaturePlan: Numba kernels over rows grouped by entity, time-ordered."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from edgeml.errors import SchemaError
from edgeml.kernels import (
    diff,
    ewm_mean,
    lag,
    pairwise,
    restore_order,
    rolling_names,
    rolling_rows,
    rolling_span,
    sort_groups,
    time_since_previous,
)
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

_OPS = {"product": "product", "ratio": "ratio", "difference": "difference", "square": "product"}


class _Groups:
    """Rows sorted by (entity, time) once, shared by every per-entity step."""

    def __init__(self, frame: pl.DataFrame, plan: FeaturePlan, source: str) -> None:
        n = frame.height
        codes = np.zeros(n, dtype=np.int64)
        if plan.entity_col:
            entity = frame[plan.entity_col].cast(pl.String).fill_null("")
            codes = entity.cast(pl.Categorical).to_physical().cast(pl.Int64).to_numpy()
        self.times = np.zeros(n, dtype=np.int64)
        self.temporal = False
        if plan.time_col:
            self.times, self.temporal = time_ns(frame[plan.time_col], source)
        self.order, self.offsets = sort_groups(codes, self.times)

    def sorted(self, values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values[self.order])

    def restore(self, values: np.ndarray) -> np.ndarray:
        return restore_order(np.ascontiguousarray(values), self.order)


def time_ns(series: pl.Series, source: str) -> tuple[np.ndarray, bool]:
    """Times as int64 (ns since the epoch for dates and datetimes), and whether they are dates."""
    if series.null_count():
        raise SchemaError(
            f"{source}: time column {series.name!r} is missing on {series.null_count()} rows; "
            "time features need a time on every row (fill or drop those rows)"
        )
    if series.dtype.is_temporal():
        return series.cast(pl.Datetime("ns")).dt.epoch("ns").to_numpy().astype(np.int64), True
    return series.cast(pl.Int64, strict=False).fill_null(0).to_numpy(), False


def float_column(frame: pl.DataFrame, name: str) -> np.ndarray:
    """A column as float64 with NaN for missing (booleans as 0/1)."""
    return frame[name].cast(pl.Float64).fill_null(float("nan")).to_numpy()


def apply_features(
    plan: FeaturePlan,
    frame: pl.DataFrame,
    *,
    target: np.ndarray | None = None,
    source: str = "data",
) -> pl.DataFrame:
    """``frame`` with the plan's selected feature columns added (Float64).

    ``target`` holds the encoded target (NaN where unknown) for target-history steps.
    """
    if not plan.steps:
        return frame
    groups = _Groups(frame, plan, source) if plan.needs_time else None
    computed: dict[str, np.ndarray] = {}
    wanted = set(plan.selected)
    for step in plan.steps:
        if wanted.isdisjoint(step.outputs):
            continue
        computed.update(_compute(step, frame, groups, target, source))
    return frame.with_columns(pl.Series(name, computed[name]) for name in plan.selected)


def _compute(
    step: FeatureStep,
    frame: pl.DataFrame,
    groups: _Groups | None,
    target: np.ndarray | None,
    source: str,
) -> Mapping[str, np.ndarray]:
    if isinstance(step, CreatedStep):
        right = step.left if step.op == "square" else step.right
        matrix = np.column_stack([float_column(frame, step.left), float_column(frame, right)])
        values = pairwise(matrix, [0], [1], _OPS[step.op])[:, 0]
        return {step.outputs[0]: values}
    if isinstance(step, FormulaStep):
        formula = Formula.parse(step.name, step.formula)
        columns = {c: float_column(frame, c) for c in formula.columns}
        return {step.name: np.broadcast_to(formula.evaluate(columns), (frame.height,)).copy()}
    if groups is None:
        raise SchemaError(f"{source}: {step.kind} features need a time column")
    if isinstance(step, TargetHistoryStep):
        return _target_history(step, groups, target, source)
    if isinstance(step, GapStep):
        gaps = time_since_previous(groups.sorted(groups.times), groups.offsets)
        scale = 1e9 if groups.temporal else 1.0
        return {step.outputs[0]: groups.restore(gaps / scale)}
    matrix = np.column_stack([groups.sorted(float_column(frame, c)) for c in step.columns])
    if isinstance(step, LagStep):
        out = {}
        for j, column in enumerate(step.columns):
            for k in step.lags:
                out[f"{column}_lag_{k}"] = groups.restore(lag(matrix[:, j], groups.offsets, k))
                if step.diff:
                    values = diff(matrix[:, j], groups.offsets, k)
                    out[f"{column}_diff_{k}"] = groups.restore(values)
        return out
    if isinstance(step, EwmStep):
        return {
            f"{column}_ewm_{h:g}": groups.restore(
                ewm_mean(matrix[:, j], groups.offsets, halflife=h)
            )
            for h in step.halflives
            for j, column in enumerate(step.columns)
        }
    if isinstance(step, WindowStep):
        return _windows(step, matrix, groups)
    raise TypeError(f"unknown feature step {step!r}")


def _windows(step: WindowStep, matrix: np.ndarray, groups: _Groups) -> dict[str, np.ndarray]:
    rows = [w for w in step.windows if parse_window(w)[0] == "rows"]
    spans = [w for w in step.windows if parse_window(w)[0] == "span"]
    out: dict[str, np.ndarray] = {}
    if rows:
        sizes = [parse_window(w)[1] for w in rows]
        result = rolling_rows(matrix, groups.offsets, sizes, step.stats)
        names = rolling_names(step.columns, rows, step.stats)
        out.update({n: groups.restore(result[:, i]) for i, n in enumerate(names)})
    if spans:
        sizes = [parse_window(w)[1] for w in spans]
        clock = groups.sorted(groups.times)
        result = rolling_span(matrix, clock, groups.offsets, sizes, step.stats)
        names = rolling_names(step.columns, spans, step.stats)
        out.update({n: groups.restore(result[:, i]) for i, n in enumerate(names)})
    return out


def _target_history(
    step: TargetHistoryStep, groups: _Groups, target: np.ndarray | None, source: str
) -> dict[str, np.ndarray]:
    if target is None:
        raise SchemaError(
            f"{source}: target column {step.target!r} not found; its history feeds features "
            "(give past values, and leave the rows to predict empty)"
        )
    values = groups.sorted(np.asarray(target, dtype=np.float64))
    delay = step.delay
    out = {
        f"{step.target}_lag_{k}": groups.restore(lag(values, groups.offsets, k + delay))
        for k in step.lags
    }
    if step.windows:
        # Windows over the labels known by now: the current label is what is predicted, and the
        # last ``delay`` rows' labels are not known yet.
        past = lag(values, groups.offsets, 1 + delay)
        sizes = [parse_window(w)[1] for w in step.windows]
        stats = list(dict.fromkeys([*step.stats, *(["mean"] if step.relative else [])]))
        result = rolling_rows(past, groups.offsets, sizes, stats)
        names = [f"{step.target}_past_{s}_{w}" for w in step.windows for s in stats]
        columns = {n: result[:, i] for i, n in enumerate(names)}
        if step.relative:
            for w in step.windows:
                columns[f"{step.target}_rel_{w}"] = past - columns[f"{step.target}_past_mean_{w}"]
        out.update({n: groups.restore(v) for n, v in columns.items() if n in step.outputs})
    return out
