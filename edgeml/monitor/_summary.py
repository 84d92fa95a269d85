"""``edgeml monitor``'s numbers: what the last N logged predictions say about a served model.

Traffic (rows, requests, throughput, latency percentiles per request, backends and model
versions), drift of every model feature and of the prediction against the training baselines,
live metrics on the rows that got a label back, alerts, and the same over time in buckets.

A missing log is an error (nothing was served yet); an empty one is a summary with
``rows == 0`` and no alerts: a server that has just started is not a fault.

>>> summary = monitor_summary("churn.edgeml")                              # doctest: +SKIP
>>> summary.rows, summary.drifted, summary.alerts                          # doctest: +SKIP
(10000, True, ["feature 'tenure': PSI 0.412 ≥ 0.25"])
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeml.bundle import open_bundle
from edgeml.config import Config, MonitorConfig
from edgeml.errors import ConfigError, EdgeMLError
from edgeml.monitor._drift import (
    FeatureDrift,
    PredictionDrift,
    feature_drift,
    prediction_drift,
    raw_columns,
)
from edgeml.monitor._labels import labelled_rows
from edgeml.monitor._live import LiveAccuracy
from edgeml.monitor._log import LogWindow, read_window
from edgeml.monitor._logschema import default_log_path
from edgeml.monitor._series import Bucket, time_buckets
from edgeml.runtime import RuntimePrep
from edgeml.spec.feature_plan import FeaturePlan, TargetHistoryStep

__all__ = ["MonitorSummary", "monitor_config", "monitor_summary"]

_PERCENTILES = (50, 95, 99)
_LATENCY_BINS = 30


@dataclass(frozen=True, kw_only=True)
class MonitorSummary:
    """Everything ``edgeml monitor`` shows; :meth:`to_dict` is its ``--json`` object."""

    bundle: str
    log: str
    task: str
    target: str
    classes: list[Any] | None
    config: MonitorConfig
    window: int
    generated_at: float
    rows: int
    requests: int
    start: float | None
    end: float | None
    rows_per_s: float | None
    requests_per_s: float | None
    latency_us: dict[str, float]
    latency_histogram: dict[str, list[float]]
    backends: dict[str, int]
    model_versions: dict[str, int]
    unreadable_rows: int
    features: dict[str, FeatureDrift]
    prediction: PredictionDrift | None
    live: LiveAccuracy
    unknown_labels: int
    alerts: list[str]
    warnings: list[str]
    drifted: bool
    accuracy_alert: bool
    series: list[Bucket]

    def top_features(self, n: int = 12) -> list[FeatureDrift]:
        """The ``n`` features with the largest PSI (no-data ones last), for tables and plots."""
        ranked = sorted(
            self.features.values(), key=lambda d: -d.psi if math.isfinite(d.psi) else math.inf
        )
        return ranked[:n]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe nested dicts (NaN and infinities as ``None``)."""
        span = None if self.start is None or self.end is None else self.end - self.start
        return _clean(
            {
                "bundle": self.bundle,
                "log": self.log,
                "task": self.task,
                "target": self.target,
                "window": self.window,
                "generated_at": self.generated_at,
                "rows": self.rows,
                "requests": self.requests,
                "start": self.start,
                "end": self.end,
                "span_s": span,
                "rows_per_s": self.rows_per_s,
                "requests_per_s": self.requests_per_s,
                "latency_us": self.latency_us,
                "latency_histogram": self.latency_histogram,
                "backends": self.backends,
                "model_versions": self.model_versions,
                "unreadable_rows": self.unreadable_rows,
                "drifted": self.drifted,
                "accuracy_alert": self.accuracy_alert,
                "alerts": self.alerts,
                "warnings": self.warnings,
                "features": {k: v.to_dict() for k, v in self.features.items()},
                "prediction": None if self.prediction is None else self.prediction.to_dict(),
                "live": {**self.live.to_dict(), "unknown_labels": self.unknown_labels},
                "thresholds": dataclasses.asdict(self.config),
                "series": [b.to_dict() for b in self.series],
            }
        )


def monitor_config(raw: dict[str, Any]) -> MonitorConfig:
    """The ``[monitor]`` settings in a manifest's ``config`` (the settings a bundle was trained
    with); the defaults for older bundles.

    >>> monitor_config({}).psi_alert
    0.25
    """
    try:
        return Config.from_dict(raw, source="manifest config").monitor
    except (ConfigError, TypeError, AttributeError):
        # A bundle from another edgeml version may carry keys this one rejects elsewhere in
        # its config; its [monitor] section alone may still be usable.
        try:
            return Config.from_dict({"monitor": raw.get("monitor", {})}).monitor
        except (ConfigError, TypeError, AttributeError):
            return MonitorConfig()


