"""Serving: `edgeml serve` under a bounded load on loopback, beside a hand-written FastAPI server.

The model: edgeml's default training on telco_churn, exported to treelite. The load: C
concurrent connections posting one real record per request for T seconds, at C = 1, 4 and 16,
from wrk (Debian's package: C, one thread; the default when installed) or from httpx clients in
this process (`--load httpx`, which costs more CPU than the server and so measures the client).

Reported: requests/s, client-side latency p50/p99, the server's own p50/p99 (from the
prediction log), failed requests, and log rows lost (answered requests missing from the log
after a graceful stop). Beside it: the same load on the server a user would write by hand
(FastAPI + a JSON dict + Booster.predict; no validation, log or metrics: `_plain_server.py`),
and the runtime's own single-row latency (`edgeml.runtime` predict_row, no HTTP). Client and
server share the machine's 2 cores: loopback figures for one box, not a network service's.

    .venv/bin/python benchmarks/bench_serve.py [--seconds 5] [--load wrk|httpx] [--write-readme]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import polars as pl
from _readme import write_section

import edgeml
import edgeml.runtime
from edgeml.compile import export
from edgeml.datasets import path as dataset_path

ROOT = Path(__file__).resolve().parents[1]
DATA = dataset_path("telco_churn.csv")
SECTION = "## Serving"


def records(bundle: Path, n: int = 1000) -> list[dict[str, Any]]:
    """Real telco rows, typed as the bundle's input schema asks."""
    predictor = edgeml.runtime.load(bundle)
    schema = predictor.input_schema
    frame = pl.read_csv(DATA).head(n)
    out = []
    for row in frame.iter_rows(named=True):
        out.append({c: _typed(row.get(c), schema[c]) for c in schema})
    return out


def _typed(value: Any, logical: str) -> Any:
    if value is None or value == "":
        return None
    if logical == "int":
        return int(float(value))
    if logical == "float":
        return float(value)
    if logical == "bool":
        return bool(value)
    return str(value)


def runtime_latency_us(bundle: Path, rows: list[dict[str, Any]], runs: int = 5) -> float:
    predictor = edgeml.runtime.load(bundle)
    medians = []
    for _ in range(runs):
        start = time.perf_counter()
        for row in rows:
            predictor.predict_row(row)
        medians.append((time.perf_counter() - start) / len(rows) * 1e6)
    return statistics.median(medians)


