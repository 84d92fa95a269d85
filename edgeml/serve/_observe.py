"""An ASGI middleware counting requests and timing them per endpoint for ``/metrics``.

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which costs a task per request.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgeml.serve._metrics import ServerMetrics

__all__ = ["ENDPOINTS", "Observe"]

# Fixed label values: a client must not be able to grow the metrics with made-up paths.
ENDPOINTS = frozenset(
    (
        "/predict",
        "/predict/batch",
        "/feedback",
        "/health",
        "/ready",
        "/schema",
        "/metrics",
        "/admin/reload",
        "/openapi.json",
        "/docs",
    )
)


class Observe:
    """Wrap ``app``; every HTTP request adds to ``edgeml_requests`` and the latency histogram."""

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope.get("path", "")
        endpoint = path if path in ENDPOINTS else "other"
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
