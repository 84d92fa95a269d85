"""Running the app under uvicorn: one process, or ``workers`` processes sharing the port.

Workers are separate processes, so uvicorn must import the app itself: the settings travel in an
environment variable and :func:`app_from_environment` rebuilds the app in each worker. Each
worker logs to the same WAL database and reports its own ``/metrics``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from edgeml.bundle import open_bundle
from edgeml.errors import ServeError
from edgeml.serve._holder import ServeSettings

__all__ = ["app_from_environment", "run"]

_SETTINGS_ENV = "EDGEML_SERVE_SETTINGS"


def run(
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "warning",
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop, SIGHUP reloads the model).

    >>> run(ServeSettings(bundle=Path("churn.edgeml")), port=8000)     # doctest: +SKIP
    """
    import uvicorn

    if workers < 1:
        raise ServeError(f"--workers: expected at least 1, got {workers}")
    if not 0 <= port <= 65535:
        raise ServeError(f"--port: expected 0..65535, got {port}")
    if workers > 1 and _has_features(settings.source()):
        raise ServeError(
            f"{settings.source()}: a model with time-series features keeps each entity's history "
            "in one process; serve it with --workers 1"
        )
    if workers == 1:
        from edgeml.serve._app import create_app

        app: Any = create_app(settings)
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
        return
    os.environ[_SETTINGS_ENV] = json.dumps(_to_json(settings))
    # Counters shared by the workers (prometheus-client's multiprocess mode): a fresh directory
    # per run, as its documentation asks, so no dead run's numbers are summed in.
    metrics_dir = tempfile.mkdtemp(prefix="edgeml-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "edgeml.serve._run:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            access_log=False,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def app_from_environment() -> Any:
    """The app for a worker process, from the settings :func:`run` left in the environment."""
    from edgeml.serve._app import create_app

    raw: dict[str, Any] = json.loads(os.environ[_SETTINGS_ENV])
    for key in ("bundle", "registry", "log"):
        if raw.get(key) is not None:
            raw[key] = Path(raw[key])
    return create_app(ServeSettings(**raw))


def _has_features(bundle: Path) -> bool:
    return bool(open_bundle(bundle, verify=False).spec.features.feature_plan.steps)


def _to_json(settings: ServeSettings) -> dict[str, Any]:
    return {
        k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(settings).items()
    }
