"""Hyperparameter search on the real datasets, and Bayesian (TPE) against random search.

1. Per dataset: the CV primary metric of the default settings, of ``--search bayes --trials 30``
   (the best trial, on the same folds) and the plain-LightGBM figure from
   ``edgeml/datasets/data/README.md``; the tuned-vs-default difference is paired over the folds.
2. Race: for a few seeds, random and TPE searches of the same length on the same folds; how
   many trials TPE needs to reach the best value the random search found.
3. Versus (``_search_versus``): on edgeml's holdout, plain LightGBM, edgeml default, edgeml
   ``--search bayes --trials N`` and FLAML ``AutoML`` given the search's wall time.
4. Budget (``_search_budget``): what ``--max-latency-us`` measures, a default model's single-row
   time on ``Booster.predict`` and on edgeml's native engine.

    .venv/bin/python benchmarks/bench_search.py [--trials 30] [--seeds 3] [--write-readme]
    .venv/bin/python benchmarks/bench_search.py --parts versus --datasets cells,hpc_jobs
    .venv/bin/python benchmarks/bench_search.py --parts budget --datasets telco_churn,diamonds

The best of N trials scored on the same folds it was chosen on is optimistic by construction;
so both configs are scored again on new folds and LightGBM seeds (``seed = 1``) the search
never saw, paired fold by fold: "better" when the gain exceeds one standard error.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
from _readme import load_average, write_section
from _search_budget import budget_lines
from _search_versus import versus

from edgeml.config import Config
from edgeml.datasets import path as dataset_path
from edgeml.evaluate import primary_metric
from edgeml.learn import Prepared, prepare
from edgeml.search import search
from edgeml.util.progress import SILENT, Reporter

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Search"
VERSUS_SECTION = "## Search against FLAML"
BUDGET_SECTION = "## Edge budgets: what a latency budget measures"
# dataset: (file, target, dropped columns, plain-LightGBM figure from edgeml.datasets.REAL)
CASES: dict[str, tuple[str, str, list[str], float]] = {
    "diamonds": ("diamonds.csv", "price", [], 0.982),
    "telco_churn": ("telco_churn.csv", "churn", [], 0.837),
    "hpc_jobs": ("hpc_jobs.csv", "class", [], 0.811),
    "cells": ("cells.csv", "class", ["case"], 0.900),
    "chicago_ridership": ("chicago_ridership.csv", "ridership", [], 0.834),
}


def prepared_for(name: str, out: Path, *, seed: int = 0, **search_keys: Any) -> Prepared:
    file, target, drop, _ = CASES[name]
    config = Config.from_dict(
        {
            "data": {"drop": drop},
            "train": {
                "target": target,
                "out": str(out / f"{name}.edgeml"),
                "seed": seed,
                # One thread: the machine is shared, and threads do not change the model.
                "params": {"num_threads": 1},
            },
            "search": search_keys,
        }
    )
    return prepare(dataset_path(file), config)


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of a - b over folds and its standard error."""
    d = np.asarray(a) - np.asarray(b)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))


