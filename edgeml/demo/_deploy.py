"""The demo's last stage: compile the model, serve it over HTTP on loopback, send it the newest
readings (which training never saw) as a client would, return their true labels through
``/feedback``, and read the monitor.

Everything is the real thing — edgeml's own engine (``export --format native``), uvicorn on
127.0.0.1, the SQLite log — so the demo shows what a device box would run, end to end, in a few
seconds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from edgeml.compile import export
from edgeml.errors import ServeError
from edgeml.monitor import monitor_summary
from edgeml.serve import ServeSettings, create_app
from edgeml.util.progress import SILENT, Reporter

__all__ = ["deploy_demo"]


def deploy_demo(
    bundle: Path, frame: pl.DataFrame, target: str, *, reporter: Reporter = SILENT
) -> dict[str, Any]:
    """Export ``bundle`` to the native engine, serve it, send the rows of ``frame`` in time order
    one request each (as the machines would), return their labels, and summarise the
    prediction log."""
    reporter.status("compiling the model with edgeml's native engine")
    compiled = export(bundle, format="native", reporter=reporter)
    log = bundle.with_name(bundle.name + ".log.db")
    with _serving(ServeSettings(bundle=bundle, log=log)) as url, httpx.Client(base_url=url) as http:
        columns = [c["name"] for c in http.get("/schema").json()["inputs"]]
        recent = frame.sort("timestamp", maintain_order=True)
        records = [
            {c: _json_value(row[c]) for c in columns} for row in recent.iter_rows(named=True)
        ]
        labels = recent[target].to_list()
        reporter.status(f"serving it on loopback and sending {len(records)} requests")
        for i, record in enumerate(records):
            response = http.post("/predict", json=record, headers={"x-request-id": f"demo-{i}"})
            response.raise_for_status()
        feedback = [{"request_id": f"demo-{i}", "label": label} for i, label in enumerate(labels)]
        http.post("/feedback", json=feedback).raise_for_status()
        backend = http.get("/ready").json()["backend"]
    summary = monitor_summary(bundle, log=log).to_dict()
    return {
        "backend": backend,
        "library_bytes": compiled.info.get("size_bytes"),
        "requests": len(records),
        "log": str(log),
        "monitor": summary,
    }


@contextlib.contextmanager
def _serving(settings: ServeSettings) -> Iterator[str]:
    """uvicorn in a background thread on a free loopback port, stopped (log flushed) on exit."""
    import uvicorn

    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="edgeml-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServeError("the demo server did not start on 127.0.0.1")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value
