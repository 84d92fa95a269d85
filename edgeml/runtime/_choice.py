"""``auto``: the backend that is fastest for this bundle on this machine, measured, not assumed.

Every exported backend that loads here predicts the bundle's reference rows (raw training rows
stored in the bundle) through the same :class:`~edgeml.runtime.Predictor` path a caller uses,
prep included: one row at a time (the median of the rows' best-of-3 latencies) and as one batch
(the median of 5 runs, per row). ``prefer="row"`` (servers, devices) ranks by the single-row
latency, ``prefer="batch"`` (``edgeml predict``) by the batch time; a backend within 5% of the
best keeps the place it has in :data:`~edgeml.spec.manifest.BACKENDS`, so noise does not flip
the choice. LightGBM itself is measured only when no compiled backend loads.

The measurements are cached per machine in ``$EDGEML_CACHE/backend-choice/`` under a key of the
bundle's manifest digest (which covers every file's sha256), the machine (architecture,
processor, CPU count, host name), the thread count and edgeml's version: a second ``load`` reads
the choice and loads only that backend. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeml.bundle import Bundle
from edgeml.util.cache import cache_dir
from edgeml.util.files import write_text_atomically

__all__ = [
    "Choice",
    "Measurement",
    "cached_choice",
    "choice_key",
    "measure",
    "pick",
    "reference_columns",
    "store_choice",
]

NOISE = 0.05  # a backend this close to the best keeps its BACKENDS place
SINGLE_ROWS = 50  # reference rows timed one by one
BATCH_RUNS = 5
_VERSION = 1  # of the cache entries' layout
REFERENCE_ROWS = "reference_rows.json"


@dataclass(frozen=True)
class Measurement:
    """One backend on the reference rows: microseconds per single row and per row of a batch."""

    row_us: float
    batch_us_per_row: float

    def to_dict(self) -> dict[str, float]:
        return {
            "row_us": round(self.row_us, 3),
            "batch_us_per_row": round(self.batch_us_per_row, 4),
        }


@dataclass(frozen=True)
class Choice:
    """What ``auto`` chose and why: the measurements, how it ranked, whether from the cache."""

    chosen: str
    prefer: str
    measurements: dict[str, Measurement] = field(default_factory=dict)
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "prefer": self.prefer,
            "cached": self.cached,
            "measurements": {k: m.to_dict() for k, m in self.measurements.items()},
        }


def measure(
    predict_row: Callable[[dict[str, Any]], Any],
    output: Callable[[Mapping[str, Any]], Any],
    columns: Mapping[str, list[Any]],
) -> Measurement:
    """Time one predictor on the reference rows (``columns``: column → values)."""
    names = list(columns)
    n = len(next(iter(columns.values()), []))
    rows = [{c: columns[c][i] for c in names} for i in range(min(n, SINGLE_ROWS))]
    latencies = []
    for row in rows:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            predict_row(row)
            best = min(best, time.perf_counter() - start)
        latencies.append(best)
    batch = []
    for _ in range(BATCH_RUNS):
        start = time.perf_counter()
        output(columns)
        batch.append(time.perf_counter() - start)
    return Measurement(
        row_us=statistics.median(latencies) * 1e6 if latencies else float("inf"),
        batch_us_per_row=statistics.median(batch) * 1e6 / max(n, 1),
    )


def pick(measurements: dict[str, Measurement], order: tuple[str, ...], prefer: str) -> str:
    """The fastest by ``prefer`` (row or batch); ties within :data:`NOISE` go to ``order``.

    >>> m = {"native": Measurement(10.0, 1.0), "treelite": Measurement(9.8, 2.0)}
    >>> pick(m, ("native", "treelite"), "row"), pick(m, ("native", "treelite"), "batch")
    ('native', 'native')
    >>> pick({**m, "onnx": Measurement(5.0, 3.0)}, ("native", "treelite", "onnx"), "row")
    'onnx'
    """

    def cost(name: str) -> float:
        m = measurements[name]
        return m.row_us if prefer == "row" else m.batch_us_per_row

    best = min(cost(name) for name in measurements)
    return next(n for n in order if n in measurements and cost(n) <= best * (1 + NOISE))


def cached_choice(
    key: str, prefer: str, available: set[str], order: tuple[str, ...]
) -> Choice | None:
    """The choice stored under ``key``, if its backends are all in ``available``."""
    try:
        data = json.loads(_entry(key).read_text())
        measurements = {
            name: Measurement(float(m["row_us"]), float(m["batch_us_per_row"]))
            for name, m in data["measurements"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if data.get("version") != _VERSION or not measurements or not set(measurements) <= available:
        return None
    chosen = pick(measurements, order, prefer)
    return Choice(chosen=chosen, prefer=prefer, measurements=measurements, cached=True)


def store_choice(key: str, choice: Choice) -> None:
    """Keep ``choice``'s measurements under ``key`` (silently not, where the cache is read-only)."""
    payload = {"version": _VERSION, **choice.to_dict()}
    with contextlib.suppress(OSError):
        write_text_atomically(_entry(key), json.dumps(payload, indent=1) + "\n")


def choice_key(digest: str, threads: int, version: str) -> str:
    """The cache key of a bundle (its manifest digest) measured on this machine."""
    machine = "|".join(
        [platform.machine(), platform.processor(), str(os.cpu_count()), platform.node()]
    )
    text = "|".join([digest, machine, str(threads), version, np.__version__])
    return hashlib.sha256(text.encode()).hexdigest()


def reference_columns(bundle: Bundle) -> dict[str, list[Any]] | None:
    """The bundle's reference rows (raw training rows) as ``{column: values}``, or None."""
    if REFERENCE_ROWS not in bundle.files:
        return None
    payload = json.loads(bundle.read(REFERENCE_ROWS))
    names: list[str] = payload["columns"]
    rows: list[list[Any]] = payload["rows"]
    return {name: [row[j] for row in rows] for j, name in enumerate(names)} if rows else None


def _entry(key: str) -> Path:
    return cache_dir() / "backend-choice" / f"{key}.json"
