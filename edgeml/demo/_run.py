"""``edgeml demo``: the whole pipeline on the embedded sensor-fleet simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeml.batch import Writer
from edgeml.config import Config
from edgeml.data import profile, read_data
from edgeml.datasets import sensor_fleet
from edgeml.demo._deploy import deploy_demo
from edgeml.pipeline import train
from edgeml.util.progress import SILENT, Reporter

TARGET = "failure_within_24h"
SERVED_ROWS = 1500  # the newest readings: kept out of the CSV and the training, then served


def run_demo(out: str | Path, *, reporter: Reporter = SILENT, seed: int = 0) -> dict[str, Any]:
    """Simulate the fleet, write all but its newest readings as CSV, profile it, train and
    evaluate a bundle, then compile it, serve it the newest readings (which it never saw) and
    monitor it (the server keeps each machine's history for the time-series features).

    >>> summary = run_demo(__import__("tempfile").mkdtemp())   # doctest: +SKIP
    >>> summary["training"]["metrics"]["holdout"]["roc_auc"]  # doctest: +SKIP
    0.87
    """
    out = Path(out)
    reporter.status("simulating the sensor fleet")
    fleet = sensor_fleet(seed=seed).sort("timestamp", maintain_order=True)
    newest = fleet.tail(SERVED_ROWS)
    with Writer(out / "sensor_fleet.csv") as writer:
        writer.write(fleet.head(fleet.height - SERVED_ROWS))
    data_path = writer.out
    dataset = read_data(data_path, keep_raw=[TARGET])
    facts = profile(dataset.frame, target=TARGET).to_dict()
    columns = facts["column_profiles"].values()
    quality = {
        "rows": facts["rows"],
        "columns": facts["columns"],
        "duplicate_rows": facts["duplicate_rows"],
        "missing_cells": sum(c["missing"] for c in columns),
        "outliers": sum(c["outliers"] or 0 for c in columns),
    }
    common: dict[str, Any] = {
        "target": TARGET,
        "time_col": "timestamp",
        "entity_col": "machine_id",
        "seed": seed,
        "reporter": reporter,
    }
    reporter.status("training without time-series features, for comparison")
    plain = train(
        data_path,
        out=out / "sensor_fleet_no_features.edgeml",
        config=Config.from_dict({"features": {"mode": "none"}, "train": {"cv_folds": 0}}),
        **common,
    )
    reporter.status("training with per-machine lag and rolling features")
    # Features of the readings only. The label looks 24 h ahead, so a machine's past labels are
    # known only a day later: lag-1 labels would score 0.99 on the holdout and leak the future
    # (a server never has them in time), honest ones (`label_delay` 48) add nothing here. The
    # machine's name as a feature learns each machine's wear in the training weeks, which
    # resets at maintenance: on the newest readings roc_auc 0.73 with it, 0.87 without.
    readings_only = Config.from_dict(
        {"features": {"target_history": False, "entity_as_feature": False}}
    )
    result = train(data_path, out=out / "sensor_fleet.edgeml", config=readings_only, **common)
    deployed = deploy_demo(result.bundle, newest, TARGET, reporter=reporter)
    manifest, without = result.spec, plain.spec
    primary = manifest.metrics.primary or ""
    plan = manifest.features.feature_plan
    return {
        "data": str(data_path),
        "quality": quality,
        "training": result.to_dict(),
        "features": {
            "candidates": len(plan.candidates),
            "kept": plan.kept or [],
            "metric": primary,
            "holdout_with": manifest.metrics.holdout[primary],
            "holdout_without": without.metrics.holdout[primary],
        },
        "deploy": deployed,
    }
