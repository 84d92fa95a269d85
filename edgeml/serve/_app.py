"""The ASGI app: FastAPI routes over one :class:`ModelHolder`, a prediction log and metrics.

FastAPI (on Starlette, served by uvicorn) because the API's contract comes from the bundle: the
request models are pydantic models built from the input schema, and FastAPI turns them into the
OpenAPI document and its 422 errors without code of ours. Bodies are validated against the model
being served *now* (a reload may change the schema), so routes read raw bodies and validate them
with the current model; the OpenAPI document is rebuilt after each reload.

>>> app = create_app(ServeSettings(bundle=Path("churn.edgeml")))   # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)                   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import re
import signal
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from edgeml.config import Config, MonitorConfig
from edgeml.errors import BundleError, ConfigError
from edgeml.monitor import recent_readings
from edgeml.serve._bodies import BadRequest, parse_json
from edgeml.serve._holder import ModelHolder, ServeSettings
from edgeml.serve._limit import BodyLimit
from edgeml.serve._log import PredictionLog
from edgeml.serve._metrics import ServerMetrics, worker_exited
from edgeml.serve._observe import Observe
from edgeml.serve._openapi import openapi_document
from edgeml.serve._predict import Predictions
from edgeml.serve._served import ServedModel
from edgeml.serve._watch import Watch
from edgeml.spec.manifest import Manifest

__all__ = ["create_app"]

_WARM_ROWS = 50_000  # logged readings replayed into a featured model's entity histories
_INLINE_BYTES = 256 * 1024  # larger JSON bodies are parsed in the thread pool, off the loop
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def create_app(settings: ServeSettings) -> FastAPI:
    """The server for ``settings``: loads and checks the model now, raising if it cannot serve."""
    log_path = settings.log_path()

    def warm(served: ServedModel) -> None:
        # A model with time-series features starts from the entities' logged readings and the
        # labels fed back for them, not cold: after a restart or a reload the next reading gets
        # its full history, past labels included.
        if served.stream is not None:
            log.flush()
            served.warm(recent_readings(log_path, _WARM_ROWS))

    holder = ModelHolder(settings, prepare=warm)
    config = _monitor_config(holder.current.manifest)
    log = PredictionLog(
        log_path,
        max_rows=config.log_max_rows,
        max_bytes=int(config.log_max_mb * 2**20),
    )
    holder.warm_up()
    watch = Watch(holder, log, config)
    metrics = ServerMetrics(watch.gauges)
    predictions = Predictions(holder, log, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _freeze_heap()
        tasks = [asyncio.create_task(_follow(holder, app, metrics, settings.poll_seconds))]
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # SIGHUP reloads, as daemons do; only possible from the main thread.
            loop.add_signal_handler(
                signal.SIGHUP,
                lambda: tasks.append(asyncio.ensure_future(_reload_quietly(holder, app, metrics))),
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await run_in_threadpool(log.close)
            worker_exited()

    app = FastAPI(
        title=f"edgeml: {holder.current.schema()['target'] or 'model'}",
        version=holder.current.version,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.holder, app.state.log, app.state.watch = holder, log, watch

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"error": str(exc), "detail": exc.errors}, status_code=exc.status)

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        """One record (a JSON object) or several (a JSON array) → predictions.

        With ``?explain=true`` each prediction also holds ``contrib_<feature>`` and
        ``contrib_bias``: exact TreeSHAP contributions that sum to the raw score.
        """
        request_id = _request_id(request)
        explain = request.query_params.get("explain", "false").lower() in ("true", "1", "yes")
        raw = await request.body()
        body = (
            parse_json(raw)
            if len(raw) <= _INLINE_BYTES
            else await run_in_threadpool(parse_json, raw)
        )
        return _json(await predictions.records(body, request_id, explain=explain), request_id)

    @app.post("/predict/batch")
    async def predict_batch(request: Request) -> JSONResponse:
        """Columnar JSON, CSV or Arrow IPC → one column per output."""
        request_id = _request_id(request)
        content_type = request.headers.get("content-type", "application/json")
        answer = await predictions.batch(await request.body(), content_type, request_id)
        return _json(answer, request_id)

    @app.post("/feedback")
    async def feedback(request: Request) -> JSONResponse:
        """True labels for logged predictions: ``{"request_id", "row", "label"}`` or a list."""
        return JSONResponse(await predictions.feedback(parse_json(await request.body())))

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: the model is loaded, verified and parity-checked."""
        served = holder.current
        body = {
            "status": "ready" if served.ready else "not ready",
            "model_version": served.version,
            "backend": served.backend,
            "checks": served.checks,
        }
        labels = served.labels()
        if labels is not None:  # still ready: it predicts, from less history
            body["labels"] = labels
            if "warning" in labels:
                body["warning"] = labels["warning"]
        return JSONResponse(body, status_code=200 if served.ready else 503)

    @app.get("/schema")
    async def schema() -> dict[str, Any]:
        """The input columns (type, role, categories), task and outputs of the served model."""
        return holder.current.schema()

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        """Prometheus text format: traffic, latency, log health, drift and live accuracy."""
        content = await run_in_threadpool(metrics.exposition)
        return Response(content, media_type=CONTENT_TYPE_LATEST)

    @app.post("/admin/reload")
    async def reload(request: Request) -> JSONResponse:
        """Load the bundle (or the registry's current version) again; needs the admin token."""
        _authorize(request, settings.admin_token)
        old, new = await _reload(holder, app, metrics)
        return JSONResponse(
            {
                "previous": old.version,
                "model_version": new.version,
                "backend": new.backend,
                "checks": new.checks,
            }
        )

    @app.exception_handler(BundleError)
    async def refused(_: Request, exc: BundleError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=409)

    app.openapi = lambda: _openapi(app, holder)  # type: ignore[method-assign]

    app.add_middleware(Observe, metrics=metrics)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


