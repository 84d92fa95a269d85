"""An ASGI middleware that refuses request bodies over a size limit with 413, before reading them.

A declared ``Content-Length`` over the limit is refused at once; a chunked body is counted as it
streams and cut off when it passes the limit, so a client cannot make the server buffer more.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit"]


class BodyLimit:
    """Wrap ``app``; bodies larger than ``max_bytes`` get ``413 Request Entity Too Large``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        over = False

        async def counted() -> Message:
            # Past the limit the app gets an empty, final chunk and its answer is replaced below:
            # raising here would surface as a 500 from the app's own error handling.
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def replaced(message: Message) -> None:
            if not over:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._refuse(send)

        await self.app(scope, counted, replaced)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": f"request body over {self.max_bytes} bytes; send smaller batches",
                "detail": [{"loc": ["body"], "msg": "too large", "type": "too_large"}],
            }
        ).encode()
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
