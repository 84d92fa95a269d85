"""The native tree engine beside lleaves and LightGBM, timed in CPU time of the calling thread.

bench_inference.py times every engine by the wall clock, which a machine shared with many other
jobs turns into noise. This one measures each engine's CPU time on its own thread
(``time.thread_time``; medians of alternating runs), so a busy machine slows every engine
alike and the ratios hold. Models (plain LightGBM on the synthetic data of bench_inference.py,
30,000 training rows, trained once into ``--workdir``): 500 trees x 63 leaves, 1,000 x 255
leaves, 10 classes x 100 rounds, 2,000 trees of depth 4. lleaves runs in its own venv
(``--lleaves-python``, see _lleaves_probe.py) through ``_engine_probe.py``; with it, this
process's walk and lanes figures are timed between the probe's rounds (see ``interleaved``), so
that the two-process ratio divides figures from the same minutes.

Reported per model: batch ns/row on 20,000 distinct rows (1 thread) of the walk, of
QuickScorer's lanes and of what ``edgeml export --format native`` runs for batches (the
algorithm ``choose`` picks on 500 of the rows, packed into the blob's flags as export packs it;
also in batches of 1,024 rows), single prepared rows (µs per call, 1,000 distinct rows, Python
call included), the export (model text to table blob), the engine's max abs difference from
``Booster.predict`` on the rows, and 1 vs 2 threads of the exported blob on 100,000 rows by the
wall clock (the only figure a shared machine can blur).

    .venv/bin/python benchmarks/bench_engine.py [--write-readme]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, cast

import lightgbm as lgb
import numpy as np
from _readme import write_section

from edgeml.compile._forest import parse_model
from edgeml.compile._native import core_library
from edgeml.compile._native_choice import choose
from edgeml.compile._native_qs import section
from edgeml.compile._native_tables import Tables, forest_blob, forest_tables, pack
from edgeml.runtime import RuntimePrep
from edgeml.runtime._native_backend import NativeBackend, open_core
from edgeml.spec.prep_plan import PrepPlan

SECTION = "## Native engine (CPU time)"
PROBE = Path(__file__).with_name("_engine_probe.py")
RUNS = 7
MODELS = {
    "synthetic 500×63": ("binary", {"num_leaves": 63}, 500),
    "deep 1000×255": ("binary", {"num_leaves": 255, "min_data_in_leaf": 5}, 1000),
    "10-class 100 rounds": ("multiclass", {"num_leaves": 31, "num_class": 10}, 100),
    "shallow 2000×depth 4": ("binary", {"num_leaves": 16, "max_depth": 4}, 2000),
}


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """bench_inference.py's synthetic data: 20 float features, 5% NaN, and its signal."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 20))
    x[rng.random((n, 20)) < 0.05] = np.nan
    signal = np.nansum(x[:, :5] * [1.0, -2.0, 0.5, 1.5, -1.0], axis=1)
    signal += np.sin(np.nan_to_num(x[:, 5]) * 3) + x[:, 6] * np.nan_to_num(x[:, 7])
    return x, signal + rng.normal(size=n) * 0.5