async def _reload(holder: ModelHolder, app: FastAPI, metrics: ServerMetrics) -> Any:
    try:
        old, new = await run_in_threadpool(holder.reload)
    except BundleError:
        metrics.reloads.labels("refused").inc()
        raise
    metrics.reloads.labels("ok").inc()
    _freeze_heap()
    app.openapi_schema = None
    app.version = new.version
    return old, new


async def _reload_quietly(holder: ModelHolder, app: FastAPI, metrics: ServerMetrics) -> None:
    """A reload nobody waits for (SIGHUP, the registry poller): a refusal is counted in
    ``edgeml_reloads{result="refused"}`` and the old model keeps serving."""
    with contextlib.suppress(BundleError):
        await _reload(holder, app, metrics)


async def _follow(holder: ModelHolder, app: FastAPI, metrics: ServerMetrics, every: float) -> None:
    """Reload when the registry's ``current`` pointer moves (a no-op for a plain bundle)."""
    if holder.settings.pointer() is None:
        return
    while True:
        await asyncio.sleep(every)
        if holder.changed():
            await _reload_quietly(holder, app, metrics)


def _freeze_heap() -> None:
    # Everything loaded so far (FastAPI, pydantic, NumPy, the model) lives as long as the server.
    # Moved out of the collector's sight, a full collection no longer walks it: those walks were
    # the 50-80 ms latency spikes under load (p99 73 -> 11 ms at 4 connections).
    gc.collect()
    gc.freeze()


def _openapi(app: FastAPI, holder: ModelHolder) -> dict[str, Any]:
    if app.openapi_schema is None:
        app.openapi_schema = openapi_document(app, holder.current)
    return app.openapi_schema


def _authorize(request: Request, token: str | None) -> None:
    if token is None:
        raise BadRequest("admin endpoints are off: start the server with an admin token", 403)
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    # Constant-time comparison: the time to refuse must not tell how much of the token matched.
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        raise BadRequest("admin token missing or wrong: send Authorization: Bearer TOKEN", 401)


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    if given is None:
        return uuid.uuid4().hex
    if not _REQUEST_ID.fullmatch(given):
        raise BadRequest("X-Request-ID: expected 1-128 letters, digits or . _ : -", 400)
    return given


def _json(body: dict[str, Any], request_id: str) -> JSONResponse:
    return JSONResponse(body, headers={"x-request-id": request_id})


def _monitor_config(manifest: Manifest) -> MonitorConfig:
    try:
        return Config.from_dict(manifest.config).monitor
    except ConfigError:  # a bundle from an older edgeml: monitoring falls back to defaults
        return MonitorConfig()
