"""Inference: edgeml.runtime's backends beside the tools a user would pick instead.

Two LightGBM models, both trained by ``edgeml.train``:

- ``synthetic 500×63``: 500 trees of 63 leaves (every tree full) on 60,000 rows × 20 float
  features with 5% NaN, binary;
- ``telco_churn``: 200 trees of 31 leaves on the real telco_churn data (strings, categoricals).

For each: single-row latency and batch throughput (1 and 2 threads) of ``edgeml.runtime`` with
each exported backend (treelite, treelite with ``--annotate``, onnx if that backend exists, and
the lightgbm fallback) — prep from raw values included — beside ``Booster.predict``, ONNX Runtime
on the off-the-shelf onnxmltools conversion, TL2cgen's own ``Predictor`` (a DMatrix per call)
and lleaves (in its own venv, ``--lleaves-python``, run in a subprocess). The others take the
already prepared float matrix. Export/compile times, artifact sizes and each engine's max abs
difference from LightGBM (held-out and adversarial rows) are reported too.

Single rows cycle through 1,000 distinct held-out rows (the same row again and again would let
the branch predictor learn its path). Medians of 5 runs; the machine is small and shared.

    .venv/bin/python benchmarks/bench_inference.py                  # print the markdown tables
    .venv/bin/python benchmarks/bench_inference.py --write-readme   # also update README.md
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
from _inference_others import (
    SINGLE_ROWS,
    max_diff,
    per_call_us,
    per_row_ns,
    run_lleaves,
    run_onnxmltools,
    run_tl2cgen,
    timed,
)
from _readme import machine, write_section

import edgeml
import edgeml.runtime
from edgeml.bundle import read_bundle_files
from edgeml.compile import export
from edgeml.compile._parity import load_reference
from edgeml.datasets import path as dataset_path
from edgeml.spec.manifest import Manifest

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Inference"
THREADS = {"num_threads": 2}
HEAVY_LEAVES = 100_000  # models above this many leaves skip the compile-per-model engines
BIG_BATCH = 100_000  # rows of the 1-vs-2-threads measurement


# -- models ---------------------------------------------------------------------------------------


def synthetic_frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 20))
    x[rng.random((n, 20)) < 0.05] = np.nan
    signal = np.nansum(x[:, :5] * [1.0, -2.0, 0.5, 1.5, -1.0], axis=1)
    signal += np.sin(np.nan_to_num(x[:, 5]) * 3) + x[:, 6] * np.nan_to_num(x[:, 7])
    y = np.where(signal + rng.normal(size=n) * 0.5 > 0, "yes", "no")
    return pl.DataFrame({**{f"f{j:02d}": x[:, j] for j in range(20)}, "y": y})


def multiclass_frame(n: int, seed: int, classes: int = 10) -> pl.DataFrame:
    frame = synthetic_frame(n, seed)
    x = frame.drop("y").to_numpy()
    score = np.nansum(x[:, :4] * [1.0, 0.7, -0.5, 0.3], axis=1) + np.nan_to_num(x[:, 4]) ** 2 / 3
    edges = np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1])
    labels = np.array([f"c{k}" for k in range(classes)])[np.digitize(score, edges)]
    return frame.with_columns(y=pl.Series(labels))


def _synthetic_model(
    work: Path, name: str, file: str, train: dict[str, Any], frame: Any = synthetic_frame
) -> dict[str, Any]:
    bundle = work / file
    if not bundle.exists():
        settings = {"early_stopping_rounds": 0, **train}
        params = {**THREADS, **settings.pop("params", {})}
        config = edgeml.Config.from_dict({"train": {**settings, "params": params}})
        edgeml.train(frame(60_000, 0), target="y", config=config, cv_folds=0, out=bundle)
    return {"name": name, "bundle": bundle, "rows": frame(20_000, 1).drop("y")}


def train_models(work: Path) -> list[dict[str, Any]]:
    """The bundles (trained once, reused from ``work``) and their held-out rows."""
    models = [
        _synthetic_model(work, "synthetic 500×63", "synthetic.edgeml",
                         {"num_boost_round": 500, "num_leaves": 63}),
    ]  # fmt: skip
    telco = work / "telco.edgeml"
    data = dataset_path("telco_churn.csv")
    frame = edgeml.read_data(data).frame
    if not telco.exists():
        config = edgeml.Config.from_dict(
            {"train": {"num_boost_round": 200, "early_stopping_rounds": 0, "params": THREADS}}
        )
        edgeml.train(data, target="churn", config=config, cv_folds=0, out=telco)
    rows = pl.concat([frame.drop("churn")] * 3).head(20_000)
    models.append({"name": "telco_churn 200×31", "bundle": telco, "rows": rows})
    models += [
        _synthetic_model(work, "deep 1000×255", "deep.edgeml",
                         {"num_boost_round": 1000, "num_leaves": 255,
                          "params": {"min_data_in_leaf": 5}}),
        _synthetic_model(work, "10-class 100 rounds", "tenclass.edgeml",
                         {"num_boost_round": 100, "num_leaves": 31}, multiclass_frame),
        _synthetic_model(work, "shallow 2000×depth 4", "shallow.edgeml",
                         {"num_boost_round": 2000, "num_leaves": 16,
                          "params": {"max_depth": 4}}),
    ]  # fmt: skip
    return models


def tree_shape(booster: lgb.Booster) -> str:
    leaves = [t["num_leaves"] for t in booster.dump_model()["tree_info"]]
    full = sum(n == max(leaves) for n in leaves)
    return f"{len(leaves)} trees, {max(leaves)} leaves ({full} full)"


# -- engines --------------------------------------------------------------------------------------


def bench_model(
    model: dict[str, Any], work: Path, lleaves_python: str | None, all_engines: bool = False
) -> dict[str, Any]:
    name, source = model["name"], model["bundle"]
    slug = re.sub(r"\W+", "-", name)
    rows: pl.DataFrame = model["rows"]
    raw, files = read_bundle_files(source)
    manifest = Manifest.from_dict(raw, where=str(source))
    reference = load_reference(manifest, files)
    booster = reference.booster
    out: dict[str, Any] = {
        "name": name,
        "shape": tree_shape(booster),
        "single": {},
        "same": {},
        "batch": {},
        "export": [],
        "diff": {},
    }
    runtime_prep = edgeml.runtime.load_prep(source)
    columns = {c: rows[c].to_list() for c in runtime_prep.input_schema}
    dicts = rows.head(SINGLE_ROWS).rows(named=True)
    matrix = runtime_prep.transform(columns)
    check = np.vstack([matrix[:2000], reference.adversarial()])
    truth = booster.predict(check)
    single_matrix = [matrix[i : i + 1] for i in range(SINGLE_ROWS)]
    out["export"].append(("LightGBM model.txt", None, len(files["model.txt"]), 0.0))

    def record(
        engine: str, single: float | None, batch: tuple[float, float] | None, diff: float | None
    ) -> None:
        if single is not None:
            out["single"][engine] = single
        if batch is not None:
            out["batch"][engine] = batch
        if diff is not None:
            out["diff"][engine] = diff

    # edgeml.runtime, one bundle copy per export so each keeps its own backend
    heavy = sum(t["num_leaves"] for t in booster.dump_model()["tree_info"]) > HEAVY_LEAVES
    variants = [("native", {})]
    if not heavy or all_engines:
        variants += [("treelite", {}), ("treelite --annotate", {"annotate": True})]
    else:
        out.setdefault("notes", []).append(
            f"treelite, TL2cgen and lleaves skipped (over {HEAVY_LEAVES:,} leaves: minutes of "
            "compilation each on this machine; --all-engines runs them)"
        )
    if importlib.util.find_spec("edgeml.runtime._onnx_backend") and _has_onnx_export():
        variants.append(("onnx", {}))
    cache = Path(tempfile.mkdtemp(prefix="edgeml-bench-cache-"))
    os.environ["EDGEML_CACHE"] = str(cache)
    for label, options in variants:
        bundle = work / f"{slug}-{label.replace(' --', '-')}.edgeml"
        shutil.rmtree(bundle, ignore_errors=True)
        shutil.copytree(source, bundle)
        fmt = label.split()[0]
        build = functools.partial(export, bundle, format=fmt, options=options)
        try:
            result, seconds = timed(build)
        except edgeml.EdgeMLError as exc:
            out.setdefault("notes", []).append(f"edgeml {label} export failed: {exc}"[:300])
            continue
        size = result.info.get("size_bytes") or sum(
            (bundle / f).stat().st_size for f in result.files
        )
        parity = result.parity["max_abs_diff"]
        out["export"].append((f"edgeml {label}", seconds, size, parity))
        if fmt in ("treelite", "native") and not options:
            again = timed(build)[1]
            cached = "core cached" if fmt == "native" else "cache hit"
            out["export"].append((f"edgeml {fmt}, second export ({cached})", again, size, parity))
        one, two = (runtime_predictor(bundle, fmt, threads) for threads in (1, 2))
        batch = (
            per_row_ns(functools.partial(one.predict, columns), len(rows)),
            per_row_ns(functools.partial(two.predict, columns), len(rows)),
        )
        record(f"edgeml.runtime {label}", per_call_us(one.predict_row, dicts), batch, None)
        same = per_call_us(one.predict_row, [dicts[0]] * len(dicts))
        out["same"][f"edgeml.runtime {label}"] = same
        if not one.backend.takes_raw_input:
            alone = (
                per_row_ns(functools.partial(one.backend.predict, matrix), len(rows)),
                per_row_ns(functools.partial(two.backend.predict, matrix), len(rows)),
            )
            diff = max_diff(one.backend.predict(check), truth)
            record(f"{label} library alone (prepared matrix)", None, alone, diff)
        if fmt == "native":
            big = np.vstack([matrix] * (BIG_BATCH // len(matrix)))
            out["threads"] = tuple(
                per_row_ns(functools.partial(p.backend.predict, big), len(big)) for p in (one, two)
            )
    shutil.rmtree(cache, ignore_errors=True)
    fallback = edgeml.runtime.load(source, backend="lightgbm")
    record(
        "edgeml.runtime lightgbm (fallback)", per_call_us(fallback.predict_row, dicts), None, None
    )

    # LightGBM itself (its default uses every core, even for one row)
    one_thread = functools.partial(booster.predict, num_threads=1)
    record("Booster.predict, num_threads=1", per_call_us(one_thread, single_matrix), None, None)
    same = per_call_us(one_thread, [single_matrix[0]] * len(single_matrix))
    out["same"]["Booster.predict, num_threads=1"] = same
    record(
        "Booster.predict",
        per_call_us(booster.predict, single_matrix),
        (
            per_row_ns(lambda: booster.predict(matrix, num_threads=1), len(rows)),
            per_row_ns(lambda: booster.predict(matrix, num_threads=2), len(rows)),
        ),
        0.0,
    )
    run_onnxmltools(record, booster, matrix, single_matrix, check, truth, out, work, slug)
    if heavy and not all_engines:
        return out
    run_tl2cgen(record, booster, matrix, single_matrix, check, truth, out, work, slug)
    if lleaves_python:
        run_lleaves(record, source, matrix, check, truth, out, work, slug, lleaves_python)
    else:
        out.setdefault("notes", []).append("lleaves: skipped (no --lleaves-python)")
    return out


def runtime_predictor(bundle: Path, backend: str, threads: int) -> edgeml.runtime.Predictor:
    """``edgeml.runtime.load``; the ONNX backend built directly if its module has no loader."""
    from edgeml.runtime import _onnx_backend

    if backend != "onnx" or hasattr(_onnx_backend, "load_backend"):
        return edgeml.runtime.load(bundle, backend=backend, threads=threads)
    manifest = edgeml.runtime.read_bundle_manifest(bundle)
    return edgeml.runtime.Predictor(
        path=bundle,
        manifest=manifest,
        prep=edgeml.runtime.RuntimePrep.from_manifest(manifest),
        backend=_onnx_backend.OnnxBackend.from_bundle(bundle, threads=threads),
    )


def _has_onnx_export() -> bool:
    return importlib.util.find_spec("edgeml.compile._onnx") is not None


# -- report ---------------------------------------------------------------------------------------


def _versions() -> str:
    from importlib import metadata

    found = []
    for package in ("treelite", "tl2cgen", "onnxruntime", "onnxmltools", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{package} {metadata.version(package)}")
    return ", ".join(found) + f", gcc {_gcc()}"


def _gcc() -> str:
    result = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True)
    return result.stdout.strip()


SINGLE_NOTE = (
    "edgeml.runtime rows are raw `{column: value}` dicts (prep included); the others take the "
    'prepared float row `(1, n_features)`. "same row again" repeats one row, so the CPU learns '
    "its branches: what a naive timing loop measures."
)


def tables(results: list[dict[str, Any]]) -> str:
    lines = [
        "### Single-row latency (µs per row, median of 5 runs over 1,000 distinct rows)",
        "",
        SINGLE_NOTE,
        "",
    ]
    engines = list(dict.fromkeys(e for r in results for e in r["single"]))
    header = " | ".join(f"{r['name']} | same row again" for r in results)
    lines += [f"| engine | {header} |", "| --- |" + " ---: | ---: |" * len(results)]
    for engine in engines:
        cells = [
            f"{_num(r['single'].get(engine), 1)} | {_num(r['same'].get(engine), 1)}"
            for r in results
        ]
        lines.append(f"| {engine} | " + " | ".join(cells) + " |")
    lines += ["", "### Batch throughput (ns per row, 20,000 rows; 1 thread / 2 threads)", ""]
    engines = list(dict.fromkeys(e for r in results for e in r["batch"]))
    names = " | ".join(f"{r['name']} (1 / 2 threads)" for r in results)
    lines.append(f"| engine | {names} | max abs diff vs LightGBM |")
    lines.append("| --- |" + " ---: |" * (len(results) + 1))
    for engine in engines:
        cells = [
            " / ".join(_num(v, 0) for v in r["batch"].get(engine, (None, None))) for r in results
        ]
        diffs = [r["diff"][engine] for r in results if r["diff"].get(engine) is not None]
        diff = f"{max(diffs):.1e}" if diffs else "—"
        lines.append(f"| {engine} | " + " | ".join(cells) + f" | {diff} |")
    lines += [
        "",
        "### Export and compile (seconds, bytes)",
        "",
        "| model | artifact | build s | size bytes | parity max abs diff |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in results:
        for artifact, seconds, size, diff in r["export"]:
            shown = "—" if diff is None else f"{diff:.1e}"
            lines.append(f"| {r['name']} | {artifact} | {_num(seconds, 2)} | {size:,} | {shown} |")
    lines += [
        "",
        f"### Native engine, 1 vs 2 threads ({BIG_BATCH:,} rows, prepared matrix, ns per row)",
        "",
        "| model | 1 thread | 2 threads | speed-up |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in results:
        if r.get("threads"):
            one, two = r["threads"]
            lines.append(f"| {r['name']} | {one:,.0f} | {two:,.0f} | {one / two:.2f}× |")
    lines += [""] + [f"{r['name']}: {r['shape']}." for r in results]
    lines += [f"{r['name']}: {note}" for r in results for note in r.get("notes", [])]
    return "\n".join(lines)


def _num(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "edgeml-bench"))
    parser.add_argument(
        "--lleaves-python",
        default="/tmp/lleaves-venv/bin/python",
        help="Python of a venv with lleaves (its llvmlite clashes with numba's).",
    )
    parser.add_argument("--only", default="", help="Only the models whose name has this.")
    parser.add_argument("--all-engines", action="store_true", help="Compile engines on big models.")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    lleaves = args.lleaves_python if Path(args.lleaves_python).exists() else None
    header = machine(f"LightGBM {lgb.__version__}, {_versions()}")
    models = [m for m in train_models(work) if args.only in m["name"]]
    results = [bench_model(m, work, lleaves, args.all_engines) for m in models]
    command = "`.venv/bin/python benchmarks/bench_inference.py --write-readme`"
    body = f"{header}\n\nCommand: {command}\n\n{tables(results)}"
    print(body)
    if args.write_readme:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
