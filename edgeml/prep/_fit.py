"""Fit a PrepPlan on training rows: every decision is learned here and recorded with its reason."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from edgeml.config import PrepConfig
from edgeml.data import logical_schema
from edgeml.prep._apply import DATE_PART_FUNCTIONS
from edgeml.prep._screen import correlated_pairs, screen_column
from edgeml.prep._stats import ColumnStats, column_stats
from edgeml.prep._summary import SAMPLE_KEY, Summary
from edgeml.spec.prep_plan import (
    DATE_PARTS_DATE,
    DATE_PARTS_DATETIME,
    NUMERIC_TYPES,
    CategoricalStep,
    ColumnSpec,
    DatePartsStep,
    NumericStep,
    PrepPlan,
    Role,
    Step,
)

# LightGBM refuses feature names holding JSON punctuation.
_UNSAFE = re.compile(r'[\[\]{}",:\s]+')


def fit_prep(
    frame: pl.DataFrame,
    *,
    config: PrepConfig | None = None,
    roles: Mapping[str, Role] | None = None,
    group: str | None = None,
    summary: Summary | None = None,
    formats: Mapping[str, str] | None = None,
) -> PrepPlan:
    """Learn how to turn these training rows into model features.

    ``roles`` names the columns that are not features (target, time, entity, group, id);
    ``group``, the entity column, makes near-duplicates be judged within each entity.
    ``summary`` (training at scale): ``frame`` is its bounded sample, and the statistics the
    summary holds exactly (row and missing counts, extremes, category counts) replace the
    sample's; see :mod:`edgeml.prep._summary` for which decision rests on which. ``formats``
    (column -> date format, as reading found them) is recorded for the plan's date columns.

    >>> import polars as pl
    >>> frame = pl.DataFrame({"x": [1.0, 2.0, 3.0], "k": [7, 7, 7]})
    >>> [c.reason for c in fit_prep(frame).columns]
    ['', 'constant: holds 7 on every non-missing training row']
    """
    config = config or PrepConfig()
    roles = dict(roles or {})
    frame = frame.drop(SAMPLE_KEY, strict=False)
    dtypes = logical_schema(frame)
    candidates = {name: dtype for name, dtype in dtypes.items() if name not in roles}
    stats = column_stats(frame, candidates, config.outlier_k)
    if summary is not None:
        stats = summary.column_stats(stats)
    columns: list[ColumnSpec] = []
    kept: list[str] = []
    target = next((c for c, role in roles.items() if role == "target"), None)
    outcome = frame[target] if target in frame.columns else None  # to keep informative gaps
    for name, dtype in dtypes.items():
        if name in roles:
            columns.append(ColumnSpec(name=name, dtype=dtype, role=roles[name]))
            continue
        reason = screen_column(
            stats[name], dtype, config, name=name, target=outcome, values=frame[name]
        )
        if reason:
            columns.append(ColumnSpec(name=name, dtype=dtype, role="dropped", reason=reason))
        else:
            kept.append(name)
            columns.append(ColumnSpec(name=name, dtype=dtype, role="feature"))

    numeric = [c for c in kept if dtypes[c] in ("float", "int")]
    within = group if group in frame.columns else None
    redundant = correlated_pairs(frame, numeric, config.correlation_threshold, group=within)
    columns = [
        ColumnSpec(
            name=c.name,
            dtype=c.dtype,
            role="dropped",
            reason=f"near-duplicate of {redundant[c.name]}",
        )
        if c.name in redundant
        else c
        for c in columns
    ]
    kept = [c for c in kept if c not in redundant]

    names = _NameAllocator(roles)
    steps: list[Step] = []
    outlier_bounds: dict[str, tuple[float, float]] = {}
    for name in kept:
        dtype = dtypes[name]
        if dtype in NUMERIC_TYPES:
            step, bounds = _fit_numeric(frame[name], dtype, stats[name], config, names)
            steps.append(step)
            if bounds:
                outlier_bounds[name] = bounds
        elif dtype in ("date", "datetime"):
            steps.append(_fit_date(frame[name], dtype, names))
        else:
            counts = summary.value_counts(name) if summary is not None else None
            steps.append(_fit_categorical(frame[name], config, names, counts, stats[name]))

    row_filters: list[dict[str, Any]] = []
    if config.outliers == "drop" and outlier_bounds:
        removed = frame.height - int(inside_fences(frame, outlier_bounds).sum())
        if summary is not None:  # counted on the sample
            removed = round(removed * summary.rows / max(frame.height, 1))
        row_filters.append(
            {
                "kind": "outlier_rows",
                "bounds": {c: list(b) for c, b in outlier_bounds.items()},
                "rows_removed": removed,
                "reason": f"training rows outside {config.outlier_k}×IQR fences",
            }
        )
    # a date column's format, or a number column's ("$1,234.5": signs and separators)
    own = {name for name, dtype in dtypes.items() if dtype in ("date", "datetime", "float", "int")}
    kept_formats = {c: f for c, f in (formats or {}).items() if c in own}
    return PrepPlan(columns=columns, steps=steps, row_filters=row_filters, formats=kept_formats)


def inside_fences(
    frame: pl.DataFrame, bounds: Mapping[str, tuple[float, float] | list[float]]
) -> np.ndarray:
    """Boolean mask of rows whose every bounded value is inside its fences (missing passes)."""
    keep = pl.lit(True)
    for column, (lo, hi) in bounds.items():
        value = pl.col(column).cast(pl.Float64).fill_nan(None)
        keep = keep & (value.is_null() | value.is_between(lo, hi))
    return frame.select(keep.alias("keep"))["keep"].to_numpy()


class _NameAllocator:
    """Hands out feature names that are LightGBM-safe and unique."""

    def __init__(self, taken: Mapping[str, Any]) -> None:
        self._taken = set(taken)

    def __call__(self, wanted: str) -> str:
        base = _UNSAFE.sub("_", wanted) or "feature"
        name, n = base, 1
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        return name


def _finite(series: pl.Series) -> pl.Series:
    values = series.cast(pl.Float64).fill_nan(None).drop_nulls()
    return values.filter(values.is_finite())


def _fit_numeric(
    series: pl.Series,
    dtype: str,
    stats: ColumnStats,
    config: PrepConfig,
    names: _NameAllocator,
) -> tuple[NumericStep, tuple[float, float] | None]:
    name = str(series.name)
    reasons: list[str] = []
    clip: tuple[float, float] | None = None
    bounds: tuple[float, float] | None = None
    fences = stats.fences(config.outlier_k) if dtype != "bool" else None
    if fences is not None and stats.outside:
        lo, hi = fences
        where = f"[{lo:.6g}, {hi:.6g}] ({config.outlier_k:g}×IQR fences)"
        if config.outliers == "none":
            reasons.append(
                f"{stats.outside} training values outside {where} kept: trees split on order, "
                "so extreme values cannot distort them (set outliers = 'clip' to clip)"
            )
        else:
            bounds = (float(lo), float(hi))
            if config.outliers == "clip":
                clip = bounds
                reasons.append(f"clipped {stats.outside} training values to {where}")
    indicator = None
    if config.missing_indicators and stats.missing:
        indicator = names(f"{name}__missing")
        reasons.append("missing-indicator column added: values were missing in training")
    values = _finite(series) if config.impute != "none" or config.scaling != "none" else None
    if values is not None and clip is not None:
        values = values.clip(*clip)
    impute = _impute_value(values, config) if values is not None else None
    if impute is not None:
        reasons.append(f"missing values imputed with {config.impute} = {impute:.6g}")
    scale = _scale(values, config.scaling) if values is not None else None
    if scale is not None:
        reasons.append(f"{config.scaling} scaling: (x - {scale[0]:.6g}) / {scale[1]:.6g}")
    if not reasons:
        reasons.append("numeric, used as is (LightGBM handles missing values natively)")
    return (
        NumericStep(
            column=name,
            output=names(name),
            clip=clip,
            missing_indicator=indicator,
            impute=impute,
            scale=scale,
            reasons=reasons,
        ),
        bounds,
    )


def _impute_value(values: pl.Series, config: PrepConfig) -> float | None:
    if config.impute == "none":
        return None
    if config.impute == "constant" or values.len() == 0:
        return float(config.impute_value)
    if config.impute == "mean":
        return float(values.mean())  # type: ignore[arg-type]
    if config.impute == "median":
        return float(values.median())  # type: ignore[arg-type]
    return float(values.mode().sort()[0])


def _scale(values: pl.Series, how: str) -> tuple[float, float] | None:
    if how == "none" or values.len() == 0:
        return None
    array = values.to_numpy()
    if how == "standard":
        spread = float(np.std(array, ddof=1)) if len(array) > 1 else 0.0
        center = float(np.mean(array))
    elif how == "minmax":
        center, spread = float(array.min()), float(array.max() - array.min())
    else:
        q1, center, q3 = np.quantile(array, [0.25, 0.5, 0.75])
        center, spread = float(center), float(q3 - q1)
    return center, spread if spread > 0 else 1.0


def _fit_categorical(
    series: pl.Series,
    config: PrepConfig,
    names: _NameAllocator,
    counts: pl.DataFrame | None = None,
    stats: ColumnStats | None = None,
) -> CategoricalStep:
    """``counts`` (category as text, ``count``): exact counts of all training rows when the
    series is only a sample of them."""
    name = str(series.name)
    if counts is None:
        counts = series.cast(pl.String).drop_nulls().value_counts()
    counts = counts.sort(["count", name], descending=[True, False])
    total = max(int(counts["count"].sum()), 1)
    categories = counts[name].to_list()[: config.max_categories]
    frequencies = [c / total for c in counts["count"].to_list()[: config.max_categories]]
    reasons = [f"{len(categories)} categories, {config.encoding} encoding"]
    cut = counts.height - len(categories)
    if cut:
        reasons.append(f"{cut} rarest categories treated as unseen (max_categories)")
    impute = None
    missing = stats.missing if stats is not None else series.null_count()
    if config.impute != "none" and categories and missing:
        impute = categories[0]
        reasons.append(f"missing values imputed with the mode {impute!r}")
    if config.encoding == "onehot":
        outputs = [names(f"{name}__{c}") for c in categories]
    else:
        outputs = [names(name)]
    return CategoricalStep(
        column=name,
        encoding=config.encoding,
        categories=categories,
        frequencies=frequencies if config.encoding == "frequency" else [],
        output_names=outputs,
        impute=impute,
        reasons=reasons,
    )


def _fit_date(series: pl.Series, dtype: str, names: _NameAllocator) -> DatePartsStep:
    name = str(series.name)
    candidates = DATE_PARTS_DATETIME if dtype == "datetime" else DATE_PARTS_DATE
    parts: list[str] = []
    constant: list[str] = []
    for part in candidates:
        if DATE_PART_FUNCTIONS[part](series.drop_nulls()).n_unique() > 1:
            parts.append(part)
        else:
            constant.append(part)
    reasons = [f"expanded to calendar parts: {', '.join(parts) or 'none'}"]
    if constant:
        reasons.append(f"constant parts left out: {', '.join(constant)}")
    return DatePartsStep(
        column=name,
        parts=parts,
        output_names=[names(f"{name}_{p}") for p in parts],
        reasons=reasons,
    )
