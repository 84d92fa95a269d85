"""Part 3 of bench_search.py: edgeml's search against FLAML at equal wall time, and plain LightGBM.

Per dataset, on the holdout edgeml itself keeps out (the same 80/20 rows for every tool):

- plain LightGBM: ``LGBMClassifier()`` / ``LGBMRegressor()`` with default settings on the
  training rows (text columns as pandas categories), as a user would start;
- edgeml default: ``edgeml train`` with no search;
- edgeml ``--search bayes --trials N``: the whole command's wall time is measured;
- FLAML ``AutoML(time_budget=that wall time)`` on the same training rows, scored on the holdout.

Every tool runs on one thread (the machine is shared).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl

from edgeml.config import Config
from edgeml.evaluate import compute_metrics, primary_metric
from edgeml.pipeline import train
from edgeml.util.progress import Reporter

__all__ = ["versus"]


def _frame_for_others(frame: pl.DataFrame, target: str) -> pd.DataFrame:
    """The features as a pandas frame, text as categories (one vocabulary for all rows)."""
    x = frame.drop(target).to_pandas()
    for column in x.columns:
        if pd.api.types.is_object_dtype(x[column]) or pd.api.types.is_string_dtype(x[column]):
            x[column] = x[column].astype("category")
        elif str(x[column].dtype).startswith(("datetime", "date")):
            x[column] = x[column].astype("int64")
    return x


def _score(task: str, y: np.ndarray, model: Any, x: pd.DataFrame) -> float:
    metric = primary_metric(task)  # type: ignore[arg-type]
    if task == "regression":
        return compute_metrics("regression", y, prediction=np.asarray(model.predict(x)))[metric]
    proba = np.asarray(model.predict_proba(x), dtype=np.float64)
    metrics = compute_metrics(task, y, prediction=proba.argmax(axis=1), proba=proba)  # type: ignore[arg-type]
    return metrics[metric]


def versus(
    cases: dict[str, tuple[str, str, list[str], float]],
    names: list[str],
    locate: Callable[[str], Path],
    trials: int,
    out: Path,
    reporter: Reporter,
) -> list[str]:
    from flaml import AutoML

    lines = [
        "| dataset | metric | plain LightGBM | edgeml default | edgeml bayes "
        f"{trials} trials | FLAML, same time | edgeml search s | edgeml default s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        file, target, drop, _ = cases[name]
        keys = {"data": {"drop": drop}, "train": {"params": {"num_threads": 1}}}
        reporter.status(f"{name}: edgeml default")
        start = time.perf_counter()
        default = train(locate(file), target=target, out=out / f"{name}-default.edgeml",
                        config=Config.from_dict(keys), reporter=reporter)  # fmt: skip
        default_s = time.perf_counter() - start
        task = default.manifest["task"]
        metric = primary_metric(task)
        reporter.status(f"{name}: edgeml --search bayes --trials {trials}")
        searched_keys = {**keys, "search": {"method": "bayes", "trials": trials}}
        start = time.perf_counter()
        searched = train(locate(file), target=target, out=out / f"{name}-search.edgeml",
                         config=Config.from_dict(searched_keys), reporter=reporter)  # fmt: skip
        search_s = time.perf_counter() - start

        # The same rows edgeml trained and held out on (its prepare() is deterministic).
        from edgeml.learn import prepare

        prepared = prepare(locate(file), Config.from_dict({**keys, "train": {"target": target}}))
        x = _frame_for_others(prepared.frame, target)
        y = prepared.y
        tr, te = prepared.train_rows, prepared.test_rows
        plain_cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
        plain = plain_cls(n_jobs=1, verbose=-1, random_state=0).fit(x.iloc[tr], y[tr])
        plain_score = _score(task, y[te], plain, x.iloc[te])

        reporter.status(f"{name}: FLAML for {search_s:.0f} s")
        automl = AutoML()
        flaml_metric = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "r2"}[task]
        automl.fit(
            x.iloc[tr], y[tr],
            task="regression" if task == "regression" else "classification",
            metric=flaml_metric, time_budget=search_s, seed=0, n_jobs=1, verbose=0,
        )  # fmt: skip
        flaml_score = _score(task, y[te], automl, x.iloc[te])
        lines.append(
            f"| {name} | {metric} | {plain_score:.4f} | "
            f"{default.manifest['metrics']['holdout'][metric]:.4f} | "
            f"{searched.manifest['metrics']['holdout'][metric]:.4f} | {flaml_score:.4f} | "
            f"{search_s:.0f} | {default_s:.0f} |"
        )
        print(lines[-1], flush=True)
    return lines