async def load(
    url: str, rows: list[dict[str, Any]], clients: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    failed = 0

    async def client(k: int) -> None:
        nonlocal failed
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as session:
            deadline = time.monotonic() + seconds
            i = k
            while time.monotonic() < deadline:
                start = time.perf_counter()
                response = await session.post("/predict", json=rows[i % len(rows)])
                latencies.append(time.perf_counter() - start)
                failed += response.status_code != 200
                i += clients

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e6

    return {
        "clients": clients,
        "requests": len(latencies),
        "failed": failed,
        "rps": len(latencies) / elapsed,
        "p50": pct(0.5),
        "p95": pct(0.95),
        "p99": pct(0.99),
    }


_WRK_SCRIPT = """
local bodies = {}
for line in io.lines(os.getenv("EDGEML_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""
_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6}


def load_wrk(url: str, bodies: Path, clients: int, seconds: float) -> dict[str, Any]:
    script = bodies.with_suffix(".lua")
    script.write_text(_WRK_SCRIPT)
    command = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(script),
        f"{url}/predict",
    ]
    text = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "EDGEML_BODIES": str(bodies)},
    ).stdout

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)$", text, re.M).groups()
        return float(value) * _UNITS[unit]

    requests = int(re.search(r"(\d+) requests in", text).group(1))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return {
        "clients": clients,
        "requests": requests,
        "failed": int(failed.group(1)) if failed else 0,
        "socket_errors": bool(errors),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50": latency("50"),
        "p95": math.nan,
        "p99": latency("99"),
    }


def serve(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/docs", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(process.stderr.read().decode() if process.stderr else "no server")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)


def plain_spec(bundle: Path, path: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    codes = {}
    for step in manifest["prep"]["steps"]:
        if step.get("categories"):
            codes[step["column"]] = {c: float(k) for k, c in enumerate(step["categories"])}
    path.write_text(json.dumps({"features": manifest["features"]["model"], "codes": codes}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--runs", type=int, default=3, help="Medians over this many runs.")
    parser.add_argument(
        "--load", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx"
    )
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    bundle = edgeml.train(DATA, target="churn", out=work / "churn.edgeml").bundle
    export(bundle, format="treelite")
    rows = records(bundle)
    single = runtime_latency_us(bundle, rows)
    plain_spec(bundle, work / "plain.json")
    bodies = work / "bodies.ndjson"
    bodies.write_text("".join(json.dumps(row) + "\n" for row in rows))
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for run in range(args.runs):  # interleaved, so a noisy minute hits both servers alike
        for name in SERVERS:
            for clients in map(int, args.clients.split(",")):
                result = measure(name, clients, run, bundle, work, rows, args)
                runs.setdefault((name, clients), []).append(result)
                print(name, result, file=sys.stderr)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in SERVERS}
    for (name, _), measured in runs.items():
        results[name].append(median_of(measured))
    text = table(results, single, args.load, args.seconds)
    print(text)
    if args.write_readme:
        write_section(SECTION, text)


SERVERS = ("edgeml serve", "plain FastAPI + Booster")


def measure(
    name: str,
    clients: int,
    run: int,
    bundle: Path,
    work: Path,
    rows: list[dict[str, Any]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One server, one load level: start it, load it, stop it, read its log."""
    port = 18000 + 10 * clients + run + (500 if name != SERVERS[0] else 0)
    log = work / f"log-{clients}-{run}.db"
    if name == SERVERS[0]:
        command = [
            sys.executable,
            "-m",
            "edgeml.serve",
            str(bundle),
            "--port",
            str(port),
            "--log",
            str(log),
        ]
    else:
        command = [
            sys.executable,
            str(Path(__file__).with_name("_plain_server.py")),
            str(bundle / "model.txt"),
            str(work / "plain.json"),
            str(port),
        ]
    process = serve(command, port)
    url = f"http://127.0.0.1:{port}"
    if args.load == "wrk":
        result = load_wrk(url, work / "bodies.ndjson", clients, args.seconds)
    else:
        result = asyncio.run(load(url, rows, clients, args.seconds))
    stop(process)
    if name == SERVERS[0]:
        with sqlite3.connect(log) as connection:
            served = sorted(r[0] for r in connection.execute("SELECT latency_us FROM predictions"))
        # wrk counts only answered requests; ones cut off at its deadline may still be logged.
        result["lost"] = max(0, result["requests"] - result["failed"] - len(served))
        result["server_p50"] = served[len(served) // 2]
        result["server_p99"] = served[min(len(served) - 1, int(0.99 * len(served)))]
    return result


def median_of(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each figure over the runs; failures and lost rows are summed."""
    out: dict[str, Any] = {"clients": measured[0]["clients"], "runs": len(measured)}
    for key in ("rps", "p50", "p99", "server_p50", "server_p99"):
        if key in measured[0]:
            out[key] = statistics.median(m[key] for m in measured)
    for key in ("failed", "lost", "requests"):
        if key in measured[0]:
            out[key] = sum(m[key] for m in measured)
    return out


def table(
    results: dict[str, list[dict[str, Any]]], single_us: float, tool: str, seconds: float
) -> str:
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load from {tool} on the same 2 cores (loopback).",
        f"Command: `.venv/bin/python benchmarks/bench_serve.py --load {tool} --write-readme`",
        "",
        f"`edgeml.runtime` single row (treelite, no HTTP): **{single_us:.1f} µs**. Client: request",
        "to response as the load tool saw it; server: inside the handler (validation, prep, model,",
        "logging queued), from the prediction log. Medians of "
        f"{next(iter(results.values()))[0]['runs']} interleaved runs of {seconds:g} s each; "
        "failed and lost are totals.",
        "",
        "| server | connections | requests/s | client p50 µs | client p99 µs | server p50 µs "
        "| server p99 µs | failed | log rows lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rows in results.items():
        for r in rows:
            server = "— | —"
            if "server_p50" in r:
                server = f"{r['server_p50']:.0f} | {r['server_p99']:.0f}"
            lines.append(
                f"| {name} | {r['clients']} | {r['rps']:.0f} | {r['p50']:.0f} | {r['p99']:.0f} "
                f"| {server} | {r['failed']} | {r.get('lost', '—')} |"
            )
    mine, theirs = results[SERVERS[0]], results[SERVERS[1]]
    ratios = ", ".join(
        f"{a['clients']}: {a['rps'] / b['rps']:.2f}× requests/s, {a['p99'] / b['p99']:.2f}× p99"
        for a, b in zip(mine, theirs, strict=True)
    )
    lines += ["", f"edgeml serve vs the hand-written server, by connections — {ratios}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
