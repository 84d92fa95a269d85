"""Training at scale: peak memory of in-memory vs streamed training, and Dask vs one machine.

Part ``memory``: CSV files of a synthetic binary problem (eight numbers, a category) at several
sizes; each is trained in a fresh process by ``edgeml.train`` (the whole table in memory) and by
``edgeml.scale.train_stream`` (chunks into a LightGBM Sequence), with the same settings
(``cv_folds = 0``, early stopping, 200 rounds at most). Reported: peak RSS (``ru_maxrss``), CPU
time of the process, and the AUC of both models on the same 100,000 unseen rows.

Part ``dask``: Parquet parts of the same problem (plus a 1.6 KB free-text column the prep plan
drops, so the raw table is large), trained by ``edgeml.scale.train_dask`` on a LocalCluster of
two worker processes (one thread each) and by ``edgeml.train`` on one machine; wall time and
AUC on the same unseen rows.

    .venv/bin/python benchmarks/bench_train_scale.py --rows 500000 2000000 --dask-rows 600000
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from _readme import load_average, machine, write_section

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.scale_data import table

HEADING = "## Training at scale (bench_train_scale.py)"

_CHILD = """
import json, resource, sys, time
import edgeml
from edgeml.scale import train_stream
how, data, out, test = sys.argv[1:5]
options = dict(target="label", out=out, cv_folds=0, num_boost_round=200, reference_rows=0)
wall, cpu = time.perf_counter(), time.process_time()
if how == "stream":
    train_stream(data, chunk_rows=100_000, **options)
else:
    edgeml.train(data, **options)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
auc = edgeml.load(out).evaluate(test)["metrics"]["roc_auc"]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mb": peak, "cpu_s": cpu, "wall_s": wall, "auc": auc}))
"""


def write_csv(path: Path, rows: int) -> float:
    """Write ``rows`` rows in blocks; the table's size in memory (Polars' estimate), bytes."""
    size = 0.0
    with path.open("wb") as fh:
        for start in range(0, rows, 500_000):
            block = table(min(500_000, rows - start), start)
            size += block.estimated_size()
            block.write_csv(fh, include_header=start == 0)
    return size


def child(how: str, data: Path, out: Path, test: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", _CHILD, how, str(data), str(out), str(test)],
                          check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_part(work: Path, sizes: list[int], test: Path) -> str:
    lines = [
        "| rows | CSV MB | table MB | in-memory peak MB | streamed peak MB | in-memory CPU s "
        "| streamed CPU s | in-memory AUC | streamed AUC |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows in sizes:
        data = work / f"d{rows}.csv"
        size = write_csv(data, rows)
        got = {how: child(how, data, work / f"{how}{rows}.edgeml", test)
               for how in ("memory", "stream")}  # fmt: skip
        m, s = got["memory"], got["stream"]
        lines.append(
            f"| {rows:,} | {data.stat().st_size / 1e6:.0f} | {size / 1e6:.0f} "
            f"| {m['peak_mb']:.0f} | {s['peak_mb']:.0f} | {m['cpu_s']:.0f} | {s['cpu_s']:.0f} "
            f"| {m['auc']:.4f} | {s['auc']:.4f} |"
        )
        print(lines[-1], flush=True)
        data.unlink()
    return "\n".join(lines)


def dask_part(work: Path, rows: int, test: Path) -> str:
    import distributed

    import edgeml
    from edgeml.scale import train_dask

    parts = work / "parts"
    parts.mkdir()
    plain, frames, raw = work / "plain.parquet", [], 0.0
    per_file = 100_000
    for k in range(rows // per_file):
        frame = table(per_file, 1_000_000 * k, note_bytes=1_600)
        raw += frame.estimated_size()
        frame.write_parquet(parts / f"part-{k}.parquet", row_group_size=20_000)
        frames.append(frame.drop("note"))
    pl.concat(frames).write_parquet(plain)
    del frames
    results: dict[str, Any] = {}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, memory_limit=800e6,
        host="127.0.0.1", dashboard_address=None, silence_logs=logging.CRITICAL,
    ) as cluster:  # fmt: skip
        started = time.perf_counter()
        train_dask(parts, cluster.scheduler_address, target="label", out=work / "dask.edgeml")
        results["dask"] = time.perf_counter() - started
    started = time.perf_counter()
    edgeml.train(plain, target="label", out=work / "one.edgeml", cv_folds=0)
    results["one"] = time.perf_counter() - started
    auc = {k: edgeml.load(work / f"{k}.edgeml").evaluate(test)["metrics"]["roc_auc"]
           for k in ("dask", "one")}  # fmt: skip
    return (
        f"{rows:,} rows in {rows // 20_000} Parquet row groups; raw table "
        f"{raw / 1e6:.0f} MB in memory (a 1.6 KB text column the plan drops), each worker "
        "limited to 800 MB.\n\n"
        "| run | wall s | AUC on 100,000 unseen rows |\n|---|---:|---:|\n"
        f"| `edgeml train --dask` (LocalCluster, 2 workers × 1 thread) | {results['dask']:.0f} "
        f"| {auc['dask']:.4f} |\n"
        f"| `edgeml train` on one machine (the table without the text column) "
        f"| {results['one']:.0f} | {auc['one']:.4f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[500_000, 2_000_000])
    parser.add_argument("--dask-rows", type=int, default=600_000)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    import lightgbm

    header = machine(f"LightGBM {lightgbm.__version__}, Polars {pl.__version__}")
    with tempfile.TemporaryDirectory(prefix="bench-train-scale-") as tmp:
        work = Path(tmp)
        test = work / "test.parquet"
        table(100_000, 99).write_parquet(test)
        memory = memory_part(work, args.rows, test) if args.rows else ""
        dask = dask_part(work, args.dask_rows, test) if args.dask_rows else ""
    command = "benchmarks/bench_train_scale.py --rows " + " ".join(map(str, args.rows))
    body = (
        f"{header}\n\n`.venv/bin/python {command} --dask-rows {args.dask_rows}`; "
        f"{load_average()} at the end.\n\n### Peak RSS: in memory vs streamed\n\n{memory}\n\n"
        f"### `edgeml train --dask` vs one machine\n\n{dask}\n"
    )
    print(body)
    if not args.no_readme:
        write_section(HEADING, body)


if __name__ == "__main__":
    main()
