"""``edgeml demo``: the whole pipeline on the embedded sensor-fleet simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeml._output import write_frame
from edgeml._pipeline import train
from edgeml._progress import SILENT, Reporter
from edgeml.data import profile, read_data
from edgeml.datasets import sensor_fleet

TARGET = "failure_within_24h"


def run_demo(out: str | Path, *, reporter: Reporter = SILENT, seed: int = 0) -> dict[str, Any]:
    """Simulate the fleet, write it as CSV, profile it, train and evaluate a bundle.

    >>> summary = run_demo(__import__("tempfile").mkdtemp())   # doctest: +SKIP
    >>> summary["training"]["metrics"]["holdout"]["roc_auc"]  # doctest: +SKIP
    0.87
    """
    out = Path(out)
    reporter.status("simulating the sensor fleet")
    data_path = write_frame(sensor_fleet(seed=seed), out / "sensor_fleet.csv")
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
    result = train(
        data_path,
        target=TARGET,
        out=out / "sensor_fleet.edgeml",
        reporter=reporter,
        time_col="timestamp",
        entity_col="machine_id",
        seed=seed,
    )
    return {"data": str(data_path), "quality": quality, "training": result.to_dict()}
