"""Native engine beside lleaves in one process, for bench_engine.py (run with the lleaves venv).

lleaves needs its own venv (see _lleaves_probe.py), which has no edgeml: the engine is loaded
here straight from its shared library and table blob. Times are the CPU time of this thread
(``time.thread_time``), medians of RUNS alternating runs, so other jobs on a shared machine
slow both engines alike; "lanes" is the same blob with QuickScorer batches (where it has a
section). Prints one JSON object:

    python _engine_probe.py MODEL.txt FOREST.bin CORE.so ROWS.npy RUNS [--on-cue]

With ``--on-cue`` the probe prints ``ready`` once lleaves is compiled, then waits for a line on
stdin before each of its RUNS rounds, so that bench_engine.py times its own process's engine
between them: separate processes timed minutes apart on this shared VM differ by 20-40% with
nothing changed (on 500x63, our lanes measured 5,663 ns/row in bench_engine's process and
4,120 in this one in one run, and the other way round in another; timed interleaved, both
processes give the same median), so both processes' figures must come from the same windows.
"""

from __future__ import annotations

import ctypes
import json
import statistics
import sys
import time

import lleaves
import numpy as np

P = ctypes.c_void_p


class Engine:
    """edgeml's engine through ctypes, as edgeml.runtime._native_backend calls it."""

    def __init__(self, core: str, blob_path: str) -> None:
        self.lib = lib = ctypes.CDLL(core)
        lib.edgeml_forest_open.argtypes = [P, ctypes.c_size_t, P, P]
        lib.edgeml_forest_sizeof.restype = ctypes.c_size_t
        lib.edgeml_forest_work_size.argtypes = [P, ctypes.c_int]
        lib.edgeml_forest_work_size.restype = ctypes.c_size_t
        lib.edgeml_forest_predict.argtypes = [P, P, ctypes.c_size_t, P, ctypes.c_int, P]
        with open(blob_path, "rb") as handle:
            raw = handle.read()
        self.blob = np.frombuffer(raw, dtype=np.uint64).copy()
        self.forest = ctypes.create_string_buffer(lib.edgeml_forest_sizeof() + 8)
        self.address = ctypes.addressof(self.forest)
        status = lib.edgeml_forest_open(self.blob.ctypes.data, len(raw), self.address, None)
        if status != 0:
            raise SystemExit(f"forest refused: {status}")
        self.outputs = int(np.frombuffer(raw[20:24], dtype="<u4")[0])
        self.work = np.empty(lib.edgeml_forest_work_size(self.address, 2), dtype=np.uint32)

    def quickscorer(self) -> bool:
        """Batches on QuickScorer (its SIMD lanes where the CPU has them), if the blob has it."""
        use = getattr(self.lib, "edgeml_forest_set_algorithm", None)
        if use is None:
            return False
        use.argtypes = [P, ctypes.c_uint32]
        return use(self.address, 8 | 16) == 0  # EDGEML_FOREST_QS_ROW | _BATCH

    def predict(self, x: np.ndarray, threads: int = 1) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty((len(x), self.outputs))
        self.lib.edgeml_forest_predict(self.address, x.ctypes.data, len(x), out.ctypes.data,
                                       threads, self.work.ctypes.data)  # fmt: skip
        return out


def main() -> None:
    model_txt, blob_path, core, rows_path, runs = sys.argv[1:6]
    on_cue = "--on-cue" in sys.argv[6:]
    engine = Engine(core, blob_path)
    model = lleaves.Model(model_file=model_txt)
    start = time.perf_counter()
    model.compile(cache=blob_path + ".lleaves.o")
    compile_seconds = time.perf_counter() - start
    x = np.load(rows_path)
    ref = model.predict(x[:2000], n_jobs=1)
    diff = float(np.max(np.abs(engine.predict(x[:2000]).reshape(ref.shape) - ref)))
    names = ("native", "lleaves", "native_row", "lleaves_row")
    times: dict[str, list[float]] = {name: [] for name in names}
    rows = [x[i : i + 1] for i in range(1000)]
    calls = {"native": engine.predict, "lleaves": lambda r: model.predict(r, n_jobs=1)}
    lanes = Engine(core, blob_path)
    if lanes.quickscorer():  # QuickScorer batches, alternating with lleaves in this process
        calls["lanes"] = lanes.predict
        times.update(lanes=[], lanes_row=[])
    if on_cue:
        print("ready", flush=True)
    for _ in range(int(runs)):
        if on_cue and not sys.stdin.readline():
            break  # the caller is gone
        for name, call in calls.items():
            start = time.thread_time()
            call(x)
            times[name].append((time.thread_time() - start) / len(x) * 1e9)
            start = time.thread_time()
            for row in rows:
                call(row)
            times[f"{name}_row"].append((time.thread_time() - start) / len(rows) * 1e6)
        if on_cue:
            print(json.dumps({name: values[-1] for name, values in times.items()}), flush=True)
    found = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({**found, "diff_vs_lleaves": diff, "lleaves_compile_s": compile_seconds}))


if __name__ == "__main__":
    main()
