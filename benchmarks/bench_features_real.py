"""Feature engineering on real data: the same pipeline with and without stage-3 features.

* chicago_ridership.csv: daily ridership with a time-ordered holdout (``--time-col date``); the
  features are the target's own history (lags of 1, 7 and 14 days, 7- and 28-day past means).
* the embedded sensor fleet (``edgeml demo``'s data): per-machine lags and rolling windows.

    .venv/bin/python benchmarks/bench_features_real.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import edgeml
from edgeml.datasets import path as dataset_path

CHICAGO_FEATURES = {
    "mode": "manual",
    "target_lags": [1, 7, 14],
    "target_windows": ["7", "28"],
    "stats": ["mean"],
}


def run(data, *, out: Path, features: dict, **options) -> tuple[float, float, dict, float]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    config = edgeml.Config.from_dict({"features": features})
    result = edgeml.train(data, out=out, config=config, **options)
    seconds = time.perf_counter() - start
    primary = result.manifest["metrics"]["primary"]
    cv = result.metrics["cv"][primary]["mean"] if result.metrics["cv"] else float("nan")
    return result.metrics["holdout"][primary], cv, result.manifest["features"]["plan"], seconds


def main() -> None:
    print("| dataset | metric | features | holdout | CV mean | kept features | seconds |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            (
                "chicago_ridership.csv (time-ordered)",
                dataset_path("chicago_ridership.csv"),
                {"target": "ridership", "time_col": "date"},
                CHICAGO_FEATURES,
            ),
            (
                "sensor fleet (demo data)",
                edgeml.datasets.sensor_fleet(),
                {
                    "target": "failure_within_24h",
                    "time_col": "timestamp",
                    "entity_col": "machine_id",
                },
                {"mode": "auto"},
            ),
        ]
        for name, data, options, features in cases:
            for label, chosen in (("none", {"mode": "none"}), ("with", features)):
                holdout, cv, plan, seconds = run(
                    data, out=Path(tmp) / f"{label}.edgeml", features=chosen, **options
                )
                metric = "r2" if options["target"] == "ridership" else "roc_auc"
                kept = ", ".join(plan.get("kept") or []) or "—"
                print(
                    f"| {name} | {metric} | {label} | {holdout:.4f} | {cv:.4f} | {kept} | "
                    f"{seconds:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