def training_rows(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The 30,000 training rows and labels of a model (LightGBM's and ydf's)."""
    objective = MODELS[name][0]
    x, signal = synthetic(30_000, 0)
    if objective == "multiclass":
        # the signal is NaN where x6 is (5% of rows): read as 0, as the binary label's
        # `signal > 0` does; np.quantile over the NaNs gave NaN edges and two classes (0 and 9)
        graded = np.nan_to_num(signal)
        y = np.digitize(graded, np.quantile(graded, np.linspace(0, 1, 11)[1:-1])).astype(float)
    else:
        y = (signal > 0).astype(float)
    return x, y


def model_file(work: Path, name: str) -> Path:
    path = work / (name.split()[0].replace("-", "") + ".txt")
    if path.exists():
        return path
    objective, params, rounds = MODELS[name]
    x, y = training_rows(name)
    settings = {"verbosity": -1, "num_threads": 2, "objective": objective, **params}
    lgb.train(settings, lgb.Dataset(x, y), rounds).save_model(str(path))
    return path


def median_ns(call: Any, rows: int, runs: int = RUNS, clock: Any = time.thread_time) -> float:
    """Median ns per row of ``call()`` by ``clock``: this thread's CPU time (the default),
    ``time.process_time`` (all the process's threads) or ``time.perf_counter`` (the wall)."""
    times = []
    for _ in range(runs):
        start = clock()
        call()
        times.append((clock() - start) / rows * 1e9)
    return statistics.median(times)


def one_call(backend: NativeBackend, rows: np.ndarray) -> dict[str, float]:
    """µs per row of what Predictor.predict_row runs on the native engine: a dict of the 20 raw
    float columns (an identity prep plan) converted and predicted in one C call, beside the
    floor (the same foreign call returning at once) and the Python prep + engine path."""
    names = [f"x{i}" for i in range(rows.shape[1])]
    plan = PrepPlan.from_dict({
        "columns": [{"name": n, "dtype": "float", "role": "feature"} for n in names],
        "steps": [{"kind": "numeric", "column": n, "output": n} for n in names],
    })  # fmt: skip
    prep = RuntimePrep(plan)
    row = backend.row_predictor(prep)
    if row is None:
        return {}
    dicts = [dict(zip(names, r.tolist(), strict=True)) for r in rows]
    n = len(dicts)
    return {
        "row_call": median_ns(lambda: [row(d) for d in dicts], n) / 1e3,
        "row_floor": median_ns(lambda: [row.floor() for _ in dicts], n) / 1e3,
        "row_python": median_ns(
            lambda: [backend.predict_one(prep.transform_row(d)) for d in dicts], n
        )
        / 1e3,
    }


def bundle_row(work: Path, name: str, rows: np.ndarray) -> dict[str, Any]:
    """µs per call of what a user calls: ``edgeml.runtime.load(bundle).predict_row(dict)`` (dict
    in, dict out) on a bundle that ``edgeml.train`` wrote from the model's training rows with
    its shape (rounds and leaves; cached in ``work``) and ``edgeml export --format native``
    exported (on every run: the bundle ships the core it was exported with), beside the same
    predictor's NativeRow call; and the largest difference of its probabilities from the
    LightGBM backend's on those rows. Only the binary synthetic models (their rows are the 20
    raw float columns)."""
    objective, params, rounds = MODELS[name]
    if objective != "binary" or "max_depth" in params:
        return {}
    import polars as pl

    import edgeml
    import edgeml.runtime
    from edgeml.compile import export

    path = work / (name.split()[0].replace("-", "") + ".edgeml")
    if not (path / "manifest.json").is_file():
        x, y = training_rows(name)
        frame = pl.DataFrame({f"x{i}": x[:, i] for i in range(x.shape[1])}).with_columns(
            pl.Series("label", y.astype(int))
        )
        train = {"num_boost_round": rounds, "early_stopping_rounds": 0, **params}
        config = edgeml.Config.from_dict({"train": train})
        edgeml.train(frame, target="label", out=path, cv_folds=0, config=config)
    # exported on every run: the bundle carries its own core.so, built from today's kernels
    export(path, format="native")
    predictor = edgeml.runtime.load(path, backend="native")
    lightgbm = edgeml.runtime.load(path, backend="lightgbm")
    names = list(predictor.input_schema)
    dicts = [dict(zip(names, r.tolist(), strict=True)) for r in rows]
    n = len(dicts)
    proba = [c for c in predictor.predict_row(dicts[0]) if c.startswith("proba_")]
    diff = max(
        abs(got[c] - want[c])
        for got, want in zip(
            map(predictor.predict_row, dicts), map(lightgbm.predict_row, dicts), strict=True
        )
        for c in proba
    )
    native_row = predictor._row
    figures = {
        "bundle_row": median_ns(lambda: [predictor.predict_row(d) for d in dicts], n) / 1e3,
        "bundle_diff": diff,
        "bundle_trees": lgb.Booster(model_file=str(path / predictor.spec.model_file)).num_trees(),
    }
    if native_row is not None:
        figures["bundle_native_row"] = median_ns(lambda: [native_row(d) for d in dicts], n) / 1e3
    return figures


def exported(lib: Any, tables: Tables, rows: np.ndarray) -> tuple[bytes, dict[str, Any]]:
    """The blob ``edgeml export --format native`` writes for these tables (_native.py: the
    algorithms ``choose`` measures on 500 reference rows in its flags, no QuickScorer section
    where the walk won both) and the choice."""
    chosen_tables, chosen = choose(lib, tables, rows[:500])
    if not chosen_tables.qs_use:
        chosen_tables = replace(chosen_tables, qs=None)
    return pack(chosen_tables), chosen


def small_batches(backend: NativeBackend, rows: np.ndarray, size: int = 1024) -> float:
    """ns/row of ``backend`` on consecutive batches of ``size`` rows (one call each)."""
    count = len(rows) // size
    batches = [np.ascontiguousarray(rows[i * size : (i + 1) * size]) for i in range(count)]
    return median_ns(lambda: [backend.predict(b) for b in batches], count * size)


def algorithms(
    lib: Any,
    engine: NativeBackend,
    tables: Tables,
    chosen: dict[str, Any],
    rows: np.ndarray,
    truth: np.ndarray,
) -> dict[str, Any]:
    """The same figures with QuickScorer (where the model has a section), and what export
    chose; ``engine`` is left on the walk."""
    out: dict[str, Any] = {"choice": f"{chosen['row']} / {chosen['batch']}"}
    if tables.qs is None or not engine.set_algorithm(row="quickscorer", batch="quickscorer"):
        return out
    qs = tables.qs
    out["qs_bytes"] = len(section(qs))
    out["qs_width"] = qs.width
    out["qs_diff"] = float(np.max(np.abs(engine.predict(rows).reshape(truth.shape) - truth)))
    out["qs"] = median_ns(lambda: engine.predict(rows), len(rows))
    out["simd"] = engine.simd
    if engine.simd != "scalar":  # the same batches off the SIMD lanes
        engine.set_algorithm(row="quickscorer", batch="quickscorer-scalar")
        out["qs_scalar"] = median_ns(lambda: engine.predict(rows), len(rows))
        engine.set_algorithm(row="quickscorer", batch="quickscorer")
    out["walk_row"], out["qs_row"] = paired_rows(engine, rows)
    # paired_rows ends on the walk (its last turn runs QuickScorer first): back to QuickScorer,
    # or this column times the walk's one call (4.79 "QuickScorer" against 12.26 paired)
    engine.set_algorithm(row="quickscorer", batch="quickscorer")
    out["qs_row_call"] = one_call(engine, rows[:1000]).get("row_call")
    engine.set_algorithm(row="walk", batch="walk")
    return out


def paired_rows(engine: NativeBackend, rows: np.ndarray) -> tuple[float, float]:
    """µs per single row of the walk and of QuickScorer, timed in turn (RUNS pairs, the order
    swapped every pair) on 1,000 distinct rows, each run after an untimed run of the same
    algorithm on 1,000 other rows: the single-row figures timed apart (the walk's after
    LightGBM's batches, QuickScorer's after its own) gave 14.53 against 10.75 µs on the real
    10-class model where, paired, they are within 10% of each other."""
    warm, timed = list(rows[1000:2000]), list(rows[:1000])
    found: dict[str, list[float]] = {"walk": [], "quickscorer": []}
    for turn in range(RUNS + 1):  # RUNS + 1 is even: each algorithm first as often
        for name in ("walk", "quickscorer") if turn % 2 == 0 else ("quickscorer", "walk"):
            engine.set_algorithm(row=name, batch=name)
            for r in warm:
                engine.predict_one(r)
            found[name].append(
                median_ns(lambda: [engine.predict_one(r) for r in timed], len(timed), 1) / 1e3
            )
    return statistics.median(found["walk"]), statistics.median(found["quickscorer"])


def ydf_figures(python: str, work: Path, name: str, rows_path: Path) -> dict[str, Any]:
    """ydf's fastest engine on a GBT of the model's shape, same training rows (_ydf_probe)."""
    _, params, rounds = MODELS[name]
    x, y = training_rows(name)
    stem = rows_path.stem.removesuffix("-rows")
    np.save(work / f"{stem}-train-x.npy", x)
    np.save(work / f"{stem}-train-y.npy", y)
    command = [python, str(Path(__file__).with_name("_ydf_probe.py")),
               str(work / f"{stem}-train-x.npy"), str(work / f"{stem}-train-y.npy"),
               str(rows_path), str(rounds), str(params["num_leaves"]),
               str(params.get("max_depth", 0)), str(work / f"{stem}.ydf")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return {"ydf_note": result.stderr.strip()[-200:]}
    return {"ydf": json.loads(result.stdout.strip().splitlines()[-1])}


def bench(
    name: str, work: Path, core: Path, lleaves_python: str | None, ydf_python: str | None = None
) -> dict[str, Any]:
    path = model_file(work, name)
    text = path.read_text()
    booster = lgb.Booster(model_str=text)
    start = time.perf_counter()
    blob = forest_blob(parse_model(text))
    export_seconds = time.perf_counter() - start
    tables = forest_tables(parse_model(text))
    blob_path = work / (path.stem + ".bin")
    blob_path.write_bytes(blob)
    lib = open_core(core)
    one = NativeBackend(lib, blob, threads=1, source=name)
    rows, _ = synthetic(20_000, 1)
    chosen_blob, chosen = exported(lib, tables, rows)
    chosen_one = NativeBackend(lib, chosen_blob, threads=1, source=name)
    chosen_two = NativeBackend(lib, chosen_blob, threads=2, source=name)
    rows_path = work / (path.stem + "-rows.npy")
    np.save(rows_path, rows)
    truth = np.asarray(booster.predict(rows, num_threads=1))
    out: dict[str, Any] = {
        "name": name,
        "trees": booster.num_trees(),
        "blob_bytes": len(blob),
        "export_s": export_seconds,
        "diff": float(np.max(np.abs(one.predict(rows).reshape(truth.shape) - truth))),
        "native": median_ns(lambda: one.predict(rows), len(rows)),
        "exported": median_ns(lambda: chosen_one.predict(rows), len(rows)),
        "exported_algorithm": chosen["batch"]
        + (f" ({chosen_one.simd})" if chosen["batch"] == "quickscorer" else ""),
        "exported_diff": float(
            np.max(np.abs(chosen_one.predict(rows).reshape(truth.shape) - truth))
        ),
        "exported_1024": small_batches(chosen_one, rows),
        "lightgbm": median_ns(lambda: booster.predict(rows[:4000], num_threads=1), 4000, 3),
    }
    singles = list(rows[:1000])
    out["native_row"] = median_ns(lambda: [one.predict_one(r) for r in singles], 1000) / 1e3
    out.update(one_call(one, rows[:1000]))
    out.update(bundle_row(work, name, rows[:1000]))
    out.update(algorithms(lib, one, tables, chosen, rows, truth))
    big = np.vstack([rows] * 5)
    for key, clock in (("threads", time.perf_counter), ("threads_cpu", time.process_time)):
        out[key] = tuple(
            median_ns(lambda b=backend: b.predict(big), len(big), 3, clock)
            for backend in (chosen_one, chosen_two)
        )
    if ydf_python:
        out.update(ydf_figures(ydf_python, work, name, rows_path))
    if lleaves_python:
        lanes = None
        if "qs" in out:
            lanes = NativeBackend(lib, blob, threads=1, source=name)
            lanes.set_algorithm(row="quickscorer", batch="quickscorer")
        command = [lleaves_python, str(PROBE), str(path), str(blob_path), str(core),
                   str(rows_path), str(RUNS), "--on-cue"]  # fmt: skip
        found = interleaved(command, rows, one, lanes)
        for key in ("native", "qs"):
            if key in found and key in out:
                out[f"{key}_alone"] = out[key]
        out.update(found)
    return out


def interleaved(
    command: list[str], rows: np.ndarray, walk: NativeBackend, lanes: NativeBackend | None
) -> dict[str, Any]:
    """lleaves' probe in its own process, and this process's walk and lanes, timed in turn: one
    run of each here, then one round of the probe's (``--on-cue``), RUNS times. Separate
    processes timed minutes apart differ by 20-40% on this shared VM with nothing changed (one
    run measured our 500x63 lanes at 5,663 ns/row here and 4,120 in lleaves' process, another
    3,749 and 5,072; interleaved, both gave the same median), so the walk and lanes figures
    ("native", "qs") become those measured between the probe's rounds, which the two-process
    ratio divides by lleaves'; the ones measured alone stay as "native_alone", "qs_alone"."""
    ours: dict[str, list[float]] = {"native": [], "qs": []}
    with tempfile.TemporaryFile("w+") as errors:
        probe = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=errors, text=True)  # fmt: skip
        send, receive = cast(IO[str], probe.stdin), cast(IO[str], probe.stdout)
        try:
            ready = receive.readline().strip() == "ready"
            for _ in range(RUNS if ready else 0):
                ours["native"].append(median_ns(lambda: walk.predict(rows), len(rows), 1))
                if lanes is not None:
                    ours["qs"].append(median_ns(lambda: lanes.predict(rows), len(rows), 1))
                send.write("\n")
                send.flush()
                if not receive.readline():  # the probe's round, timed while this one waits
                    break
        except BrokenPipeError:
            pass  # the probe died: its error is reported below
        finally:
            with contextlib.suppress(BrokenPipeError):
                send.close()
            final = receive.read()
            probe.wait()
        errors.seek(0)
        if probe.returncode != 0 or not final.strip():
            return {"note": f"lleaves failed: {errors.read().strip()[-200:]}"}
    found: dict[str, Any] = {"lleaves": json.loads(final.strip().splitlines()[-1])}
    found.update({key: statistics.median(values) for key, values in ours.items() if values})
    return found


def _or_dash(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| model | native (walk) ns/row | lleaves ns/row (same process) | walk ÷ lleaves | "
        "exported bundle's batches ns/row (algorithm; batches of 1,024 rows) | "
        "LightGBM ns/row | native single row µs | predict_row one call µs (floor; Python "
        "prep path) | Predictor.predict_row on an exported bundle µs (its NativeRow call; "
        "trees; max abs diff vs LightGBM) | lleaves single row µs | export (text → tables) s "
        "| tables bytes | "
        "max abs diff vs LightGBM (walk; exported) | exported bundle 1 / 2 threads, 100k rows, "
        "wall ns/row (CPU ns/row) |",
        "| --- |" + " ---: |" * 13,
    ]
    for r in results:
        ll = r.get("lleaves", {})
        bundle = (
            f"{r['bundle_row']:.2f} ({_or_dash(r.get('bundle_native_row'), '.2f')}; "
            f"{r['bundle_trees']}; {r['bundle_diff']:.1e})"
            if "bundle_row" in r
            else "—"
        )
        ratio = f"{ll['native'] / ll['lleaves']:.2f}" if ll else "—"
        lines.append(
            f"| {r['name']} | {r['native']:,.0f} | {_or_dash(ll.get('lleaves'), ',.0f')} "
            f"| {ratio} | {r['exported']:,.0f} ({r['exported_algorithm']}; "
            f"{r['exported_1024']:,.0f}) | {r['lightgbm']:,.0f} | {r['native_row']:.2f} "
            f"| {r.get('row_call', float('nan')):.2f} ({r.get('row_floor', float('nan')):.2f}; "
            f"{r.get('row_python', float('nan')):.2f}) | {bundle} "
            f"| {_or_dash(ll.get('lleaves_row'), '.2f')} | {r['export_s']:.2f} "
            f"| {r['blob_bytes']:,} | {r['diff']:.1e}; {r['exported_diff']:.1e} "
            f"| {r['threads'][0]:,.0f} / {r['threads'][1]:,.0f} "
            f"({r['threads_cpu'][0]:,.0f} / {r['threads_cpu'][1]:,.0f}) |"
        )
    return "\n".join(lines)


def _ydf_cell(r: dict[str, Any]) -> str:
    ydf = r.get("ydf")
    if not ydf:
        return "—"
    engine = (ydf.get("engines") or ["?"])[0].removeprefix("GradientBoostedTrees")
    return f"{ydf['ydf']:,.0f}; {ydf['ydf_row']:,.0f}, {engine}"


def algorithm_table(results: list[dict[str, Any]]) -> str:
    """The walk against QuickScorer on each model (same runs, same rows)."""
    lines = [
        "| model | walk ns/row | QuickScorer ns/row (lanes) | QuickScorer scalar ns/row | walk "
        "single row µs (paired) | QuickScorer single row µs (paired) | predict_row one call "
        "µs, walk / QuickScorer | export chooses (row / batch) | QuickScorer section bytes "
        "(width) | QuickScorer max abs diff | ydf ns/row (batches of 100; of 1), engine | lanes ÷ "
        "lleaves, both in lleaves' process (lanes ns/row) |",
        "| --- |" + " ---: |" * 6 + " --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        cell = f"{r['qs_bytes']:,} ({r['qs_width']})" if "qs" in r else "— (no section)"
        ll = r.get("lleaves", {})
        same = f"{ll['lanes'] / ll['lleaves']:.2f} ({ll['lanes']:,.0f})" if "lanes" in ll else "—"
        lines.append(
            f"| {r['name']} | {r['native']:,.0f} | {_or_dash(r.get('qs'), ',.0f')} "
            f"({r.get('simd', '—')}) | {_or_dash(r.get('qs_scalar'), ',.0f')} "
            f"| {r.get('walk_row', r['native_row']):.2f} | {_or_dash(r.get('qs_row'), '.2f')} "
            f"| {r.get('row_call', float('nan')):.2f} / {_or_dash(r.get('qs_row_call'), '.2f')} "
            f"| {r['choice']} | {cell} | {_or_dash(r.get('qs_diff'), '.1e')} | {_ydf_cell(r)} "
            f"| {same} |"
        )
    return "\n".join(lines)


NOTES = """\
How the engine works (kernels/edgeml_forest.c): per row, each (feature, missing rule) in use
becomes an integer code by a branch-free binary search among the model's sorted thresholds of
that feature, so every numeric split is `code > k` (a block's full groups of 8 rows are coded
feature by feature, their 8 searches interleaved; the search steps by a mask, because gcc
compiled the earlier `?:` step into a branch that mispredicted half the time: the codes of
500×63 went from 1,040 to 450 ns/row and its batch from 5,180 to 4,515 ns/row); trees are
breadth-first arrays with adjacent children and self-looping leaves, and a step is `node =
left[node] + (code > k)`. Tables v2: a model without categorical splits (fewer than 65,535
thresholds per feature) is laid out compact, a node as two uint32 (`left`, `threshold << 16 |
slot`) with the codes shifted by 16, so a split is one compare of the code with the node's
second word (500×63: tables 1.06 MB instead of 1.56 MB; deep 1000×255: 4.4 MB instead of 6.6
MB). Flag 128, "narrow" (session 3), where a compact forest also has at most 256 slots and every
left child at most 255 nodes after its parent (every benchmark model): a node is one uint32,
`threshold << 16 | slot << 8 | delta`, the left child `delta` nodes on, so a step is `i +=
delta + (codes[slot] > threshold)` with the slot read as its own byte; a single row's codes are
shifted left by 16 (session 4), so the compare takes the whole node word, `code << 16 > node`
(two instructions fewer a step: 500×63 single row ~5% faster), while a batch's stay plain (500×63:
node bytes 500 → 250 KB, tables 1.06 → 0.81 MB; deep 4.41 → 3.33 MB). Batches walk 8 rows
interleaved through one tree for 64-row blocks (the tree stays in L1); each group of 8 stops
after the depth by which 98% of LightGBM's training rows reached a leaf if all 8 are at leaves,
else continues to the tree's depth. A single row walks 8 consecutive trees interleaved, in
LightGBM's order, adding their leaf values as the group ends, and a group stops at the first
step in which the sum of its 8 node indices did not change (lanes only move forward, so all are
at leaves). Where the trees are not stumps (mean depth at least 4, decided when the blob is
opened; 14 from session 5 until 2026-12-04; chains wherever laid out) single rows walk with
refilling lanes instead: each of the 8 lanes walks its own tree, 4 steps blind (a leaf loops to
itself), then a checkpoint hands the lanes at a leaf the next trees (masks, no branch) and
records each lane's node by tree, so no lane waits on a group's longest path. Leaf values are
added in LightGBM's tree order: results are bit-for-bit Booster.predict (max abs diff 0.0 here
and in the parity gate).

`predict_row` on the native backend is one foreign call: the dict's values are converted by the
runtime's own rules (float columns with one `itemgetter` and one `struct` pack) into raw
doubles, and `edgeml_row_predict` runs the prep plan (edgeml_core's executor, the plan passed
as ctypes tables), the codes, the trees and the link. The "predict_row one call" column times
that on dicts of the 20 raw float columns (an identity prep plan); the floor is the same ctypes
call returning at once, and the Python prep path is RuntimePrep.transform_row followed by the
engine (what predict_row did before). The "Predictor.predict_row on an exported bundle" column
is what a user calls: a bundle `edgeml.train` wrote from the same training rows with the same
rounds and leaves (binary synthetic models; cached in the workdir), exported with `edgeml
export --format native` on every run (its own choice of algorithm; the bundle ships the core
compiled from the kernels of the day), loaded with `edgeml.runtime.load`, and
`predict_row` timed on dicts of the same 1,000 rows (dict in, dict out), beside that
predictor's NativeRow call; its probabilities are compared with the LightGBM backend's. Since
session 10 such a bundle also ships `native/edgeml_pyrow.abi3.so` (edgeml/compile/_native_pyrow.c,
CPython's stable ABI, built where Python.h is installed): a dict whose inputs are all float
columns goes to it whole, and it reads the floats, calls `edgeml_row_predict` and builds
Predictor.predict_row's dict in one builtin call, without the itemgetter, the ctypes argument
conversion, the per-thread buffer lookup or Predictor's Python (other rows, and calibrated
binary answers, keep the ctypes path); the "predict_row one call" column, built on the core
alone, stays the ctypes path.

Where it wins and loses (no hardware counters in this VM: `perf stat` reports cycles,
instructions and branch misses as not supported, so the reasons below come from the generated
code and from timing variants): the traversal has no data-dependent branch, so it does not pay
the branch mispredictions of if-else code (lleaves, TL2cgen, LightGBM's own loop): against
LightGBM it gains 2.8-18× here, most on the 2000 shallow trees. A step is a chain of two
dependent loads (the node, then the code of its slot) plus a compare and an add; with 8 lanes
the batch walk is bound by that chain's latency on L1 hits, and it loses steps where trees are
unbalanced (LightGBM grows leaf-wise: the 500×63 model has mean path 6.3 but mean depth 15, at
most 25). A single row was thought bound by the same chain on L2 hits (its 500 trees touch
about 160 KB of nodes); session 3 measured otherwise (C harness, same rows, alternated): walking
each group of 8 trees twice, the second walk with every node in L1 costs 3.1-4.5 µs against
~5 µs for the first, so L2 misses are now the smaller share; most of the old 9-11 µs was the
walk's own code (gcc kept the 8 node words live for the all-at-leaves test and spilled lanes
to the stack, one lane's add became a read-modify-write of memory on its chain) and the 500
leaf values added one by one after all groups (a 3-cycle chain of 500 adds, ~0.4 µs, that could
not overlap anything). The codes take ~0.5 µs, the Python around the call ~0.3 µs (the floor is
0.17 µs). Variants measured and not kept: 12, 16, 24 or 32 trees
interleaved (no gain: the chains are latency-bound and the lanes spill from registers past 8),
lanes that refill with the next tree when theirs reaches a leaf (3,666 steps instead of ~5,650,
but 30% slower: more instructions per step), two tree levels per node (16-byte nodes, half the
steps: 1.5-2× slower), a lower check share for batches (0.9, 0.75, 0.5: 2-16% slower), testing
after every step whether a batch group is done (7-27% slower), the slot rules chosen once per 8
lanes (no gain); in session 3 (narrow nodes, C harness, 500×63 single rows, alternated):
software prefetch of the next group's trees (their first 1-4 cache lines, or all of them: 0-15%
slower, also with trees laid out in walk order), placing each tree's child pairs most visited
first (by LightGBM's counts) so that a path stays in a tree's first lines (no change), laying
the trees out in depth order so the by-depth groups were contiguous (no change), 4, 10, 12, 16
or 20 lanes (8 is fastest), huge pages for the blob (no change: not TLB misses). In session 4
(C harness, 500×63 single rows, codes precomputed, alternated, CPU time): the 8 trees' steps in
AVX2 gathers (17.5 µs against 5.3 scalar) or 16 trees in AVX-512 gathers (14.1; with the codes
in registers by two `vpermi2d`, 10.9): a gather's latency on this CPU is far above a scalar
load's; loading both children's words while the code loads (9.8-9.2 µs, 8 or 6 lanes); a
software prefetch of the child pair (no gain, also with other memory touched between rows);
the trees sorted by mean path length inside windows of 64 (their sums added in tree order at
each window's end: slower even with the paths measured on the very rows); testing for the end
of a group every second step (6.3 against 5.2); the features' binary searches 4 at a time
(no change).
Threads: each thread's share of the work memory starts on its own cache line
(no lock, no shared write), and the CPU time per row of 2 threads stays within 3% of 1 thread
in this run (within 18% in an earlier one at the same load: the rest is two cores sharing L3
and memory on a busy machine), so the wall-clock gain is what free cores allow; on this shared
machine (load average 8-14 on 2 cores) 2 threads gained at most 1.25× (500×63), and the 1.7×
target could not be shown.

The second algorithm, QuickScorer over the codes (kernels/edgeml_forest_qs.c), is in the second
table: per slot, a row's false nodes (those it does not take left) are a prefix of the slot's
nodes sorted by threshold index, ended by a table lookup on the row's code, and each ANDs its
left subtree's mask into its tree's 64-bit (or, for trees of at most 32 leaves, 32-bit) leaf
vector; the exit leaf is the lowest set bit. Batches of QuickScorer run in SIMD lanes where
the CPU has AVX2 (kernels/edgeml_forest_qs_simd.c, chosen at run time; NEON on aarch64, and a
CPU with neither walks them): 8 rows' codes per
vector (the binary searches by gathers), and 8 rows' leaf vectors of a tree side by side, so
an entry is one AND for 8 rows (16 rows, two registers, for 32-bit vectors); exit leaves and
sums 8 rows per vector, in LightGBM's tree order. "QuickScorer scalar" is the same batches
off the lanes. Export times both algorithms on the bundle's reference rows, in alternating
order, and keeps QuickScorer for single rows and/or batches only where the median of the
passes' paired ratios is 5% below the walk's.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "edgeml-engine"))
    parser.add_argument("--lleaves-python", default="/tmp/lleaves-venv/bin/python")
    parser.add_argument("--only", default="", help="Only the models whose name has this.")
    parser.add_argument("--ydf-python", default="", help="A Python with ydf (_ydf_probe.py).")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    lleaves = args.lleaves_python if Path(args.lleaves_python).exists() else None
    core, _ = core_library()
    with open("/proc/loadavg") as handle:
        load = " ".join(handle.read().split()[:3])
    results = []
    for name in MODELS:
        if args.only in name:
            results.append(bench(name, work, core, lleaves, args.ydf_python or None))
            print(json.dumps(results[-1]), file=sys.stderr)
    body = (
        f"Machine: {os.cpu_count()} cores, AMD EPYC, load average {load} at the start (shared).\n"
        f"Command: `.venv/bin/python benchmarks/bench_engine.py --write-readme`\n\n"
        + table(results)
        + "\n\n"
        + algorithm_table(results)
        + "\n\n"
        + NOTES
    )
    print(body)
    if args.write_readme:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
