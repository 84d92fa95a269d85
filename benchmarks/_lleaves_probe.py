"""lleaves timings for bench_inference.py, run with the Python of a venv that has lleaves.

lleaves needs an llvmlite older than the one Numba needs here (it uses the legacy pass manager
removed in llvmlite 0.45), so it lives in its own venv and reports as JSON on stdout:

    python _lleaves_probe.py MODEL.txt INPUTS.npz CACHE.o SINGLE_ROWS RUNS
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import lleaves
import numpy as np


def main() -> None:
    model_file, inputs, cache, single_rows, runs = sys.argv[1:6]
    data = np.load(inputs)
    matrix, check = data["matrix"], data["check"]
    if os.path.exists(cache):
        os.remove(cache)
    model = lleaves.Model(model_file=model_file)
    start = time.perf_counter()
    model.compile(cache=cache)
    compile_seconds = time.perf_counter() - start
    rows = [matrix[i : i + 1] for i in range(int(single_rows))]

    def single() -> float:
        start = time.perf_counter()
        for row in rows:
            model.predict(row, n_jobs=1)
        return (time.perf_counter() - start) / len(rows) * 1e6

    def batch(jobs: int) -> float:
        start = time.perf_counter()
        model.predict(matrix, n_jobs=jobs)
        return (time.perf_counter() - start) / len(matrix) * 1e9

    single()
    batch(1)
    predictions = cache + ".predictions.npy"
    np.save(predictions, model.predict(check, n_jobs=1))
    n = int(runs)
    print(json.dumps({
        "compile_seconds": compile_seconds,
        "size_bytes": os.path.getsize(cache),
        "single_us": statistics.median(single() for _ in range(n)),
        "batch_ns": [statistics.median(batch(j) for _ in range(n)) for j in (1, 2)],
        "predictions": predictions,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
