"""Stage 6d, monitor: drift, live accuracy and latency of a served model, from its prediction log.

:func:`monitor_summary` reads the prediction log ``edgeml serve`` writes and compares recent
inputs and predictions with the training baselines in the manifest (PSI, missing and
out-of-range shares), computes live metrics on rows that got labels through ``/feedback`` and
latency percentiles; :func:`write_monitor_report` draws it as one HTML file.

>>> from edgeml.monitor import monitor_summary                           # doctest: +SKIP
>>> summary = monitor_summary("churn.edgeml")                             # doctest: +SKIP
>>> summary.drifted, summary.to_dict()["latency_us"]["p99"]               # doctest: +SKIP
(False, 412.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeml.util.lazy import lazy_exports

if TYPE_CHECKING:
    from edgeml.monitor._drift import feature_drift, prediction_drift, raw_columns
    from edgeml.monitor._labels import labelled_rows
    from edgeml.monitor._log import LogWindow, read_window
    from edgeml.monitor._logschema import (
        connect_log,
        default_log_path,
        recent_inputs,
        recent_readings,
    )
    from edgeml.monitor._report import write_monitor_report
    from edgeml.monitor._summary import MonitorSummary, monitor_summary
    from edgeml.monitor._view import show_monitor

__all__ = [
    "LogWindow",
    "MonitorSummary",
    "connect_log",
    "default_log_path",
    "feature_drift",
    "labelled_rows",
    "monitor_summary",
    "prediction_drift",
    "raw_columns",
    "read_window",
    "recent_inputs",
    "recent_readings",
    "show_monitor",
    "write_monitor_report",
]

# Imported on first use (PEP 562): the server imports the log and drift modules only, without
# the report's HTML and plot helpers (and what they import). The prediction log (written by
# edgeml.serve, read here) and the drift and label readers the server's live watch shares are
# public names too.
_HOME = {
    "LogWindow": "edgeml.monitor._log",
    "read_window": "edgeml.monitor._log",
    "connect_log": "edgeml.monitor._logschema",
    "default_log_path": "edgeml.monitor._logschema",
    "recent_inputs": "edgeml.monitor._logschema",
    "recent_readings": "edgeml.monitor._logschema",
    "feature_drift": "edgeml.monitor._drift",
    "prediction_drift": "edgeml.monitor._drift",
    "raw_columns": "edgeml.monitor._drift",
    "labelled_rows": "edgeml.monitor._labels",
    "MonitorSummary": "edgeml.monitor._summary",
    "monitor_summary": "edgeml.monitor._summary",
    "write_monitor_report": "edgeml.monitor._report",
    "show_monitor": "edgeml.monitor._view",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOME)
