"""edgeml's ``train`` (ingest + prep + fit + bundle) against plain Polars read + ``lightgbm.train``.

Both sides train the same number of rounds with the same LightGBM parameters on the same file, so
the ratio is edgeml's overhead: schema inference, the fitted prep plan, the data card's sha256,
monitoring histograms and the atomic bundle write. CV and the holdout are switched off for the
comparison (they are extra models, not overhead).

    .venv/bin/python benchmarks/bench_pipeline.py [--repeats 5] [--rounds 200]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import polars as pl

import edgeml
from edgeml.config import Config
from edgeml.datasets import path as dataset_path
from edgeml.learn import lightgbm_params

CASES = [
    ("diamonds.csv", "price", "regression"),
    ("telco_churn.csv", "churn", "binary"),
    ("hpc_jobs.csv", "class", "multiclass"),
    ("cells.csv", "class", "binary"),
    ("chicago_ridership.csv", "ridership", "regression"),
]


def plain(path: Path, target: str, task: str, rounds: int) -> None:
    """What a user would write by hand: read, cast strings to categories, train."""
    frame = pl.read_csv(path, null_values=["NA", ""], infer_schema_length=10_000)
    y = frame[target]
    if task != "regression":
        y = y.cast(pl.Categorical).to_physical()
    x = frame.drop(target)
    strings = [c for c, t in x.schema.items() if t == pl.String]
    x = x.with_columns(pl.col(strings).cast(pl.Categorical).to_physical())
    x = x.with_columns(pl.col(c).dt.epoch("d") for c, t in x.schema.items() if t.is_temporal())
    config = Config().with_overrides("train", num_boost_round=rounds)
    n_classes = y.n_unique()
    params = lightgbm_params(task, n_classes, config.train)  # type: ignore[arg-type]
    train_set = lgb.Dataset(
        x.to_numpy().astype("float64"),
        label=y.to_numpy(),
        feature_name=x.columns,
        categorical_feature=strings,
    )
    lgb.train(params, train_set, num_boost_round=rounds)


def with_edgeml(path: Path, target: str, out: Path, rounds: int) -> None:
    config = Config().with_overrides(
        "train", cv_folds=0, holdout=0.0, early_stopping_rounds=0, num_boost_round=rounds
    )
    edgeml.train(path, target=target, out=out, config=config)


def timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(
        f"machine: {machine}, python {platform.python_version()}, lightgbm {lgb.__version__}, "
        f"polars {pl.__version__}; {args.rounds} rounds, median of {args.repeats} runs\n"
    )
    print("| dataset | rows | plain Polars + lightgbm.train (s) | edgeml train (s) | ratio |")
    print("|---|---|---|---|---|")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, target, task in CASES:
            path = dataset_path(name)
            rows = pl.scan_csv(path).select(pl.len()).collect().item()
            plain(path, target, task, 5)  # warm caches and imports on both sides
            with_edgeml(path, target, Path(tmp) / "warm.edgeml", 5)
            a, b = [], []
            for i in range(args.repeats):
                a.append(timed(plain, path, target, task, args.rounds))
                b.append(timed(with_edgeml, path, target, Path(tmp) / f"{i}.edgeml", args.rounds))
            ta, tb = statistics.median(a), statistics.median(b)
            ratios.append(tb / ta)
            print(f"| {name} | {rows:,} | {ta:.3f} | {tb:.3f} | {tb / ta:.2f}× |", flush=True)
    print(f"\ngeometric-mean ratio: {statistics.geometric_mean(ratios):.2f}× (target ≤ 1.15×)")


if __name__ == "__main__":
    main()
