"""``edgeml --help`` and ``--version`` start fast: no heavy library is imported to print them.

Checked on ``sys.modules`` in a fresh interpreter, not with a timer (benchmarks/bench_import.py
times it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What the commands import when they run, never to print help: the training stack, the server,
# the exporters, plotting; NumPy too (80 ms of the help's start-up when it was imported).
HEAVY = ("numpy", "polars", "lightgbm", "sklearn", "numba", "scipy", "pandas", "pyarrow", "fastapi",
         "starlette", "uvicorn", "optuna", "onnx", "onnxruntime", "treelite", "tl2cgen",
         "matplotlib", "cryptography")  # fmt: skip

SCRIPT = """
import json, sys
from edgeml.cli import cli
code = None
try:
    cli(sys.argv[1:], prog_name="edgeml")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""

COMMANDS = ("demo", "profile", "train", "evaluate", "predict", "export", "keygen", "report",
            "serve", "monitor", "retrain", "registry")  # fmt: skip


def _run(*args: str) -> tuple[str, dict]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    *printed, last = result.stdout.strip().splitlines()
    return "\n".join(printed), json.loads(last)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["train", "--help"]])
def test_help_and_version_import_no_heavy_library(args: list[str]) -> None:
    printed, out = _run(*args)
    assert out["code"] == 0
    assert [m for m in HEAVY if m in out["modules"]] == []
    assert printed  # it did print something


def test_help_lists_every_command() -> None:
    printed, _ = _run("--help")
    listed = {line.split()[0] for line in printed.split("Commands:")[1].splitlines() if line}
    assert listed == set(COMMANDS)


def test_a_command_still_imports_what_it_needs(tmp_path: Path) -> None:
    # The heavy imports moved into the commands: running one loads its stage (here Polars, to
    # read the file), so the check above is not passing because nothing is imported at all.
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    _, out = _run("profile", str(data), "--json")
    assert out["code"] in (0, None) and "polars" in out["modules"]
