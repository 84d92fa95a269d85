"""The parity gate: a compiled artifact must give LightGBM's numbers on real and adversarial rows.

Adversarial rows hit every split of the booster exactly: each threshold, its float64 and float32
neighbours, NaN, ±inf and 0 for every numeric feature; every category in a split set, an unseen
code, a negative code and NaN for every categorical feature. Each such value is planted into a
copy of a real row, so the rest of the row stays realistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from edgeml.compile._forest import K_ZERO, parse_model
from edgeml.data import conform
from edgeml.errors import ParityError
from edgeml.prep import REFERENCE_ROWS, apply_prep, load_reference_rows, to_matrix
from edgeml.spec.manifest import Manifest

TOLERANCE = 1e-6
# Values no reference row holds but a caller may send: LightGBM's zero threshold and below,
# non-integer and out-of-range categories, subnormals, huge magnitudes.
INPUT_PROBES = (-0.5, 0.5, 1.5, -0.0, K_ZERO, -K_ZERO, 1e-36, -1e-36, 5e-324,
                2.0**24 + 1, 2.0**31, -(2.0**31) - 1, 1e300, -1e300)  # fmt: skip


def split_values(booster: lgb.Booster) -> dict[int, set[float]]:
    """Per feature index: every numeric threshold, or every category code named in a split."""
    return parse_model(booster.model_to_string()).split_values()


def probe_values(threshold: float) -> list[float]:
    """A threshold, its float64 neighbours, and the float32 values around it (rounded inputs)."""
    with np.errstate(over="ignore"):  # LightGBM dumps an infinite threshold as 1e300
        as32 = np.float32(threshold)
    candidates = {
        threshold,
        float(np.nextafter(threshold, -np.inf)),
        float(np.nextafter(threshold, np.inf)),
        float(as32),
        float(np.nextafter(as32, np.float32(-np.inf))),
        float(np.nextafter(as32, np.float32(np.inf))),
    }
    return sorted(v for v in candidates if np.isfinite(v))


def adversarial_matrix(
    booster: lgb.Booster, base: np.ndarray, *, categorical: set[int] | None = None
) -> np.ndarray:
    """Feature-space rows probing every split (see the module docstring), built on ``base`` rows.

    >>> x = np.random.default_rng(0).normal(size=(200, 2))
    >>> b = lgb.train({"verbosity": -1, "num_leaves": 4}, lgb.Dataset(x, x[:, 0]), 2)
    >>> adversarial_matrix(b, x[:5]).shape[1]
    2
    """
    categorical = categorical or set()
    if base.ndim != 2 or not len(base):
        base = np.zeros((1, booster.num_feature()))
    rows: list[np.ndarray] = []
    n = 0
    for feature, found in sorted(split_values(booster).items()):
        if feature in categorical:
            codes = sorted(found)
            probes = [*codes, (max(codes) + 1) if codes else 0.0, -1.0, np.nan]
        else:
            probes = [v for t in sorted(found) for v in probe_values(t)]
            probes += [np.nan, np.inf, -np.inf, 0.0]
        for value in probes:
            row = base[n % len(base)].copy()
            row[feature] = value
            rows.append(row)
            n += 1
    whole = [np.full(base.shape[1], v) for v in (np.nan, 0.0)]
    return np.vstack([*rows, *whole]) if rows else np.vstack(whole)


def input_probes(base: np.ndarray, features: set[int], num_feature: int) -> np.ndarray:
    """Each of INPUT_PROBES planted into a ``base`` row, for every feature the trees split on."""
    if base.ndim != 2 or not len(base):
        base = np.zeros((1, num_feature))
    rows = []
    for n, (feature, value) in enumerate((f, v) for f in sorted(features) for v in INPUT_PROBES):
        row = base[n % len(base)].copy()
        row[feature] = value
        rows.append(row)
    return np.vstack(rows) if rows else base[:0]


@dataclass(frozen=True, kw_only=True)
class ParityReport:
    """How far an artifact is from LightGBM: recorded in the manifest for every export."""

    backend: str
    rows: int
    max_abs_diff: float
    worst_row: int
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "max_abs_diff": self.max_abs_diff,
            "worst_row": self.worst_row,
            "tolerance": self.tolerance,
            "passed": self.passed,
        }


def compare(
    backend: str,
    ours: np.ndarray,
    reference: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    tolerance: float = TOLERANCE,
) -> ParityReport:
    """Compare outputs row by row; refuse with the worst row when any differs beyond tolerance.

    ``rows`` (the inputs) are only used to show the worst row in the error.

    >>> compare("demo", np.array([0.5, 0.25]), np.array([0.5, 0.25])).max_abs_diff
    0.0
    """
    ours = np.asarray(ours, dtype=np.float64).reshape(len(reference), -1)
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    if ours.shape != reference.shape:
        raise ParityError(
            f"{backend}: output shape {ours.shape} differs from LightGBM's {reference.shape}"
        )
    diff = np.abs(ours - reference)
    # Both NaN counts as equal; one NaN is as far off as it gets.
    both_nan = np.isnan(ours) & np.isnan(reference)
    diff = np.where(both_nan, 0.0, np.where(np.isnan(diff), np.inf, diff))
    per_row = diff.max(axis=1) if diff.size else np.zeros(len(reference))
    worst = int(per_row.argmax()) if len(per_row) else 0
    report = ParityReport(
        backend=backend,
        rows=len(reference),
        max_abs_diff=float(per_row[worst]) if len(per_row) else 0.0,
        worst_row=worst,
        tolerance=tolerance,
    )
    if not report.passed:
        shown = "" if rows is None else f" (input {np.asarray(rows)[worst].tolist()})"
        raise ParityError(
            f"{backend} export refused: row {worst}{shown} gives {ours[worst].tolist()} where "
            f"LightGBM gives {reference[worst].tolist()}, a difference of "
            f"{report.max_abs_diff:.3g} > {tolerance:g}"
        )
    return report


@dataclass(frozen=True, kw_only=True)
class Reference:
    """LightGBM and the bundle's reference rows: what every artifact is compared against."""

    booster: lgb.Booster
    raw: pl.DataFrame  # reference rows as the user gives them (the plan's input columns)
    matrix: np.ndarray  # the same rows after the prep plan: the booster's input
    categorical: set[int]  # feature indices of LightGBM native categoricals

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """LightGBM's output for a feature matrix: (n,) or (n, K) for multiclass."""
        return np.asarray(self.booster.predict(matrix), dtype=np.float64)

    def adversarial(self) -> np.ndarray:
        """Feature-space rows probing every split, planted into the reference rows."""
        return adversarial_matrix(self.booster, self.matrix, categorical=self.categorical)


def load_reference(manifest: Manifest, files: dict[str, bytes]) -> Reference:
    """The booster and the prepared reference rows of a bundle (empty if it stored none)."""
    plan = manifest.prep
    booster = lgb.Booster(model_str=files[manifest.model_file].decode())
    if REFERENCE_ROWS in files:
        columns, rows = load_reference_rows(files[REFERENCE_ROWS])
        raw = pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)
    else:
        raw = pl.DataFrame(schema=list(plan.input_schema))
    conformed = conform(raw, plan.input_schema, source=REFERENCE_ROWS, formats=plan.input_formats)
    matrix = to_matrix(apply_prep(plan, conformed))
    features = plan.features
    categorical = {features.index(name) for name in plan.categorical_features}
    return Reference(booster=booster, raw=conformed, matrix=matrix, categorical=categorical)
