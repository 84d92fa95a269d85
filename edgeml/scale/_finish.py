"""The end of a run at scale: holdout metrics, post-processing and the bundle, as ``edgeml.train``.

The booster was trained elsewhere (a LightGBM ``Sequence``, a Dask cluster); what is left is
the same as for a single-machine model: the decision threshold and calibration of a binary
model (from the early-stopping rows' predictions, which the trees were not fitted on), metrics
on the holdout beside the trivial baseline, monitoring baselines (feature histograms on the
sample, the prediction's on the holdout), and :func:`edgeml.pipeline.write_trained`.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np

from edgeml.learn import Fitted, baseline_of, fit_post, metrics_of
from edgeml.metrics import primary_metric
from edgeml.pipeline import TrainResult, write_trained
from edgeml.prep import apply_prep, to_matrix
from edgeml.scale._plan import ScaledPlan

__all__ = ["finish"]


def finish(
    plan: ScaledPlan,
    booster: lgb.Booster,
    *,
    holdout: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray] | None,
    class_counts: np.ndarray | None,
    y_mean: float | None,
    rows: dict[str, int],
    notes: list[str],
    curves: dict[str, dict[str, list[float]]] | None = None,
) -> TrainResult:
    """Write the bundle of ``booster``; ``holdout`` and ``valid`` are (model output as
    :func:`edgeml.learn.predict_proba` gives it, target codes); ``class_counts`` or ``y_mean``
    describe the training rows' target; ``rows`` counts ``train`` and ``holdout`` rows."""
    prepared, target = plan.prepared, plan.target
    settings = plan.config.train
    y_counts = class_counts if class_counts is not None else np.zeros(2, dtype=np.int64)
    # What the baseline and the decision read of the training targets: the class shares, or
    # the mean.
    y_train = np.array([float(y_mean or 0.0)]) if target.task == "regression" else _shares(y_counts)
    oof = None
    if target.task == "binary" and valid is not None and len(valid[1]):
        oof = (valid[1], valid[0][:, 1])
    if target.task == "binary":
        post, decision = fit_post(settings, classes=target.classes or [], y_train=y_train, oof=oof)
    else:
        from edgeml.runtime import Post

        post, decision = Post(), {}
    output, y = holdout
    holdout_metrics: dict[str, float] = {}
    baseline: dict[str, float] = {}
    shown: np.ndarray | None = None
    if len(y):
        holdout_metrics = metrics_of(output, y, target, post)
        baseline = baseline_of(y_train, y, target)
        shown = post.decide(output)[0] if target.task == "binary" else output
    metrics: dict[str, Any] = {
        "primary": primary_metric(target.task),
        "holdout": holdout_metrics,
        "baseline": baseline,
        "cv": {},
        "split": _split_kind(plan),
        "cv_folds": 0,
        "rows": rows,
        "notes": [*prepared.notes, *notes],
    }
    sample = prepared.frame[prepared.train_rows]
    final = Fitted(
        plan=plan.prep,
        booster=booster,
        train_matrix=to_matrix(apply_prep(plan.prep, sample)),
        train_target=prepared.y,
    )
    stats: dict[str, Any] = (
        {"mean": float(y_mean or 0.0)}
        if target.task == "regression"
        else {"class_counts": [int(c) for c in y_counts]}
    )
    return write_trained(
        final,
        prepared,
        plan.features,
        metrics=metrics,
        holdout_output=shown,
        post=post,
        decision=decision,
        rows_used=rows["train"] + rows["holdout"],
        target_stats=stats,
        curves=curves,
    )


def _split_kind(plan: ScaledPlan) -> str:
    if plan.timing is not None:
        return "time-ordered"
    return "shuffled" if plan.config.train.group_col is None else "grouped"


def _shares(counts: np.ndarray, rows: int = 100_000) -> np.ndarray:
    """Class codes in the proportions of ``counts``, at most about ``rows`` of them: all that
    the baseline and the decision rule read of the training targets, without a code per row.

    >>> _shares(np.array([3_000_000, 1_000_000])).tolist().count(1)
    25000
    """
    scale = min(1.0, rows / max(int(counts.sum()), 1))
    kept = np.maximum(np.round(counts * scale).astype(np.int64), (counts > 0).astype(np.int64))
    return np.repeat(np.arange(len(counts)), kept)
