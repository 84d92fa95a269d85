"""Non-ISO date columns: what reading them as dates costs, and what it gives the model.

Command: ``python benchmarks/bench_dates.py [--rows 1000000] [--repeats 3] [--before DIR]``

1. Read time (``edgeml.data.read_data``, CPU seconds, median of ``--repeats``) of a generated
   CSV with a US-date column (``03/15/2024``), and of the same rows with ISO dates. ``--before``
   runs the same reads with the ``edgeml`` package in DIR (say ``git archive COMMIT edgeml``
   unpacked there: an edgeml that reads only ISO dates).
2. Holdout metric of a model whose target depends on the weekday and month of that column:
   trained on the US-date file (read as dates here; as text by the ``--before`` edgeml) and on
   the ISO file (the ceiling).

Prints one JSON object per measurement; the figures go to benchmarks/README.md by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

READ = """
import sys, time, statistics, json
from edgeml.data import read_data
times = []
for _ in range(int(sys.argv[2])):
    start = time.process_time()
    ds = read_data(sys.argv[1])
    times.append(time.process_time() - start)
print(json.dumps({"median_cpu_s": statistics.median(times), "best_cpu_s": min(times),
                  "when": ds.card.schema["when"], "code": ds.card.schema["code"]}))
"""

TRAIN = """
import sys, json
import edgeml
result = edgeml.train(sys.argv[1], target="y", out=sys.argv[2], cv_folds=0, seed=0)
metrics = result.manifest["metrics"]["holdout"]
plan = [c for c in result.manifest["prep"]["columns"] if c["name"] == "when"][0]
print(json.dumps({"roc_auc": metrics["roc_auc"], "accuracy": metrics["accuracy"],
                  "when": plan["dtype"], "when_role": plan["role"],
                  "reason": plan.get("reason", "")}))
"""


def write_files(rows: int, folder: Path) -> dict[str, Path]:
    """The same rows twice: dates as 03/15/2024 and as 2024-03-15 (and a text ID column)."""
    rng = np.random.default_rng(0)
    days = rng.integers(0, 3 * 365, rows)
    base = np.datetime64("2022-01-01")
    dates = pl.Series("d", base + days.astype("timedelta64[D]"))
    weekday = dates.dt.weekday().to_numpy()  # 1 = Monday
    month = dates.dt.month().to_numpy()
    x = rng.normal(size=rows)
    z = rng.normal(size=rows)
    logit = 1.5 * (weekday >= 6) - 1.2 * np.isin(month, (11, 12, 1)) + 0.8 * x + 0.2 * z
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    # a text ID column too: what date detection costs on text that is not dates
    code = pl.Series("code", rng.permutation(rows)).cast(pl.String)
    frame = pl.DataFrame({"x": x, "z": z, "code": "C-" + code, "y": y})
    files = {}
    for name, fmt in (("us", "%m/%d/%Y"), ("iso", "%Y-%m-%d")):
        path = folder / f"{name}_{rows}.csv"
        frame.with_columns(when=dates.dt.strftime(fmt)).write_csv(path)
        files[name] = path
    return files


def run(tree: str | None, script: str, *args: object) -> dict[str, object]:
    """``script`` in a fresh interpreter, importing the edgeml in ``tree`` (None: this one)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if tree:
        env["PYTHONPATH"] = tree
    result = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True,
                            text=True, check=True, env=env, cwd=tempfile.gettempdir())  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--train-rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", help="a folder holding the edgeml package to compare with")
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    machine = {"machine": os.uname().machine, "cpus": os.cpu_count(), "load": os.getloadavg()}
    print(json.dumps({**machine, "at": now}))
    trees: dict[str, str | None] = {
        "this": None,
        **({"before": args.before} if args.before else {}),
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_files(args.rows, folder)
        for name, path in files.items():
            for label, tree in trees.items():
                figures = run(tree, READ, path, args.repeats)
                print(json.dumps({"read": name, "rows": args.rows, "edgeml": label, **figures}))
        small = write_files(args.train_rows, folder)
        for name, path in small.items():
            for label, tree in trees.items():
                start = time.perf_counter()
                figures = run(tree, TRAIN, path, folder / f"{name}_{label}.edgeml")
                wall = round(time.perf_counter() - start, 1)
                facts = {"train": name, "rows": args.train_rows, "edgeml": label}
                print(json.dumps({**facts, **figures, "wall_s": wall}))


if __name__ == "__main__":
    main()
