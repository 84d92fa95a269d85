"""Small and wide data: edgeml's default training against plain LightGBM, over many splits.

A user's file of 100-2,000 rows, or with columns >= rows / 4, is where CV folds are tiny and a
few rows decide every choice. Each case below is split 75/25 (stratified for classification,
shuffled with the seed), written to CSV, and trained as ``edgeml train TRAIN --target Y`` does
(the library call the CLI makes, with its defaults: a 20% inner holdout, then the model refitted
on every row); plain ``LGBMClassifier()`` / ``LGBMRegressor()`` fit the same 75% and both are
scored on the same 25%: ROC-AUC (binary), macro-F1 (multiclass, accuracy too), r2 (regression).

Cases: scikit-learn's bundled breast_cancer, wine, iris, digits and diabetes, subsamples of
three of them, and synthetic data with many uninformative columns (``make_classification``,
``make_regression``, ``make_friedman1`` plus noise columns), each drawn again for every seed;
a synthetic case is named by its training rows x columns and is scored on 2,000 more rows drawn
with them (the test part of a small file is as noisy as its training part).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_small.py [--seeds 0,1,2,3,4]
        [--holdout 0.2] [--set KEY=JSON ...] [NAME ...]

``--set`` passes ``[train]`` options to ``edgeml.train`` (``--set num_leaves=31``,
``--set 'params={"min_data_in_leaf": 5}'``) to try other settings on the same runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn import datasets as sk
from sklearn.metrics import accuracy_score, f1_score, r2_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import edgeml

TEST_SHARE = 0.25
TOLERANCE = 0.002

# Synthetic cases draw this many extra rows as their test part: the training rows are what is
# small, and a large test part keeps each run's score from being mostly the test draw's noise.
SYNTHETIC_TEST_ROWS = 2000

Case = tuple[np.ndarray, np.ndarray, str, int]  # features, target, task, fixed test rows (or 0)


def _bundled(
    loader: Callable[..., Any], task: str, rows: int | None = None
) -> Callable[[int], Case]:
    def make(seed: int) -> Case:
        x, y = loader(return_X_y=True)
        if rows is not None:
            keep = np.random.default_rng(1000 + seed).choice(len(y), rows, replace=False)
            x, y = x[np.sort(keep)], y[np.sort(keep)]
        return x, y, task, 0

    return make


def _classification(
    rows: int, cols: int, informative: int, classes: int = 2
) -> Callable[[int], Case]:
    def make(seed: int) -> Case:
        x, y = sk.make_classification(
            n_samples=rows + SYNTHETIC_TEST_ROWS, n_features=cols, n_informative=informative,
            n_redundant=min(5, cols - informative), n_classes=classes, flip_y=0.03,
            random_state=seed,
        )  # fmt: skip
        return x, y, "binary" if classes == 2 else "multiclass", SYNTHETIC_TEST_ROWS

    return make


def _regression(rows: int, cols: int, informative: int) -> Callable[[int], Case]:
    def make(seed: int) -> Case:
        x, y = sk.make_regression(
            n_samples=rows + SYNTHETIC_TEST_ROWS, n_features=cols, n_informative=informative,
            noise=20.0, random_state=seed,
        )  # fmt: skip
        return x, y, "regression", SYNTHETIC_TEST_ROWS

    return make


def _friedman(rows: int, cols: int) -> Callable[[int], Case]:
    """Friedman #1 (nonlinear in 5 columns) with ``cols - 5`` noise columns."""

    def make(seed: int) -> Case:
        x, y = sk.make_friedman1(
            n_samples=rows + SYNTHETIC_TEST_ROWS, n_features=cols, noise=1.0, random_state=seed
        )
        return x, y, "regression", SYNTHETIC_TEST_ROWS

    return make


CASES: dict[str, Callable[[int], Case]] = {
    "breast_cancer": _bundled(sk.load_breast_cancer, "binary"),
    "breast_cancer_150": _bundled(sk.load_breast_cancer, "binary", 150),
    "wine": _bundled(sk.load_wine, "multiclass"),
    "iris": _bundled(sk.load_iris, "multiclass"),
    "digits": _bundled(sk.load_digits, "multiclass"),
    "digits_400": _bundled(sk.load_digits, "multiclass", 400),
    "diabetes": _bundled(sk.load_diabetes, "regression"),
    "diabetes_150": _bundled(sk.load_diabetes, "regression", 150),
    "clf_120x500": _classification(120, 500, 10),
    "clf_225x300": _classification(225, 300, 8),
    "clf_300x100": _classification(300, 100, 6),
    "clf_190x20": _classification(190, 20, 5),
    "clf_1000x400": _classification(1000, 400, 10),
    "clf3_225x200": _classification(225, 200, 8, classes=3),
    "reg_120x400": _regression(120, 400, 10),
    "reg_300x200": _regression(300, 200, 10),
    "friedman_150x10": _friedman(150, 10),
    "friedman_225x100": _friedman(225, 100),
}