def tuned_vs_default(names: list[str], trials: int, out: Path, reporter: Reporter) -> list[str]:
    lines = [
        "| dataset | metric | plain LightGBM | edgeml default | edgeml bayes "
        f"{trials} trials | tuned − default (± SE) | on new folds: tuned vs default "
        "| trials (complete/pruned) | search s |",
        "|---|---|---:|---:|---:|---:|---|---|---:|",
    ]
    for name in names:
        prepared = prepared_for(name, out)
        metric = primary_metric(prepared.target.task)
        reporter.status(f"{name}: default settings")
        default = [f[metric] for f in prepared.cross_validate()]
        config = prepared.config.with_overrides("search", method="bayes", trials=trials)
        start = time.perf_counter()
        result = search(dataclasses.replace(prepared, config=config), reporter=reporter)
        seconds = time.perf_counter() - start
        best = next(t for t in result.trials if t["number"] == _best_number(result.trials))
        diff, se = paired(best["folds"], default)
        # The best of N on the folds it was picked on is optimistic: score both configs again
        # on folds (and LightGBM seeds) the search never saw.
        reporter.status(f"{name}: re-check on new folds")
        fresh = prepared_for(name, out, seed=1)
        tuned_config = result.best_config.with_overrides("train", seed=1)
        again = paired(
            [f[metric] for f in fresh.cross_validate(config=tuned_config)],
            [f[metric] for f in fresh.cross_validate()],
        )
        states = result.to_dict()["states"]
        plain = CASES[name][3]
        lines.append(
            f"| {name} | {metric} | {plain:.3f} | {np.mean(default):.4f} | "
            f"{result.best_value:.4f} | {diff:+.4f} ± {se:.4f} | {_verdict(*again)} "
            f"({again[0]:+.4f} ± {again[1]:.4f}) | "
            f"{states.get('complete', 0)}/{states.get('pruned', 0)} | {seconds:.0f} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    return lines


def _verdict(diff: float, se: float) -> str:
    return "better" if diff > se else "tie (within noise)" if diff >= -se else "worse"


def _best_number(trials: list[dict[str, Any]]) -> int:
    complete = [t for t in trials if t["state"] == "complete"]
    return max(complete, key=lambda t: (t["value"], -t["number"]))["number"]


def running_best(trials: list[dict[str, Any]]) -> list[float]:
    """Best complete value after each trial (pruned and failed trials add nothing)."""
    best, out = -math.inf, []
    for t in sorted(trials, key=lambda t: t["number"]):
        if t["state"] == "complete" and t["value"] is not None:
            best = max(best, t["value"])
        out.append(best)
    return out


def race(names: list[str], trials: int, seeds: int, out: Path, reporter: Reporter) -> list[str]:
    lines = [
        "| dataset | seeds | random best (mean) | TPE best (mean) | TPE reached random's best "
        "| trials TPE needed (mean, reached) | trials random needed for its best (mean) |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for name in names:
        best_r, best_b, needed_b, needed_r = [], [], [], []
        for seed in range(seeds):
            curves = {}
            for method in ("random", "bayes"):
                reporter.status(f"{name}: {method} search, seed {seed}")
                prepared = prepared_for(name, out / method, seed=seed, method=method, trials=trials)
                curves[method] = running_best(search(prepared, reporter=reporter).trials)
            target = curves["random"][-1]
            best_r.append(target)
            best_b.append(curves["bayes"][-1])
            needed_r.append(curves["random"].index(target) + 1)
            reached = [i + 1 for i, v in enumerate(curves["bayes"]) if v >= target]
            if reached:
                needed_b.append(reached[0])
            print(f"{name} seed {seed}: random {target:.4f} at trial {needed_r[-1]}, "
                  f"bayes {curves['bayes'][-1]:.4f}, reached at {reached[:1]}",
                  file=sys.stderr, flush=True)  # fmt: skip
        reached_text = f"{len(needed_b)}/{seeds}"
        lines.append(
            f"| {name} | {seeds} | {np.mean(best_r):.4f} | {np.mean(best_b):.4f} | "
            f"{reached_text} | {np.mean(needed_b) if needed_b else float('nan'):.1f} | "
            f"{np.mean(needed_r):.1f} |"
        )
    return lines


def _flaml_version() -> str:
    import flaml

    return str(flaml.__version__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", default=",".join(CASES))
    parser.add_argument("--race-datasets", default="cells,hpc_jobs,telco_churn")
    parser.add_argument("--quiet", action="store_true", help="No progress on stderr.")
    parser.add_argument("--parts", default="tuned,race", help="tuned, race, versus and/or budget")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    reporter = SILENT if args.quiet else Reporter()
    parts = set(args.parts.split(","))
    if "budget" in parts:
        names = [n for n in args.datasets.split(",") if n]
        with tempfile.TemporaryDirectory() as tmp:
            rows = budget_lines(CASES, names, dataset_path, Path(tmp))
        text = "\n".join(
            [
                f"Command: `python benchmarks/bench_search.py --parts budget --datasets "
                f"{args.datasets}`",
                "",
                f"Machine: {platform.machine()}, 2 shared cores, {load_average()}; Python "
                f"{platform.python_version()}, LightGBM {lgb.__version__}. Each figure: the "
                "median of 5 measurements, each the median of 200 single-row calls on one "
                "thread, on a training row as the prep plan makes it.",
                "",
                *rows,
            ]
        )
        print(text)
        if args.write_readme:
            write_section(BUDGET_SECTION, text)
        parts.discard("budget")
        if not parts:
            return
    if "versus" in parts:
        names = [n for n in args.datasets.split(",") if n]
        with tempfile.TemporaryDirectory() as tmp:
            lines = versus(CASES, names, dataset_path, args.trials, Path(tmp), reporter)
        text = "\n".join(
            [
                f"Command: `python benchmarks/bench_search.py --parts versus --trials "
                f"{args.trials} --datasets {args.datasets}`",
                "",
                f"Machine: {platform.machine()}, 2 cores shared with other jobs "
                f"({load_average()}); Python {platform.python_version()}, "
                f"LightGBM {lgb.__version__}, Optuna {optuna.__version__}, "
                f"FLAML {_flaml_version()}. Holdout = edgeml's 20% split; one run per dataset "
                "(a search of this length is too slow here for repeats), every tool on one "
                "thread; FLAML gets edgeml's search wall time.",
                "",
                *lines,
            ]
        )
        print(text)
        if args.write_readme:
            write_section(VERSUS_SECTION, text)
        if parts == {"versus"}:
            return
    header = (
        f"Machine: {platform.machine()}, 2 shared cores; Python {platform.python_version()}, "
        f"LightGBM {lgb.__version__}, Optuna {optuna.__version__}. 5-fold CV over every "
        "labelled row (the run's folds), LightGBM on one thread, median pruner on."
    )
    with tempfile.TemporaryDirectory() as tmp:
        names = [n for n in args.datasets.split(",") if n]
        part1 = tuned_vs_default(names, args.trials, Path(tmp) / "tuned", reporter)
        race_names = [n for n in args.race_datasets.split(",") if n]
        part2 = race(race_names, args.trials, args.seeds, Path(tmp) / "race", reporter)
    text = "\n".join(
        [
            f"Command: `python benchmarks/bench_search.py --trials {args.trials} "
            f"--seeds {args.seeds} --race-datasets {args.race_datasets}`",
            "",
            header,
            "",
            *part1,
            "",
            *part2,
        ]
    )
    print(text)
    if args.write_readme:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
