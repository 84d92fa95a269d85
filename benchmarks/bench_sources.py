"""Collecting: rows/s reading a 1M-row PostgreSQL table, and the paged API reader's cost per page.

PostgreSQL: a real server (initdb/pg_ctl on a temp dir, as the tests start it) holding 1M rows
× 8 columns (ints, floats, text, a timestamp, a boolean). Measured, median of --runs:

- ``edgeml read_data``: the whole path a model's prep gets its frame from (ADBC fetch, row
  sha256 for the data card, type inference);
- ``edgeml scan``: the streaming path of ``edgeml predict`` (100k-row batches);
- the drivers alone, through Polars' ``read_database_uri``: ADBC (edgeml's) and ConnectorX
  (when installed: ``make bench`` installs it);
- exporting by hand, as a user without edgeml's reader would: ``psql \\copy … TO csv``, then
  ``read_data`` on the file.

HTTP: a loopback server with pre-rendered JSON pages (100 records each, a ``next`` URL in the
body); edgeml's reader (records flattened, schema checked per page, row digest) against a
plain httpx loop that only GETs and ``json.loads`` each page. The difference per page is the
reader's overhead.

    .venv/bin/python benchmarks/bench_sources.py [--rows 1000000] [--runs 3] [--write-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import polars as pl
from _readme import write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeml.batch import scan  # noqa: E402
from edgeml.config import DataConfig  # noqa: E402
from edgeml.data import read_data  # noqa: E402
from tests import pg_server  # noqa: E402

SECTION = "## Collecting from PostgreSQL and HTTP APIs"
TABLE_SQL = """
CREATE TABLE readings AS
SELECT i AS id, random() * 100 AS temp, random() * 100 AS humidity, (i % 7)::int AS line,
       'm' || (i % 13) AS machine, TIMESTAMPTZ '2024-01-01' + i * INTERVAL '1 second' AS ts,
       random() < 0.5 AS door_open, random() * 10 AS y
FROM generate_series(1, {rows}) AS i
"""


def timed(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    """(median seconds, rows) of ``runs`` calls of ``fn`` (which returns the rows it read)."""
    times, rows = [], 0
    fn()  # warm-up: imports, connections, caches
    for _ in range(runs):
        start = time.perf_counter()
        rows = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), rows


def postgres(rows: int, runs: int) -> list[tuple[str, float, int]]:
    server = pg_server.start()
    os.environ["PGPASSWORD"] = pg_server.PASSWORD
    try:
        server.psql(TABLE_SQL.format(rows=rows))
        uri = server.uri()
        work = Path(tempfile.mkdtemp(prefix="bench-sources-"))
        csv = work / "readings.csv"

        def by_hand() -> int:
            subprocess.run([str(server.bindir / "psql"), "-q", uri, "-c",
                            f"\\copy readings TO '{csv}' CSV HEADER"], check=True)  # fmt: skip
            return read_data(csv).frame.height

        def streamed() -> int:
            return sum(b.frame.height for b in scan(
                uri, numbers=["temp", "humidity", "y"], text=["machine"], batch_rows=100_000,
                table="readings"))  # fmt: skip

        cases: list[tuple[str, Callable[[], int]]] = [
            ("edgeml read_data (ADBC, sha256, types)",
             lambda: read_data(uri, table="readings").frame.height),
            ("edgeml scan, 100k-row batches (predict)", streamed),
            ("Polars read_database_uri, ADBC",
             lambda: pl.read_database_uri("SELECT * FROM readings", uri, engine="adbc").height),
        ]  # fmt: skip
        try:
            import connectorx  # noqa: F401

            with_pw = server.uri(password=pg_server.PASSWORD)
            cases.append(("Polars read_database_uri, ConnectorX", lambda: pl.read_database_uri(
                "SELECT * FROM readings", with_pw, engine="connectorx").height))  # fmt: skip
        except ModuleNotFoundError:
            print("connectorx not installed: no ConnectorX figure", file=sys.stderr)
        cases.append(("by hand: psql \\copy to CSV, then read_data", by_hand))
        results = []
        for name, fn in cases:
            seconds, n = timed(fn, runs)
            print(f"{name}: {n / seconds:,.0f} rows/s", file=sys.stderr)
            results.append((name, seconds, n))
        return results
    finally:
        server.stop()


class _Pages(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        page = int(self.path.rsplit("=", 1)[-1]) if "=" in self.path else 0
        body = self.bodies[page]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def http(pages: int, per_page: int, runs: int) -> tuple[float, float, int]:
    """(edgeml s/page, plain httpx s/page, rows)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    base = f"http://127.0.0.1:{server.server_port}/r"
    _Pages.bodies = [
        json.dumps({
            "data": [{"id": p * per_page + i, "sensor": {"temp": i * 0.5, "unit": "C"},
                      "machine": f"m{i % 3}", "ok": i % 2 == 0} for i in range(per_page)],
            "next": f"{base}?page={p + 1}" if p + 1 < pages else None,
        }).encode()
        for p in range(pages)
    ]  # fmt: skip
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def plain() -> int:
        n, url = 0, base
        with httpx.Client() as client:
            while url:
                body = json.loads(client.get(url).content)
                n += len(body["data"])
                url = body["next"]
        return n

    try:
        edgeml_s, rows = timed(lambda: read_data(base, config=DataConfig()).frame.height, runs)
        plain_s, _ = timed(plain, runs)
    finally:
        server.shutdown()
    return edgeml_s / pages, plain_s / pages, rows


def table(pg: list[tuple[str, float, int]], web: tuple[float, float, int], args: Any) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"`python benchmarks/bench_sources.py --rows {args.rows} --runs {args.runs}` on {machine}"
        f" (shared, noisy), Polars {pl.__version__}, PostgreSQL from /usr/lib/postgresql on "
        "loopback. Median of the runs.",
        "",
        f"Reading {args.rows:,} rows × 8 columns from PostgreSQL:",
        "",
        "| reader | seconds | rows/s |",
        "| --- | ---: | ---: |",
    ]
    for name, seconds, n in pg:
        lines.append(f"| {name} | {seconds:.2f} | {n / seconds:,.0f} |")
    edgeml_s, plain_s, _ = web
    lines += [
        "",
        f"Paged JSON API ({args.pages} pages × {args.per_page} records, `next` URL in the body):",
        "",
        "| reader | ms/page |",
        "| --- | ---: |",
        f"| edgeml read_data (flatten, schema check, digest, types) | {edgeml_s * 1e3:.2f} |",
        f"| plain httpx GET + json.loads | {plain_s * 1e3:.2f} |",
        f"| overhead of edgeml's reader | {(edgeml_s - plain_s) * 1e3:.2f} |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    pg = postgres(args.rows, args.runs)
    web = http(args.pages, args.per_page, args.runs)
    text = table(pg, web, args)
    print(text)
    if args.write_readme:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
