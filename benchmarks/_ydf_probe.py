"""ydf's fastest engine on a same-shape GBT, the QuickScorer reference for bench_engine.py.

Run with a Python that has ydf (never a dependency of edgeml: its own venv, e.g.
``python -m venv /tmp/ydf-venv && /tmp/ydf-venv/bin/pip install ydf numpy``). Trains a
gradient boosted trees model of the shape given on the same training rows as LightGBM
(bench_engine.py saves them), then times ydf's C++ engine with ``model.benchmark`` on the same
distinct rows, one thread, batches of 100 and of 1 (the engine alone: no Python per row). ydf
picks its fastest engine itself (QuickScorer for trees of at most 64 leaves). Prints one JSON
object:

    python _ydf_probe.py TRAIN_X.npy TRAIN_Y.npy ROWS.npy TREES LEAVES DEPTH [MODEL_DIR]

With MODEL_DIR, a model saved there by an earlier run is loaded instead of trained (training
the deep shape takes minutes), and a trained one is saved there.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import ydf


def main() -> None:
    x_path, y_path, rows_path, trees, leaves, depth = sys.argv[1:7]
    saved = sys.argv[7] if len(sys.argv) > 7 else ""
    rows = np.load(rows_path)
    test = {f"x{i}": rows[:, i] for i in range(rows.shape[1])}
    if saved and os.path.isdir(saved):
        report(ydf.load_model(saved), test, {"train_s": None})
        return
    x, y = np.load(x_path), np.load(y_path)
    data = {f"x{i}": x[:, i] for i in range(x.shape[1])}
    data["y"] = y.astype(np.int64)
    settings = {
        "label": "y",
        "task": ydf.Task.CLASSIFICATION,
        "num_trees": int(trees),
        "shrinkage": 0.1,
        "early_stopping": "NONE",
        "validation_ratio": 0.0,
        "num_threads": 2,
    }
    if int(depth) > 0:  # LightGBM's max_depth d is ydf's d + 1 (ydf counts the root)
        settings.update(growing_strategy="LOCAL", max_depth=int(depth) + 1)
    else:  # leaf-wise like LightGBM: at most LEAVES leaves, 2 * LEAVES - 1 nodes
        settings.update(growing_strategy="BEST_FIRST_GLOBAL", max_num_nodes=2 * int(leaves) - 1,
                        max_depth=-1)  # fmt: skip
    start = time.perf_counter()
    model = ydf.GradientBoostedTreesLearner(**settings).train(data)
    train_seconds = time.perf_counter() - start
    if saved:
        model.save(saved)
    report(model, test, {"train_s": train_seconds})


def report(model: ydf.GradientBoostedTreesModel, test: dict, out: dict[str, object]) -> None:
    """Times ydf's engine on the test rows and prints the JSON object."""
    out["trees"] = model.num_trees()
    engines = getattr(model, "list_compatible_engines", None)
    out["engines"] = list(engines()) if engines else []  # the first is the one ydf runs
    for key, batch in (("ydf", 100), ("ydf_row", 1)):
        result = model.benchmark(test, benchmark_duration=3, warmup_duration=1,
                                 batch_size=batch, num_threads=1)  # fmt: skip
        out[key] = result.duration_per_example * 1e9  # ns per row
    print(json.dumps(out))


if __name__ == "__main__":
    main()