def monitor_summary(
    bundle: str | Path,
    *,
    log: str | Path | None = None,
    window: int | None = None,
    config: MonitorConfig | None = None,
    now: float | None = None,
) -> MonitorSummary:
    """Summarise the last ``window`` rows of the prediction log of ``bundle``.

    ``log`` defaults to ``NAME.edgeml.log.db`` beside the bundle, ``config`` to the bundle's
    ``[monitor]`` settings and ``window`` to their ``window``; ``now`` (unix seconds) stamps the
    summary.

    >>> monitor_summary("churn.edgeml", window=5000).to_dict()["drifted"]     # doctest: +SKIP
    False
    """
    bundle = Path(bundle)
    manifest = open_bundle(bundle).spec
    config = config or monitor_config(manifest.config)
    size = config.window if window is None else window
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"window: expected a positive number of rows, got {size!r}")
    config = dataclasses.replace(config, window=size)
    log_path = Path(log) if log is not None else default_log_path(bundle)
    data = read_window(log_path, size)
    task = manifest.task
    classes = manifest.classes
    baselines = manifest.monitoring.feature_baselines()
    prep = RuntimePrep.from_manifest(manifest, source=str(bundle))
    names = list(prep.features)
    matrix, unreadable = _feature_matrix(prep, data)
    raw = raw_columns(baselines, data.inputs)
    features = feature_drift(baselines, matrix, names, config, raw=raw)
    pred_base = manifest.monitoring.prediction_baseline()
    prediction = prediction_drift(pred_base, data.score, config) if pred_base else None
    holdout = manifest.metrics.holdout_values()
    primary = manifest.metrics.primary
    labelled = labelled_rows(data, task, classes)
    live = labelled.accuracy(holdout, config, primary)
    alerts, warnings = _messages(features, prediction, live)
    labels = int(np.count_nonzero(data.labelled))
    stale = labels_stale(manifest.features.feature_plan, data.rows, labels)
    if stale:
        warnings.append(stale)
    series = time_buckets(
        data, matrix, names, baselines, pred_base, labelled,
        holdout=holdout, config=config, primary=primary, raw=raw,
    )  # fmt: skip
    start, end = (float(data.ts.min()), float(data.ts.max())) if data.rows else (None, None)
    span = (end - start) if start is not None and end is not None else 0.0
    return MonitorSummary(
        bundle=str(bundle), log=str(log_path), task=task,
        target=manifest.target.name, classes=classes, config=config,
        window=size, generated_at=time.time() if now is None else float(now), rows=data.rows,
        requests=data.requests, start=start, end=end,
        rows_per_s=data.rows / span if span > 0 else None,
        requests_per_s=data.requests / span if span > 0 else None,
        latency_us=_latency(data), latency_histogram=_latency_histogram(data),
        backends=dict(Counter(data.backend)),
        model_versions=dict(Counter(data.model_version)), unreadable_rows=unreadable,
        features=features, prediction=prediction, live=live, unknown_labels=labelled.unknown,
        alerts=alerts, warnings=warnings,
        drifted=any(d.status == "alert" for d in features.values())
        or (prediction is not None and prediction.status == "alert"),
        accuracy_alert=live.alert, series=series,
    )  # fmt: skip


def _feature_matrix(prep: RuntimePrep, data: LogWindow) -> tuple[np.ndarray, int]:
    """The logged inputs as model features; a record the prep plan refuses becomes a row of NaN
    (counted as unreadable) instead of failing the summary."""
    schema = list(prep.input_schema)
    # A key absent from a record is a missing value, as the server treats it.
    columns = {c: [record.get(c) for record in data.inputs] for c in schema}
    try:
        return prep.transform(columns), 0
    except EdgeMLError:
        pass
    matrix = np.full((data.rows, len(prep.features)), np.nan)
    unreadable = 0
    for i, record in enumerate(data.inputs):
        try:
            matrix[i] = prep.transform_row({c: record.get(c) for c in schema})
        except EdgeMLError:
            unreadable += 1
    return matrix, unreadable


def _latency(data: LogWindow) -> dict[str, float]:
    latency = data.request_latency()
    if latency.size == 0:
        return {}
    values = np.percentile(latency, _PERCENTILES)
    out = {f"p{q}": float(v) for q, v in zip(_PERCENTILES, values, strict=True)}
    return {**out, "mean": float(latency.mean()), "max": float(latency.max())}


def _latency_histogram(data: LogWindow) -> dict[str, list[float]]:
    """Counts of request latencies in bins equal on a log scale (latency has a long tail)."""
    latency = data.request_latency()
    latency = latency[np.isfinite(latency) & (latency > 0)]
    if latency.size == 0:
        return {"edges": [], "counts": []}
    low, high = float(latency.min()), float(latency.max())
    edges = np.geomspace(low, high, _LATENCY_BINS + 1) if high > low else np.array([low, high])
    counts, _ = np.histogram(latency, bins=edges)
    return {"edges": edges.tolist(), "counts": counts.astype(float).tolist()}


def labels_stale(plan: FeaturePlan, rows: int, labelled: int) -> str | None:
    """The warning for a model whose features (``plan``) need past labels (target history)
    when fewer than half the logged rows got one back, else None."""
    if (
        rows < 20
        or labelled >= rows / 2
        or not any(isinstance(s, TargetHistoryStep) for s in plan.steps)
    ):
        return None
    return (
        f"labels_stale: the model's features use past labels and only {labelled} of {rows} "
        "logged rows got one back (POST /feedback): its target history is mostly missing"
    )


def _messages(
    features: dict[str, FeatureDrift], prediction: PredictionDrift | None, live: LiveAccuracy
) -> tuple[list[str], list[str]]:
    """Alerts and warnings as one line each, the worst features first."""
    alerts: list[str] = []
    warnings: list[str] = []
    ranked = sorted(features.values(), key=lambda d: -d.psi if math.isfinite(d.psi) else 0.0)
    for drift in [*ranked, *([prediction] if prediction is not None else [])]:
        what = "prediction" if isinstance(drift, PredictionDrift) else f"feature {drift.name!r}"
        if drift.status == "too few rows":  # a verdict on a handful of rows is noise
            continue
        target = alerts if drift.status == "alert" else warnings
        target.extend(f"{what}: {reason}" for reason in drift.reasons)
    if live.alert:
        alerts.append(f"accuracy: {live.reason}")
    return alerts, warnings


def _clean(value: Any) -> Any:
    """Nested data made JSON-safe: NaN/inf → None, NumPy scalars → Python ones."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
