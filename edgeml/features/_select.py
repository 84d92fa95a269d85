"""Feature selection on training rows: variance, correlation, mutual information, then recursive
elimination by LightGBM gain importance under cross-validation.

Every candidate ends with ``kept`` true or false, its score, and the reason, all recorded in the
manifest. Only training rows are looked at (never the holdout).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from edgeml.data import logical_schema
from edgeml.kernels import mutual_information, pearson
from edgeml.learn import Fitted
from edgeml.metrics import higher_is_better, primary_metric
from edgeml.prep import within_groups
from edgeml.spec.feature_plan import FeaturePlan
from edgeml.util.progress import SILENT, Reporter

if TYPE_CHECKING:
    from edgeml.learn import Prepared

# Selection models train on at most this many rows (an even stride keeps time order): enough to
# rank features, and it keeps ``auto`` affordable on large tables.
SELECTION_ROWS = 10_000
SELECTION_FOLDS = 3
# Each elimination round drops this share of the remaining candidates (at least one): halving
# reaches a handful of features in a few CV rounds.
DROP_SHARE = 0.5
# A round that fails at half is retried with the single weakest candidate; this bounds the CV
# runs either way.
MAX_ROUNDS = 10
# The largest loss of the primary metric an elimination round may cost (see _eliminate), and
# the largest share of what the model still gets wrong (1 - metric): an R² of 0.986 losing 0.002
# is 15% more squared error, an AUC of 0.80 losing it is 1% of its gap.
MAX_TOLERANCE = 0.002
MAX_RELATIVE_TOLERANCE = 0.02


def select_features(
    prepared: Prepared,
    plan: FeaturePlan,
    candidates: pl.DataFrame,
    *,
    reporter: Reporter = SILENT,
) -> FeaturePlan:
    """``plan`` with ``kept`` and a record per candidate; ``candidates`` holds their columns."""
    config = prepared.config.features
    names = plan.outputs
    records = {n: {"name": n, "kept": True, "score": None, "reason": "kept"} for n in names}
    if not config.select or not names:
        reason = "selection off" if names else ""
        return _finish(plan, records, names, reason)
    rows = prepared.train_rows
    if len(rows) < 2 * SELECTION_FOLDS:  # tiny data: no CV to show a candidate helps
        for name in names:
            _drop(
                records, name, f"{len(rows)} training rows; selection needs {2 * SELECTION_FOLDS}"
            )
        return _finish(plan, records, [], "")
    if len(rows) > SELECTION_ROWS:
        rows = rows[:: int(np.ceil(len(rows) / SELECTION_ROWS))]
    matrix = candidates[rows].select(names).cast(pl.Float64).fill_null(np.nan).to_numpy()
    alive = _variance(names, matrix, records)
    task = "regression" if prepared.target.task == "regression" else "classification"
    scores = _mutual_information(alive, names, matrix, prepared.y[rows], task, records)
    alive = _decorrelate(alive, names, matrix, prepared, rows, scores, records)
    alive = sorted(alive, key=lambda n: -scores[n])
    for name in alive[config.max_candidates :]:
        _drop(records, name, f"mutual-information rank below the top {config.max_candidates}")
    alive = alive[: config.max_candidates]
    if config.rfe and alive:
        alive = _eliminate(prepared, candidates, rows, alive, records, reporter)
    return _finish(plan, records, alive, "")


def _finish(
    plan: FeaturePlan, records: dict[str, dict[str, Any]], kept: list[str], reason: str
) -> FeaturePlan:
    for name in kept:
        records[name]["kept"] = True
        records[name]["reason"] = reason or records[name]["reason"]
    order = [n for n in plan.outputs if n in set(kept)]
    return dataclasses.replace(plan, kept=order, candidates=list(records.values()))


def _drop(records: dict[str, dict[str, Any]], name: str, reason: str) -> None:
    records[name]["kept"] = False
    records[name]["reason"] = reason


def _variance(
    names: list[str], matrix: np.ndarray, records: dict[str, dict[str, Any]]
) -> list[str]:
    alive = []
    for j, name in enumerate(names):
        finite = matrix[:, j][np.isfinite(matrix[:, j])]
        if finite.size == 0:
            _drop(records, name, "missing on every training row")
        elif finite.min() == finite.max():
            _drop(records, name, "constant on the training rows (zero variance)")
        else:
            alive.append(name)
    return alive


def _mutual_information(
    alive: list[str],
    names: list[str],
    matrix: np.ndarray,
    y: np.ndarray,
    task: str,
    records: dict[str, dict[str, Any]],
) -> dict[str, float]:
    if not alive:
        return {}
    columns = [names.index(n) for n in alive]
    mi = mutual_information(matrix[:, columns], y.astype(np.float64), task=task)  # type: ignore[arg-type]
    scores = {name: float(v) for name, v in zip(alive, mi, strict=True)}
    for name, value in scores.items():
        records[name]["score"] = {"mutual_information": round(value, 6)}
    return scores


def _decorrelate(
    alive: list[str],
    names: list[str],
    matrix: np.ndarray,
    prepared: Prepared,
    rows: np.ndarray,
    scores: dict[str, float],
    records: dict[str, dict[str, Any]],
) -> list[str]:
    """Drop a candidate nearly equal to a better one or to an input column (|r| >= threshold)."""
    threshold = prepared.config.features.correlation_threshold
    base = _base_numeric(prepared)
    base_matrix = (
        prepared.frame[rows].select(base).cast(pl.Float64).fill_null(np.nan).to_numpy()
        if base
        else np.empty((len(rows), 0))
    )
    ranked = sorted(alive, key=lambda n: -scores[n])
    columns = np.column_stack([base_matrix, *[matrix[:, names.index(n)] for n in ranked]])
    entity = prepared.config.train.entity_col
    if entity is not None and entity in prepared.frame.columns:
        columns = within_groups(columns, prepared.frame[entity].to_numpy()[rows])
    corr = np.abs(pearson(columns))
    kept: list[str] = []
    kept_index = list(range(len(base)))
    for i, name in enumerate(ranked):
        j = len(base) + i
        partners = [k for k in kept_index if np.isfinite(corr[j, k]) and corr[j, k] >= threshold]
        if partners:
            other = (
                base[partners[0]] if partners[0] < len(base) else ranked[partners[0] - len(base)]
            )
            _drop(records, name, f"near-duplicate of {other} (|r|={corr[j, partners[0]]:.4f})")
        else:
            kept.append(name)
            kept_index.append(j)
    return kept


def _tolerance(spread: float, best: float, metric: str) -> float:
    """How much an elimination round may cost: the CV noise, capped absolutely and, for metrics
    whose best value is 1, by a share of the remaining gap to 1.

    >>> round(_tolerance(0.01, 0.986, "r2"), 6), _tolerance(0.01, 0.80, "roc_auc")
    (0.00028, 0.002)
    """
    cap = MAX_TOLERANCE
    if higher_is_better(metric) and best <= 1.0:
        cap = min(cap, MAX_RELATIVE_TOLERANCE * (1.0 - best))
    return min(spread, cap)


def _base_numeric(prepared: Prepared) -> list[str]:
    """The numeric input columns (not roles) that candidates are checked against."""
    schema = logical_schema(prepared.frame)
    return [
        c for c, t in schema.items() if c not in prepared.roles and t in ("float", "int", "bool")
    ]


def _eliminate(
    prepared: Prepared,
    candidates: pl.DataFrame,
    rows: np.ndarray,
    alive: list[str],
    records: dict[str, dict[str, Any]],
    reporter: Reporter,
) -> list[str]:
    """Drop the weakest candidates by gain while the CV metric holds; keep none if none helps."""
    metric = primary_metric(prepared.target.task)
    sign = 1.0 if higher_is_better(metric) else -1.0
    base_score, _, _ = _cv(prepared, candidates, rows, [], reporter)
    best_score, spread, gains = _cv(prepared, candidates, rows, alive, reporter)
    current = list(alive)
    n_drop = max(1, int(len(current) * DROP_SHARE))
    for _ in range(MAX_ROUNDS):
        if not current:
            break
        ranked = sorted(current, key=lambda n: gains.get(n, 0.0))
        trial = ranked[n_drop:]
        score, trial_spread, trial_gains = _cv(prepared, candidates, rows, trial, reporter)
        # Dropping must not cost more than noise: the CV standard error, capped so that a noisy
        # metric (few time-ordered folds) cannot wave every candidate through.
        if sign * (score - best_score) < -_tolerance(spread, best_score, metric):
            if n_drop == 1:
                break
            n_drop = 1  # half was too much: try the single weakest before stopping
            continue
        for name in ranked[:n_drop]:
            _drop(records, name, f"eliminated: lowest gain; CV {metric} held at {score:.4f}")
        current, gains = trial, trial_gains
        if sign * (score - best_score) > 0:
            best_score, spread = score, trial_spread
        n_drop = max(1, int(len(current) * DROP_SHARE))
    for name in current:
        records[name]["score"] = {
            **(records[name]["score"] or {}),
            "gain": round(gains.get(name, 0.0), 3),
        }
    if current and sign * (best_score - base_score) <= 0:
        for name in current:
            _drop(
                records, name, f"no CV gain: {metric} {best_score:.4f} vs {base_score:.4f} without"
            )
        return []
    for name in current:
        records[name]["reason"] = f"kept: CV {metric} {best_score:.4f} vs {base_score:.4f} without"
    return current


def _cv(
    prepared: Prepared,
    candidates: pl.DataFrame,
    rows: np.ndarray,
    columns: list[str],
    reporter: Reporter,
) -> tuple[float, float, dict[str, float]]:
    """Mean and standard error of the primary CV metric on ``rows``, and mean gain per feature."""
    settings = dataclasses.replace(
        prepared.config.train,
        learning_rate=0.1,
        num_boost_round=300,
        early_stopping_rounds=20,
        refit=False,
    )
    config = dataclasses.replace(prepared.config, train=settings)
    frame = prepared.frame.with_columns(candidates.select(columns)) if columns else prepared.frame
    trial = dataclasses.replace(prepared, frame=frame, config=config)
    metric = primary_metric(prepared.target.task)
    folds = min(SELECTION_FOLDS, max(2, settings.cv_folds or 3))
    reporter.status(f"feature selection: CV with {len(columns)} candidate features")
    models: list[Fitted] = []
    results = trial.cross_validate(rows=rows, folds=folds, stop_on_test=False, fitted=models)
    scores = [fold[metric] for fold in results]
    gains: dict[str, float] = {}
    for model in models:
        importance = model.booster.feature_importance("gain")
        for name, value in zip(model.booster.feature_name(), importance, strict=True):
            gains[name] = gains.get(name, 0.0) + float(value) / len(models)
    values = np.asarray(scores, dtype=np.float64)
    spread = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return float(np.nanmean(values)), spread, gains
