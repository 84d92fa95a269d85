"""The embedded demo dataset: a simulated fleet of machines reporting sensor readings.

It exists so ``edgeml demo``, the examples and the tests have realistic edge data without a
download: time series per entity, a rare label, and the faults real telemetry has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

__all__ = ["SENSORS", "sensor_fleet"]

SENSORS = ("temperature", "vibration", "pressure", "rpm", "current")

_START = np.datetime64(datetime(2024, 1, 1), "us")  # a Monday, so weekends fall on days 5, 6
_HORIZON_H = 24.0  # the label looks this far ahead

# Failure hazard per hour is exp(_HAZ_A + _HAZ_B * wear) + _HAZ_RANDOM: ~1% per hour at wear 1,
# steep beyond, so most failures come from worn machines, plus a few that strike out of the blue.
_HAZ_A = -11.6
_HAZ_B = 7.0
_HAZ_RANDOM = 1e-4


@dataclass(frozen=True)
class _MachineType:
    name: str
    temperature: float
    vibration: float
    pressure: float
    rpm: float
    current: float
    wear_rate: float  # relative speed of degradation


_TYPES = (
    _MachineType("pump", 62.0, 2.2, 6.5, 1480.0, 18.0, 1.0),
    _MachineType("compressor", 78.0, 3.4, 8.2, 2950.0, 32.0, 1.25),
    _MachineType("fan", 45.0, 1.6, 1.4, 1150.0, 9.0, 0.8),
    _MachineType("conveyor", 51.0, 2.8, 4.0, 900.0, 14.0, 1.1),
)


def sensor_fleet(
    *, n_machines: int = 40, days: int = 30, interval_minutes: int = 30, seed: int = 0
) -> pl.DataFrame:
    """Simulate ``n_machines`` machines reporting every ``interval_minutes`` for ``days`` days.

    The generative story: each machine (one of four types with their own sensor baselines, plus
    a machine-specific offset) carries a hidden wear state that grows with load and resets at
    scheduled maintenance or after a failure, which also takes the machine offline for 4-12 h.
    Failures strike with a hazard rising exponentially in wear. Vibration and temperature climb,
    vibration turns erratic and pressure sags as wear grows, on top of daily/weekly load cycles
    and sensor noise, so the current reading hints at the risk and a machine's recent history
    (rolling means, spreads, trends) reveals it better. ``failure_within_24h`` is 1 when that
    machine fails within the next 24 h.

    The telemetry has the faults of a real feed: sensor dropouts (nulls, 1-3% per sensor, some
    in runs), rare spikes (a reading 10x or 100x too large), re-sent messages (~1% exact duplicate
    rows) and late arrivals (rows ordered by arrival, so a few are out of timestamp order).

    Columns: ``timestamp`` (Datetime), ``machine_id`` ("M000"...), ``machine_type``, the Float64
    sensors ``temperature``, ``vibration``, ``pressure``, ``rpm``, ``current``, and the Int64
    label ``failure_within_24h``. The default (~56k rows, ~9% positive) is deterministic in
    ``seed``.

    Example:
        >>> df = sensor_fleet(n_machines=3, days=2, seed=1)
        >>> df.columns[:3], df.height > 250
        (['timestamp', 'machine_id', 'machine_type'], True)
    """
    if n_machines < 1 or days < 1:
        raise ValueError(f"n_machines and days must be >= 1, got {n_machines} and {days}")
    if interval_minutes < 1 or (24 * 60) % interval_minutes:
        raise ValueError(f"interval_minutes must divide a day, got {interval_minutes}")
    rng = np.random.default_rng(seed)
    parts = [
        _simulate_machine(rng, m, days=days, interval_minutes=interval_minutes)
        for m in range(n_machines)
    ]
    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    _inject_faults(rng, cols)
    return _to_frame(cols, _arrival_order(rng, cols["step"], cols["machine"]), interval_minutes)


def _simulate_machine(
    rng: np.random.Generator, m: int, *, days: int, interval_minutes: int
) -> dict[str, np.ndarray]:
    kind_idx = int(rng.integers(len(_TYPES)))
    kind = _TYPES[kind_idx]
    dt_h = interval_minutes / 60.0
    per_day = 24 * 60 // interval_minutes
    # One extra day is simulated so labels near the end see the failures that follow them.
    n_steps = (days + 1) * per_day
    hours = np.arange(n_steps) * dt_h
    hour_of_day = hours % 24
    weekday = (hours // 24) % 7

    # Load: busy days, quiet nights and weekends, and random swings lasting about half a day.
    window = max(1, per_day // 2)
    swing = np.convolve(
        rng.normal(0.0, 0.08 * np.sqrt(window), n_steps), np.ones(window) / window, "same"
    )
    load = 0.78 + 0.15 * np.sin(2 * np.pi * (hour_of_day - 9) / 24) + swing
    load = np.clip(np.where(weekday >= 5, load * 0.8, load), 0.3, 1.1)

    # Wear grows in random (gamma) increments scaled by load; ~0.1-0.2 per day on average.
    daily_rate = kind.wear_rate * rng.lognormal(np.log(0.15), 0.3)
    increments = daily_rate * dt_h / 24 * (load / 0.78) * rng.gamma(2.0, 0.5, n_steps)
    # Scheduled maintenance every 7-14 days at 08:00, the first within one period.
    maint_days = int(rng.integers(7, 15))
    first_maint = int(rng.integers(1, maint_days + 1)) * per_day + int(8 / dt_h)
    maint_steps = np.arange(first_maint, n_steps, maint_days * per_day)

    wear = np.full(n_steps, np.nan)  # NaN marks offline steps (no message sent)
    failures: list[float] = []
    start, level = 0, float(rng.uniform(0.0, 0.6))
    while start < n_steps:
        path = level + np.cumsum(increments[start:])
        # Capping wear in the exponent avoids overflow; failure is all but certain long before.
        hazard = (np.exp(_HAZ_A + _HAZ_B * np.minimum(path, 4.0)) + _HAZ_RANDOM) * dt_h
        fail = int(np.searchsorted(np.cumsum(hazard), rng.exponential()))
        k = int(np.searchsorted(maint_steps, start, side="right"))
        maint = int(maint_steps[k]) - start if k < maint_steps.size else n_steps
        end = min(fail, maint, n_steps - start)
        wear[start : start + end] = path[:end]
        if fail <= maint and start + fail < n_steps:
            failures.append(hours[start + fail] - float(rng.uniform(0.0, dt_h)))
            start += fail + max(1, round(rng.uniform(4.0, 12.0) / dt_h))  # repair offline
        else:
            start += maint + max(1, round(2.0 / dt_h))  # maintenance: 2 h offline
        level = float(rng.uniform(0.0, 0.08))

    online = ~np.isnan(wear) & (hours < days * 24)
    idx = np.flatnonzero(online)
    w, ld, hod = wear[idx], load[idx], hour_of_day[idx]
    n = idx.size
    offset = rng.normal(0.0, 1.0, 5)

    temperature = (
        kind.temperature
        + 2.5 * offset[0]
        + 3.0 * np.sin(2 * np.pi * (hod - 15) / 24)
        + 12.0 * (ld - 0.78)
        + 5.0 * w
        + rng.normal(0.0, 3.0, n)
    )
    vibration = (
        kind.vibration
        * np.exp(0.12 * offset[1])
        * (1.0 + 0.35 * w + 0.35 * w**2)
        * rng.lognormal(0.0, 0.35 + 0.25 * w)
    )
    pressure = kind.pressure * (
        1.0 + 0.04 * offset[2] - 0.07 * w + 0.05 * (ld - 0.78)
    ) + rng.normal(0.0, 0.05 * kind.pressure, n)
    rpm = kind.rpm * (1.0 + 0.01 * offset[3]) * (0.9 + 0.12 * ld) * (1.0 - 0.015 * w) + rng.normal(
        0.0, 0.01 * kind.rpm, n
    )
    current = kind.current * (1.0 + 0.05 * offset[4]) * (0.55 + 0.55 * ld) * (
        1.0 + 0.05 * w
    ) + rng.normal(0.0, 0.04 * kind.current, n)

    fail_h = np.asarray(failures)
    t = hours[idx]
    nxt = np.searchsorted(fail_h, t, side="right")
    has_next = nxt < fail_h.size
    label = np.zeros(n, dtype=np.int64)
    label[has_next] = fail_h[nxt[has_next]] - t[has_next] <= _HORIZON_H

    return {
        "step": idx.astype(np.int64),
        "machine": np.full(n, m, dtype=np.int64),
        "kind": np.full(n, kind_idx, dtype=np.int64),
        "temperature": temperature,
        "vibration": vibration,
        "pressure": pressure,
        "rpm": rpm,
        "current": current,
        "label": label,
    }


def _inject_faults(rng: np.random.Generator, cols: dict[str, np.ndarray]) -> None:
    """Spikes, then dropouts (as NaN, turned into nulls later), in place."""
    n = cols["step"].size
    machine = cols["machine"]
    for name in SENSORS:
        values = cols[name]
        spikes = rng.random(n) < 0.0008
        values[spikes] *= 10.0 ** rng.integers(1, 3, int(spikes.sum()))  # a decimal slip
        # Isolated dropouts plus runs of a sensor going quiet for a while (1.5-6 h).
        missing = rng.random(n) < rng.uniform(0.004, 0.012)
        run_starts = np.flatnonzero(rng.random(n) < rng.uniform(0.0008, 0.002))
        for s in run_starts:
            stop = min(n, s + int(rng.integers(3, 13)))
            missing[s:stop] |= machine[s:stop] == machine[s]
        values[missing] = np.nan


def _arrival_order(rng: np.random.Generator, step: np.ndarray, machine: np.ndarray) -> np.ndarray:
    """Row order of the feed: by arrival, with ~1% re-sent duplicates and a few late rows."""
    n = step.size
    dup = np.flatnonzero(rng.random(n) < 0.01)
    rows = np.concatenate([np.arange(n), dup])
    delay = np.zeros(rows.size)
    late = rng.random(n) < 0.003
    delay[:n][late] = rng.integers(1, 5, int(late.sum()))
    delay[n:] = rng.integers(1, 7, dup.size)
    arrival = step[rows] + delay
    order = np.lexsort((machine[rows], arrival))
    return rows[order]


def _to_frame(cols: dict[str, np.ndarray], rows: np.ndarray, interval_minutes: int) -> pl.DataFrame:
    timestamps = _START + (cols["step"][rows] * interval_minutes).astype("timedelta64[m]")
    names = np.array([t.name for t in _TYPES])
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(timestamps, dtype=pl.Datetime("us")),
            "machine_id": pl.Series([f"M{m:03d}" for m in cols["machine"][rows]], dtype=pl.String),
            "machine_type": pl.Series(names[cols["kind"][rows]], dtype=pl.String),
            **{s: pl.Series(cols[s][rows], dtype=pl.Float64) for s in SENSORS},
            "failure_within_24h": pl.Series(cols["label"][rows], dtype=pl.Int64),
        }
    )
    return frame.with_columns(pl.col(SENSORS).fill_nan(None))
