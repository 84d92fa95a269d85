"""Timing helpers and the other engines of bench_inference.py: ONNX Runtime on onnxmltools'
conversion, TL2cgen's own predictor, lleaves (in its own venv, through ``_lleaves_probe.py``).

Each ``run_*`` measures single-row latency and batch throughput on the prepared float matrix
and records them with ``record(engine, single_us, (ns_1_thread, ns_2_threads), max_abs_diff)``.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

RUNS = 5
SINGLE_ROWS = 1000
LLEAVES_SCRIPT = Path(__file__).with_name("_lleaves_probe.py")
Record = Callable[[str, "float | None", "tuple[float, float] | None", "float | None"], None]


def median_of(measure: Callable[[], float], runs: int = RUNS) -> float:
    return statistics.median(measure() for _ in range(runs))


def per_call_us(call: Callable[[Any], Any], items: Sequence[Any]) -> float:
    """Median over runs of the mean time of one call, cycling through ``items``."""
    call(items[0])

    def run() -> float:
        start = time.perf_counter()
        for item in items:
            call(item)
        return (time.perf_counter() - start) / len(items) * 1e6

    return median_of(run)


def per_row_ns(call: Callable[[], Any], rows: int) -> float:
    call()

    def run() -> float:
        start = time.perf_counter()
        call()
        return (time.perf_counter() - start) / rows * 1e9

    return median_of(run)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def max_diff(ours: np.ndarray, truth: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(ours, np.float64).reshape(truth.shape) - truth)))


def run_onnxmltools(record, booster, matrix, single_matrix, check, truth, out, work, slug) -> None:
    try:
        import onnxmltools
        import onnxruntime as ort
        from onnxmltools.convert.common.data_types import FloatTensorType
    except ImportError as exc:
        out.setdefault("notes", []).append(f"onnxmltools: skipped ({exc})")
        return
    nf = matrix.shape[1]
    model, seconds = timed(
        lambda: onnxmltools.convert_lightgbm(
            booster,
            initial_types=[("input", FloatTensorType([None, nf]))],
            zipmap=False,
            target_opset=15,
        )
    )
    content = model.SerializeToString()
    out["export"].append(("onnxmltools conversion (float32)", seconds, len(content), None))
    sessions = []
    for threads in (1, 2):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        sessions.append(ort.InferenceSession(content, options, providers=["CPUExecutionProvider"]))
    name = sessions[0].get_inputs()[0].name
    wanted = sessions[0].get_outputs()[-1].name  # probabilities (classifier) or variable
    as32 = matrix.astype(np.float32)

    def run(session: Any, x: np.ndarray) -> np.ndarray:
        return session.run([wanted], {name: x})[0]

    rows32 = [r.astype(np.float32) for r in single_matrix]
    with np.errstate(over="ignore"):  # float32 is all it takes: 1e300 becomes inf
        got = run(sessions[0], check.astype(np.float32))
    got = got[:, 1] if got.ndim == 2 and truth.ndim == 1 and got.shape[1] == 2 else got
    record(
        "ONNX Runtime, onnxmltools model",
        per_call_us(lambda r: run(sessions[0], r), rows32),
        (
            per_row_ns(lambda: run(sessions[0], as32), len(matrix)),
            per_row_ns(lambda: run(sessions[1], as32), len(matrix)),
        ),
        max_diff(got, truth),
    )


def run_tl2cgen(record, booster, matrix, single_matrix, check, truth, out, work, slug) -> None:

    import tl2cgen
    import treelite

    from edgeml.compile._treecode import parallel_units

    library = work / f"{slug}-tl2cgen.so"
    model = treelite.frontend.from_lightgbm(booster)
    units = parallel_units(booster.model_to_string())
    with contextlib.redirect_stdout(io.StringIO()):
        _, seconds = timed(
            lambda: tl2cgen.export_lib(
                model,
                toolchain="gcc",
                libpath=str(library),
                params={"parallel_comp": units},
                nthread=2,
            )
        )
    out["export"].append(("TL2cgen export_lib (gcc -O2)", seconds, library.stat().st_size, None))
    one = tl2cgen.Predictor(str(library), nthread=1)
    two = tl2cgen.Predictor(str(library), nthread=2)
    got = one.predict(tl2cgen.DMatrix(check)).reshape(truth.shape)
    dmat = tl2cgen.DMatrix(matrix)
    record(
        "TL2cgen Predictor (DMatrix)",
        per_call_us(lambda r: one.predict(tl2cgen.DMatrix(r)), single_matrix),
        (
            per_row_ns(lambda: one.predict(dmat), len(matrix)),
            per_row_ns(lambda: two.predict(dmat), len(matrix)),
        ),
        max_diff(got, truth),
    )


def run_lleaves(record, source, matrix, check, truth, out, work, slug, python) -> None:
    inputs = work / f"{slug}-lleaves-inputs.npz"
    np.savez(inputs, matrix=matrix, check=check)
    command = [
        python,
        str(LLEAVES_SCRIPT),
        str(source / "model.txt"),
        str(inputs),
        str(work / f"{slug}-lleaves.o"),
        str(SINGLE_ROWS),
        str(RUNS),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        out.setdefault("notes", []).append(f"lleaves failed: {result.stderr.strip()[-300:]}")
        return
    found = json.loads(result.stdout)
    out["export"].append(
        ("lleaves compile (LLVM)", found["compile_seconds"], found["size_bytes"], None)
    )
    got = np.load(found["predictions"]).reshape(truth.shape)
    record(
        "lleaves",
        found["single_us"],
        (found["batch_ns"][0], found["batch_ns"][1]),
        max_diff(got, truth),
    )
