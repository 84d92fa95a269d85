"""Stage 6c: serve a bundle over HTTP, log every prediction, and watch it live.

``edgeml serve BUNDLE`` runs :func:`create_app` under uvicorn: ``POST /predict``,
``POST /predict/batch``, ``POST /feedback``, ``GET /health``, ``/ready``, ``/schema``,
``/metrics`` (Prometheus), ``POST /admin/reload`` (token), and ``/openapi.json`` generated from
the bundle's input schema. Predictions go to a SQLite log beside the bundle
(:func:`edgeml.monitor.connect_log`), which ``edgeml monitor`` reads.

>>> from edgeml.serve import ServeSettings, create_app                      # doctest: +SKIP
>>> app = create_app(ServeSettings(bundle=Path("churn.edgeml")))            # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeml.util.lazy import lazy_exports

if TYPE_CHECKING:
    from edgeml.monitor import default_log_path
    from edgeml.serve._app import create_app
    from edgeml.serve._holder import ServeSettings
    from edgeml.serve._run import run

__all__ = ["ServeSettings", "create_app", "default_log_path", "run"]

# Imported on first use (PEP 562): the monitor reads the log schema without loading FastAPI.
_HOME = {
    "ServeSettings": "edgeml.serve._holder",
    "create_app": "edgeml.serve._app",
    "default_log_path": "edgeml.monitor",
    "run": "edgeml.serve._run",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
