"""Start-up: how long ``edgeml --help`` takes in a fresh interpreter, now and at an older commit.

Each run is a new process (``python -c`` calling the console script's ``main`` with
``--help``), timed from spawn to exit, so it counts the interpreter's start, every import the
command line makes and click printing the help. Beside it: a bare interpreter (``python -c
pass``) and the same command at ``--before REV`` (that commit's ``edgeml/`` unpacked by ``git
archive`` into a temporary directory, run with the same interpreter and libraries). Also listed:
which heavy libraries each one imported.

    .venv/bin/python benchmarks/bench_import.py [--runs 15] [--before REV] [--write-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import metadata
from io import BytesIO
from pathlib import Path

from _readme import write_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Start-up (`edgeml --help`)"
HEAVY = ("polars", "lightgbm", "sklearn", "numba", "scipy", "pandas", "pyarrow", "fastapi",
         "optuna", "onnx", "onnxruntime", "treelite", "tl2cgen", "matplotlib")  # fmt: skip

HELP = "import sys\nsys.argv = ['edgeml', '--help']\nfrom edgeml.__main__ import main\nmain()\n"
# The same, then which package was imported and what it pulled in (run once, not timed).
PROBE = (
    "import json, sys\nsys.argv = ['edgeml', '--help']\nfrom edgeml.__main__ import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "import edgeml\n"
    "print(json.dumps([edgeml.__file__, sorted({m.split('.')[0] for m in sys.modules})]))\n"
)


def _time(code: str, source: Path | None, runs: int) -> list[float]:
    env = None if source is None else {"PYTHONPATH": str(source), "PATH": ""}
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, cwd=tempfile.gettempdir(),
                       stdout=subprocess.DEVNULL, check=True)  # fmt: skip
        seconds.append(time.perf_counter() - start)
    return seconds


def _probe(source: Path) -> tuple[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={"PYTHONPATH": str(source), "PATH": ""},
        cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    path, modules = json.loads(out.stdout.strip().splitlines()[-1])
    return path, [m for m in HEAVY if m in modules]


def _unpack(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "edgeml"],
                             capture_output=True, check=True).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", help="An older commit to measure beside this checkout.")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sources = {"this checkout": ROOT}
        if args.before:
            sources[f"before ({args.before})"] = _unpack(args.before, Path(tmp))
        bare = _time("pass", None, args.runs)
        rows = [("bare interpreter (`python -c pass`)", bare, [])]
        for label, source in sources.items():
            path, heavy = _probe(source)
            if not path.startswith(str(source)):
                sys.exit(f"{label}: imported edgeml from {path}, not from {source}")
            rows.append((label, _time(HELP, source, args.runs), heavy))

    now = statistics.median(rows[1][1])
    table = [
        "| run | median s | best s | × this checkout | heavy libraries imported |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for label, seconds, heavy in rows:
        median = statistics.median(seconds)
        table.append(
            f"| {label} | {median:.3f} | {min(seconds):.3f} | {median / now:.2f} | "
            f"{', '.join(heavy) if heavy else 'none'} |"
        )
    libraries = ", ".join(f"{name} {metadata.version(name)}" for name in ("click", "rich", "numpy"))
    body = "\n".join([
        f"Machine: {_machine()}. Python {platform.python_version()}, {libraries}.",
        "",
        "Command: `python benchmarks/bench_import.py --runs "
        f"{args.runs}{' --before ' + args.before if args.before else ''} --write-readme`",
        "",
        f"Wall time of `edgeml --help` in a fresh process, spawn to exit; median of {args.runs} "
        "runs. Heavy libraries: which of " + ", ".join(HEAVY) + " were in `sys.modules` after.",
        "",
        *table,
    ])  # fmt: skip
    print(body)
    if args.write_readme:
        write_section(SECTION, body)


def _machine() -> str:
    cores = len(os.sched_getaffinity(0))
    return f"{cores} cores, {platform.machine()}; {platform.system()} {platform.release()}"


if __name__ == "__main__":
    main()
