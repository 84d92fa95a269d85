"""Prometheus metrics of one server: traffic and latency counted per request, drift and live
accuracy computed when ``/metrics`` is scraped.

Each app has its own :class:`~prometheus_client.CollectorRegistry`, so several apps in one
process (tests) do not share counters. With ``--workers N`` the counters live in
prometheus-client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, set by
:func:`edgeml.serve.run`) and every worker's ``/metrics`` sums all of them; the scrape-time
gauges come from the shared prediction log, so any worker gives the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["ServerMetrics", "multiprocess_mode", "worker_exited"]

# The ``*_created`` timestamp series double the output and no dashboard of ours reads them.
disable_created_metrics()

# Single rows take tens of microseconds end to end; big batches take up to seconds.
_LATENCY_BUCKETS = (
    50e-6,
    100e-6,
    200e-6,
    500e-6,
    1e-3,
    2e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class ServerMetrics:
    """The counters and histograms a request updates, plus scrape-time gauges.

    ``gauges`` returns ``{metric name: (help, {label tuple: value}, label names)}`` and is called
    on each scrape (drift and live accuracy are computed then, not per request).
    """

    def __init__(
        self,
        gauges: Callable[[], dict[str, tuple[str, dict[tuple[str, ...], float], tuple[str, ...]]]],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "edgeml_requests",
            "HTTP requests by endpoint and status code.",
            ("endpoint", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "edgeml_request_latency_seconds",
            "Time to answer a request, by endpoint.",
            ("endpoint",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "edgeml_predictions",
            "Rows predicted, by model version.",
            ("model_version",),
            registry=self.registry,
        )
        self.reloads = Counter(
            "edgeml_reloads",
            "Model reloads by result (ok or refused).",
            ("result",),
            registry=self.registry,
        )
        self.feedback = Counter(
            "edgeml_feedback_labels",
            "True labels attached through /feedback.",
            registry=self.registry,
        )
        self.unseen = Counter(
            "edgeml_unseen_categories",
            "Values of a categorical column training never saw (predicted as missing).",
            ("column",),
            registry=self.registry,
        )
        self.ignored = Counter(
            "edgeml_ignored_columns",
            "Values of columns the model does not read (extra columns, the target), ignored.",
            ("column",),
            registry=self.registry,
        )
        self._scrape_time = _ScrapeTime(gauges)
        self.registry.register(self._scrape_time)

    def exposition(self) -> bytes:
        """The text ``/metrics`` answers with (every worker's counters in multiprocess mode)."""
        if not multiprocess_mode():
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(self._scrape_time)
        return generate_latest(registry)


def multiprocess_mode() -> bool:
    """Whether counters go to shared files (several worker processes)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def worker_exited() -> None:
    """Tell the multiprocess files this worker is gone (its live gauges stop counting)."""
    if multiprocess_mode():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


class _ScrapeTime(Collector):
    def __init__(self, gauges: Callable[[], dict[str, Any]]) -> None:
        self._gauges = gauges

    def collect(self) -> Iterator[Metric]:
        for name, (text, values, labels) in self._gauges().items():
            family = GaugeMetricFamily(name, text, labels=list(labels))
            for key, value in values.items():
                family.add_metric(list(key), value)
            yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())  # values are computed on scrape only
