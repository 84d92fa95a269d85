"""The Polars executor of a PrepPlan: the one implementation used for training and prediction."""

from __future__ import annotations

import numpy as np
import polars as pl

from edgeml.spec.prep_plan import CategoricalStep, DatePartsStep, NumericStep, PrepPlan, Step


def apply_prep(plan: PrepPlan, frame: pl.DataFrame) -> pl.DataFrame:
    """Turn conformed input rows into the model's feature frame (all Float64, plan order).

    >>> import polars as pl
    >>> from edgeml.prep import fit_prep
    >>> frame = pl.DataFrame({"x": [1.0, 2.0, None, 4.0], "c": ["a", "b", "a", None]})
    >>> apply_prep(fit_prep(frame), frame).columns
    ['x', 'c']
    """
    expressions = [expr for step in plan.steps for expr in _expressions(step)]
    if not expressions:
        return pl.DataFrame(schema=dict.fromkeys(plan.features, pl.Float64)).clear(frame.height)
    return frame.select(expressions)


def to_matrix(features: pl.DataFrame) -> np.ndarray:
    """The feature frame as a C-ordered float64 matrix with NaN for missing (LightGBM's input)."""
    if features.width == 0:
        return np.empty((features.height, 0), dtype=np.float64)
    return np.ascontiguousarray(features.to_numpy(order="c", allow_copy=True), dtype=np.float64)


def _expressions(step: Step) -> list[pl.Expr]:
    if isinstance(step, NumericStep):
        return _numeric(step)
    if isinstance(step, CategoricalStep):
        return _categorical(step)
    return _date_parts(step)


def _numeric(step: NumericStep) -> list[pl.Expr]:
    # NaN and null both mean "missing" from here on; LightGBM sees NaN.
    raw = pl.col(step.column).cast(pl.Float64).fill_nan(None)
    value = raw
    if step.clip is not None:
        value = value.clip(step.clip[0], step.clip[1])
    if step.impute is not None:
        value = value.fill_null(step.impute)
    if step.scale is not None:
        # Multiply by the inverse: Polars turns a division by a literal into this on full
        # columns but divides exactly on one-row frames, which would make results differ by an
        # ulp with the batch shape; every executor (NumPy, C, ONNX) multiplies the same way.
        value = (value - step.scale[0]) * (1.0 / step.scale[1])
    out = [value.fill_null(float("nan")).alias(step.output)]
    if step.missing_indicator:
        out.append(raw.is_null().cast(pl.Float64).alias(step.missing_indicator))
    return out


def _categorical(step: CategoricalStep) -> list[pl.Expr]:
    value = pl.col(step.column).cast(pl.String)
    if step.impute is not None:
        value = value.fill_null(step.impute)
    if step.encoding == "onehot":
        return [
            (value == category).fill_null(False).cast(pl.Float64).alias(name)
            for category, name in zip(step.categories, step.output_names, strict=True)
        ]
    if step.encoding == "frequency":
        mapping = dict(zip(step.categories, step.frequencies, strict=True))
        encoded = value.replace_strict(mapping, default=0.0, return_dtype=pl.Float64)
    else:
        codes = {category: float(i) for i, category in enumerate(step.categories)}
        encoded = value.replace_strict(codes, default=None, return_dtype=pl.Float64)
    return [encoded.fill_null(float("nan")).alias(step.output_names[0])]


DATE_PART_FUNCTIONS = {
    "year": lambda e: e.dt.year(),
    "month": lambda e: e.dt.month(),
    "day": lambda e: e.dt.day(),
    "weekday": lambda e: e.dt.weekday(),
    "day_of_year": lambda e: e.dt.ordinal_day(),
    "hour": lambda e: e.dt.hour(),
    "minute": lambda e: e.dt.minute(),
}


def _date_parts(step: DatePartsStep) -> list[pl.Expr]:
    column = pl.col(step.column)
    return [
        DATE_PART_FUNCTIONS[part](column).cast(pl.Float64).fill_null(float("nan")).alias(name)
        for part, name in zip(step.parts, step.output_names, strict=True)
    ]
