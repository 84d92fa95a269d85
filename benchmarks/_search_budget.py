"""bench_search's ``budget`` part: what a latency budget measures, LightGBM against the engine.

``[search] max_latency_us`` and the leaderboard time each candidate on edgeml's native engine
(``edgeml.compile.latency_meter``) where a C compiler builds it, else on ``Booster.predict``.
This part trains each dataset's default model and times one prepared row both ways (median of
200 calls per measurement, the median of 5 measurements), so a budget's meaning is on record.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from edgeml.bundle import read_bundle_files
from edgeml.compile import latency_meter, load_reference
from edgeml.config import Config
from edgeml.pipeline import train
from edgeml.search import latency_us
from edgeml.spec.manifest import Manifest

REPEATS = 5


def budget_lines(
    cases: dict[str, tuple[str, str, list[str], float]], names: list[str], path: Any, work: Path
) -> list[str]:
    """A markdown table: per dataset, trees and single-row µs on LightGBM and on the engine."""
    meter = latency_meter()
    if meter is None:
        return ["No C compiler here: the engine cannot be built, budgets fall back to LightGBM."]
    rows = [
        "| dataset | trees | Booster.predict µs | native engine µs | engine ÷ LightGBM |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in names:
        file, target, drop, _ = cases[name]
        config = Config.from_dict({"data": {"drop": drop}})
        bundle = train(path(file), target=target, config=config, cv_folds=0,
                       out=work / f"{name}.edgeml").bundle  # fmt: skip
        raw, files = read_bundle_files(bundle)
        reference = load_reference(Manifest.from_dict(raw, where=str(bundle)), files)
        booster = reference.booster
        row = reference.matrix[:1]  # a training row as the prep plan makes it
        lightgbm = statistics.median(latency_us(booster, row) for _ in range(REPEATS))
        engine = statistics.median(meter(booster, row) for _ in range(REPEATS))
        rows.append(
            f"| {name} | {booster.num_trees():,} | {lightgbm:.1f} | {engine:.2f} | "
            f"{engine / lightgbm:.2f} |"
        )
    return rows
