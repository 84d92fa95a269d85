"""Live monitoring inside the server: drift and live accuracy computed when ``/metrics`` is
scraped (at most every few seconds), from the last ``[monitor] window`` rows of the prediction
log — the numbers ``edgeml monitor`` reports, the same for every worker process.

Requests do nothing for it beyond logging; the work (reading the window back, the prep
transform, PSI) happens on the scrape, in the thread pool.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np

from edgeml.config import MonitorConfig
from edgeml.errors import EdgeMLError
from edgeml.monitor import (
    LogWindow,
    feature_drift,
    labelled_rows,
    prediction_drift,
    raw_columns,
    read_window,
)
from edgeml.serve._holder import ModelHolder
from edgeml.serve._log import PredictionLog
from edgeml.serve._served import ServedModel

__all__ = ["Watch"]

Gauges = dict[str, tuple[str, dict[tuple[str, ...], float], tuple[str, ...]]]
_CACHE_SECONDS = 2.0


class Watch:
    """Recent traffic of the served model and the gauges ``/metrics`` shows for it."""

    def __init__(self, holder: ModelHolder, log: PredictionLog, config: MonitorConfig) -> None:
        self.holder = holder
        self.log = log
        self.config = config
        self._lock = threading.Lock()
        self._cached: tuple[float, Gauges] | None = None

    def gauges(self) -> Gauges:
        """The scrape-time metric families (cached for a couple of seconds)."""
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > _CACHE_SECONDS:
                self._cached = (now, self._compute())
            return self._cached[1]

    # -- computing ---------------------------------------------------------------------------

    def _compute(self) -> Gauges:
        served = self.holder.current
        log = self.log
        gauges: Gauges = {
            "edgeml_model_ready": (
                "1 if the served model passed its checks.",
                {(served.version, served.backend): float(served.ready)},
                ("model_version", "backend"),
            ),
            "edgeml_log_rows_written": (
                "Prediction rows written to the log.",
                {(): float(log.written)},
                (),
            ),
            "edgeml_log_rows_dropped": (
                "Prediction rows the log could not keep.",
                {(): float(log.dropped)},
                (),
            ),
            "edgeml_log_rows_duplicate": (
                "Rows not logged because their X-Request-ID was used before.",
                {(): float(log.duplicates)},
                (),
            ),
            "edgeml_log_errors": (
                "Errors writing the prediction log.",
                {(): float(log.errors)},
                (),
            ),
        }
        window = self._window()
        if window is None:
            return gauges
        mine = [i for i, version in enumerate(window.model_version) if version == served.version]
        gauges["edgeml_window_rows"] = (
            "Rows of the served model in the window.",
            {(): float(len(mine))},
            (),
        )
        if mine:
            records = [window.inputs[i] for i in mine]
            gauges.update(self._drift(served, records, window.score[mine]))
        gauges.update(self._accuracy(served, window))
        return gauges

    def _window(self) -> LogWindow | None:
        if not self.log.path.is_file():
            return None
        self.log.guard()  # this read maps the same WAL index as the writer
        try:
            return read_window(self.log.path, self.config.window)
        except EdgeMLError:
            return None

    def _drift(
        self, served: ServedModel, records: list[dict[str, Any]], scores: np.ndarray
    ) -> Gauges:
        prep = served.predictor.prep
        columns = {name: [r.get(name) for r in records] for name in prep.input_schema}
        try:
            matrix = prep.transform(columns)
        except EdgeMLError:  # a row the model refused never reaches the window; be safe anyway
            return {}
        monitoring = served.manifest.monitoring
        baselines = monitoring.feature_baselines()
        raw = raw_columns(baselines, records)
        drift = feature_drift(baselines, matrix, list(prep.features), self.config, raw=raw)
        out: Gauges = {
            "edgeml_feature_psi": (
                "PSI of each feature over the window vs training.",
                {(n,): _finite(d.psi) for n, d in drift.items()},
                ("feature",),
            ),
            "edgeml_feature_missing_share": (
                "Share of missing values per feature in the window.",
                {(n,): _finite(d.missing) for n, d in drift.items()},
                ("feature",),
            ),
            "edgeml_feature_out_of_range_share": (
                "Share of values per feature outside what training had (range, value, category).",
                {(n,): _finite(d.out_of_range) for n, d in drift.items()},
                ("feature",),
            ),
            "edgeml_features_drifted": (
                "Features whose drift status is alert.",
                {(): float(sum(d.status == "alert" for d in drift.values()))},
                (),
            ),
        }
        baseline = monitoring.prediction_baseline()
        if baseline:
            prediction = prediction_drift(baseline, scores, self.config)
            out["edgeml_prediction_psi"] = (
                "PSI of the prediction over the window vs training.",
                {(): _finite(prediction.psi)},
                (),
            )
        return out

    def _accuracy(self, served: ServedModel, window: LogWindow) -> Gauges:
        labelled = labelled_rows(window, served.predictor.task, served.predictor.classes)
        if labelled.rows.size == 0:
            return {"edgeml_labelled_rows": ("Labelled rows in the window.", {(): 0.0}, ())}
        holdout = served.manifest.metrics.holdout_values()
        live = labelled.accuracy(holdout, self.config, None)
        values: dict[tuple[str, ...], float] = {
            (name,): _finite(value) for name, value in live.metrics.items()
        }
        return {
            "edgeml_labelled_rows": (
                "Labelled rows in the window.",
                {(): float(labelled.rows.size)},
                (),
            ),
            "edgeml_live_metric": (
                "Metrics on the labelled rows of the window.",
                values,
                ("metric",),
            ),
            "edgeml_live_accuracy_alert": (
                "1 if the live primary metric fell too far.",
                {(): float(live.alert)},
                (),
            ),
        }


def _finite(value: float) -> float:
    return value if math.isfinite(value) else math.nan
