"""Stage 6c: serve a bundle over HTTP, log every prediction, and watch it live.

``edgeml serve BUNDLE`` runs :func:`create_app` under uvicorn: ``POST /predict``,
``POST /predict/batch``, ``POST /feedback``, ``GET /health``, ``/ready``, ``/schema``,
``/metrics`` (Prometheus), ``POST /admin/reload`` (token), and ``/openapi.json`` generated from
the bundle's input schema. Predictions go to a SQLite log beside the bundle
(:mod:`edgeml.serve._logschema`), which ``edgeml monitor`` reads.

>>> from edgeml.serve import ServeSettings, create_app                      # doctest: +SKIP
>>> app = create_app(ServeSettings(bundle=Path("churn.edgeml")))            # doctest: +SKIP
"""

from edgeml.serve._app import create_app
from edgeml.serve._holder import ServeSettings
from edgeml.serve._logschema import default_log_path
from edgeml.serve._run import run

__all__ = ["ServeSettings", "create_app", "default_log_path", "run"]
