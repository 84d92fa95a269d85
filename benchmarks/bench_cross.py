"""The C package's cross build and its parity under qemu, per model size (issue 13's device
figures): ``edgeml export --format c --target TRIPLE`` compiles the same engine sources for every
model plus the model's tables as one const array, so a model's size should only change the
tables' unit. bench_engine's models (``--workdir`` as there, trained once), each packed as the
C package packs it (no QuickScorer section, an identity prep plan of 20 float columns), built
with the package's own Makefile (``make -j2``, as export runs it) for aarch64 and armhf:

- ``package s``: the whole build (wall clock), what an export without a cached package waits;
- ``tables unit s`` / ``engine units s``: each unit compiled alone, one after another (the
  engine units are the same for every model: a one-time build where they are cached);
- parity: max abs diff of the package's example program under qemu (features mode) against
  ``Booster.predict`` on 2,000 distinct rows plus NaN, zero, huge and tiny probes.

    .venv/bin/python benchmarks/bench_cross.py --workdir /tmp/edgeml-engine [--only NAME]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
from bench_engine import MODELS, model_file, synthetic

from edgeml.compile._cgen import CORE_FILES, ENGINE_FILES, ModelInfo, package_sources
from edgeml.compile._cpackage import find_tools, kernels_dir, run_example
from edgeml.compile._native_tables import forest_blob
from edgeml.spec.prep_plan import PrepPlan

TARGETS = ("aarch64-linux-gnu", "arm-linux-gnueabihf")


def sources(text: str, booster: lgb.Booster) -> dict[str, str]:
    """The C package of a model over 20 raw float columns (x0..x19, as bench_engine's rows)."""
    names = [f"x{i}" for i in range(booster.num_feature())]
    plan = PrepPlan.from_dict({
        "columns": [{"name": n, "dtype": "float", "role": "feature"} for n in names],
        "steps": [{"kind": "numeric", "column": n, "output": n} for n in names],
    })  # fmt: skip
    outputs = booster.num_model_per_iteration()
    model = ModelInfo(task="multiclass" if outputs > 1 else "binary", target="y",
                      classes=[str(k) for k in range(max(2, outputs))], n_outputs=outputs,
                      version="bench")  # fmt: skip
    files = package_sources(plan, model, blob=forest_blob(text, quickscorer=False))
    core = kernels_dir()
    files.update({name: (core / name).read_text() for name in (*CORE_FILES, *ENGINE_FILES)})
    return files


def probes(rows: np.ndarray) -> np.ndarray:
    """Distinct rows plus rows of NaN, 0, ±1e300 and ±1e-300 in every column."""
    width = rows.shape[1]
    special = [np.full(width, v) for v in (np.nan, 0.0, 1e300, -1e300, 1e-300, -1e-300)]
    return np.vstack([rows, *special])


def build(files: dict[str, str], directory: Path, target: str) -> dict[str, float]:
    tools = find_tools(target)
    for name, text in files.items():
        (directory / name).write_text(text)
    flags = [*tools.cflags, f"-I{directory}"]
    unit_s = {}
    for name in sorted(n for n in files if n.endswith(".c") and n != "example.c"):
        start = time.perf_counter()
        subprocess.run([tools.compiler, *flags, "-c", name, "-o", "/dev/null"],
                       cwd=directory, check=True, capture_output=True)  # fmt: skip
        unit_s[name] = time.perf_counter() - start
    start = time.perf_counter()
    command = [tools.make, "-s", "-j2", "-C", str(directory), f"CC={tools.compiler}",
               f"CFLAGS={' '.join(tools.cflags)}"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    package = time.perf_counter() - start
    model_units = ("edgeml_forest_data.c", "edgeml_model.c")
    return {
        "package_s": package,
        "tables_unit_s": unit_s["edgeml_forest_data.c"],
        "model_units_s": sum(unit_s[n] for n in model_units),
        "engine_units_s": sum(v for n, v in unit_s.items() if n not in model_units),
        "tables_c_bytes": len(files["edgeml_forest_data.c"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "edgeml-engine"))
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    work = Path(args.workdir)
    with open("/proc/loadavg") as handle:
        load = " ".join(handle.read().split()[:3])
    print(f"load average {load} at the start; {os.cpu_count()} cores")
    print("| model | target | package s (make -j2) | tables unit s | engine units s | "
          "tables .c bytes | max abs diff under qemu (rows) |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    rows = probes(synthetic(2000, 1)[0])
    for name in MODELS:
        if args.only not in name:
            continue
        text = model_file(work, name).read_text()
        booster = lgb.Booster(model_str=text)
        files = sources(text, booster)
        truth = np.asarray(booster.predict(rows, num_threads=1)).reshape(len(rows), -1)
        for target in TARGETS:
            with tempfile.TemporaryDirectory() as directory:
                found = build(files, Path(directory), target)
                ours = run_example(Path(directory), find_tools(target), rows, mode="-f")
            diff = float(np.max(np.abs(ours.reshape(truth.shape) - truth)))
            print(f"| {name} | {target} | {found['package_s']:.2f} | "
                  f"{found['tables_unit_s']:.2f} | {found['engine_units_s']:.2f} | "
                  f"{found['tables_c_bytes']:,} | {diff:.1e} ({len(rows):,}) |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
