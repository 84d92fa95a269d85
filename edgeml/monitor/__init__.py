"""Stage 6d: keep a deployed model healthy — monitoring, retraining and the model registry.

:func:`monitor_summary` reads the prediction log ``edgeml serve`` writes and compares recent
inputs and predictions with the training baselines in the manifest (PSI, missing and
out-of-range shares), computes live metrics on rows that got labels through ``/feedback`` and
latency percentiles; :func:`write_monitor_report` draws it as one HTML file.

>>> from edgeml.maintain import monitor_summary                           # doctest: +SKIP
>>> summary = monitor_summary("churn.edgeml")                             # doctest: +SKIP
>>> summary.drifted, summary.to_dict()["latency_us"]["p99"]               # doctest: +SKIP
(False, 412.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeml._lazy import lazy_exports

if TYPE_CHECKING:
    from edgeml.maintain._monitor_report import write_monitor_report
    from edgeml.maintain._summary import MonitorSummary, monitor_summary

__all__ = ["MonitorSummary", "monitor_summary", "write_monitor_report"]

# Imported on first use (PEP 562): the server imports the drift modules only, without the
# training stack that retraining needs.
_HOME = {
    "MonitorSummary": "edgeml.maintain._summary",
    "monitor_summary": "edgeml.maintain._summary",
    "write_monitor_report": "edgeml.maintain._monitor_report",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