def split(y: np.ndarray, task: str, seed: int, fixed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training and test row indices: the last ``fixed`` rows as test part (the generators
    shuffle their rows), else 75/25, stratified for classification."""
    if fixed:
        return np.arange(len(y) - fixed), np.arange(len(y) - fixed, len(y))
    rng = np.random.default_rng(seed)
    groups = [np.arange(len(y))] if task == "regression" else [
        np.flatnonzero(y == c) for c in np.unique(y)
    ]  # fmt: skip
    test = []
    for rows in groups:
        test.extend(rng.permutation(rows)[: round(len(rows) * TEST_SHARE)])
    mask = np.zeros(len(y), dtype=bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def score(task: str, y: np.ndarray, proba_or_value: np.ndarray) -> dict[str, float]:
    """The primary metric first: roc_auc, macro_f1 (then accuracy), or r2."""
    if task == "regression":
        return {"r2": r2_score(y, proba_or_value)}
    if task == "binary":
        return {"roc_auc": roc_auc_score(y, proba_or_value[:, 1])}
    predicted = proba_or_value.argmax(axis=1)
    return {
        "macro_f1": f1_score(y, predicted, average="macro"),
        "accuracy": accuracy_score(y, predicted),
    }


def plain(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, task: str) -> np.ndarray:
    if task == "regression":
        return np.asarray(lgb.LGBMRegressor(verbose=-1).fit(x_train, y_train).predict(x_test))
    return lgb.LGBMClassifier(verbose=-1).fit(x_train, y_train).predict_proba(x_test)


def ours(
    train: pl.DataFrame, test: pl.DataFrame, task: str, tmp: Path, seed: int, holdout: float,
    options: dict[str, Any],
) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
    """``edgeml train`` on a CSV of the training part (as the CLI reads a user's file)."""
    path = tmp / "train.csv"
    train.write_csv(path)
    result = edgeml.train(path, target="y", out=tmp / "m.edgeml", seed=seed, holdout=holdout,
                          **options)  # fmt: skip
    if result.spec.task != task:
        raise SystemExit(f"edgeml read a {result.spec.task} target where {task} was meant")
    predicted = edgeml.load(result.bundle).predict(test.drop("y"))
    if task == "regression":
        return predicted["prediction"].to_numpy(), result.manifest
    classes = result.spec.target.classes or []
    order = np.argsort([int(c) for c in classes])  # proba columns in class-code order
    columns = [f"proba_{classes[i]}" for i in order]
    return predicted.select(columns).to_numpy(), result.manifest


def frame_of(x: np.ndarray, y: np.ndarray, task: str) -> pl.DataFrame:
    columns = {f"x{j}": x[:, j] for j in range(x.shape[1])}
    return pl.DataFrame({**columns, "y": y if task == "regression" else y.astype(np.int64)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--holdout", type=float, default=0.2, help="edgeml's inner holdout")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    args = parser.parse_args()
    options = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    unknown = set(args.names) - set(CASES)
    if unknown:
        raise SystemExit(f"unknown case(s) {sorted(unknown)}; cases: {', '.join(CASES)}")
    tmp = Path(tempfile.mkdtemp())
    print(f"edgeml options: holdout={args.holdout} {options}")
    print("| case | rows x cols | seed | metric | plain | edgeml | Δ | rounds | features | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    per_case: dict[str, list[float]] = {}
    cpu_total = 0.0
    for name, make in CASES.items():
        if args.names and name not in args.names:
            continue
        for seed in (int(s) for s in args.seeds.split(",")):
            x, y, task, fixed = make(seed)
            train_rows, test_rows = split(y, task, seed, fixed)
            frame = frame_of(x, y, task)
            theirs = score(task, y[test_rows], plain(x[train_rows], y[train_rows],
                                                     x[test_rows], task))  # fmt: skip
            start = time.process_time()
            output, manifest = ours(frame[train_rows], frame[test_rows], task, tmp, seed,
                                    args.holdout, options)  # fmt: skip
            cpu = time.process_time() - start
            cpu_total += cpu
            mine = score(task, y[test_rows], output)
            metric = next(iter(mine))
            delta = mine[metric] - theirs[metric]
            per_case.setdefault(name, []).append(delta)
            print(f"| {name} | {len(train_rows)} x {x.shape[1]} | {seed} | {metric} | "
                  f"{theirs[metric]:.4f} | {mine[metric]:.4f} | {delta:+.4f} | "
                  f"{manifest['model']['num_iterations']} | "
                  f"{len(manifest['features']['model'])} | {cpu:.1f} |", flush=True)  # fmt: skip
    print("\n| case | mean Δ | worst Δ | runs below −0.002 |")
    print("|---|---|---|---|")
    every = []
    for name, deltas in per_case.items():
        every += deltas
        below = sum(d < -TOLERANCE for d in deltas)
        print(f"| {name} | {np.mean(deltas):+.4f} | {min(deltas):+.4f} | "
              f"{below} of {len(deltas)} |")  # fmt: skip
    below = sum(d < -TOLERANCE for d in every)
    print(f"\nall: mean Δ {np.mean(every):+.4f}, worst {min(every):+.4f}, {below} of "
          f"{len(every)} runs below plain − {TOLERANCE}; edgeml CPU {cpu_total:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
