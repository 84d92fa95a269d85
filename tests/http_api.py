"""A real HTTP API on loopback for the tests: paged readings in every paging style, plus the
failure modes a real API has (rate limits with Retry-After, 5xx, 401, pages that are not JSON,
a schema that changes, pagination that loops or never ends, an answer that never comes).

Runs :class:`http.server.ThreadingHTTPServer` in a daemon thread; ``hits`` counts requests per
path so tests can check that retries happened.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "tok-Sekret-4410"
PAGE = 10
TOTAL = 35  # rows: four pages of 10, 10, 10, 5


def record(i: int) -> dict[str, Any]:
    """Row ``i`` (1-based); the label depends on temp so a model can learn it."""
    temp = (i * 7) % 31 + 0.5
    return {
        "id": i,
        "sensor": {"temp": temp, "unit": "C"},
        "machine": f"m{i % 3}",
        "updated_at": f"2024-01-{1 + i % 28:02d}T00:00:00Z",
        "failed": "yes" if temp > 15 else "no",
    }


def rows(start: int, count: int) -> list[dict[str, Any]]:
    return [record(i) for i in range(start + 1, min(start + count, TOTAL) + 1)]


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        self.server.hits[path] += 1
        count = self.server.hits[path]
        page = int(query.get("page", 1))
        base = f"http://127.0.0.1:{self.server.server_port}{path}"
        if path == "/next":  # a "next" URL in the body (relative on page 2)
            nxt = None if page * PAGE >= TOTAL else (
                f"{path}?page={page + 1}" if page == 2 else f"{base}?page={page + 1}")  # fmt: skip
            return self._json({"data": rows((page - 1) * PAGE, PAGE), "next": nxt})
        if path == "/link":  # a Link header; the body is a bare list
            headers = {}
            if page * PAGE < TOTAL:
                headers["Link"] = f'<{base}?page={page + 1}>; rel="next", <{base}>; rel="first"'
            return self._json(rows((page - 1) * PAGE, PAGE), headers=headers)
        if path == "/cursor":  # an opaque cursor in meta.cursor
            start = int(query.get("after", "c0")[1:])
            more = start + PAGE < TOTAL
            body = {"items": rows(start, PAGE), "meta": {"cursor": f"c{start + PAGE}" if more
                                                          else None}}  # fmt: skip
            return self._json(body)
        if path == "/offset":  # offset & limit until a short page
            start, limit = int(query.get("offset", 0)), int(query.get("limit", PAGE))
            return self._json({"results": rows(start, limit)})
        if path == "/pages":  # page numbers until an empty page
            return self._json({"results": rows((page - 1) * PAGE, PAGE)})
        if path == "/ndjson":
            body = "\n".join(json.dumps(r) for r in rows(0, TOTAL)).encode()
            return self._send(200, body, "application/x-ndjson")
        if path == "/csv":
            lines = ["id,temp,failed", *(f"{i},{(i * 7) % 31 + 0.5},x" for i in range(1, 21))]
            return self._send(200, "\n".join(lines).encode(), "text/csv; charset=utf-8")
        if path == "/auth":
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._json({"error": "unauthorized"}, status=401)
            return self._json(rows(0, PAGE))
        if path == "/ratelimited":  # 429 with Retry-After on every other request
            if count % 2 == 1:
                return self._json({"error": "slow down"}, status=429, headers={"Retry-After": "1"})
            return self._json(
                {
                    "data": rows((page - 1) * PAGE, PAGE),
                    "next": f"{base}?page={page + 1}" if page < 2 else None,
                }
            )
        if path == "/flaky":  # two 503s, then fine
            if count <= 2:
                return self._json({"error": "busy"}, status=503)
            return self._json(rows(0, PAGE))
        if path == "/down":
            return self._json({"error": "down"}, status=500)
        if path == "/notjson":
            if page == 2:
                return self._send(200, b"<html>maintenance</html>", "application/json")
            return self._json({"data": rows(0, PAGE), "next": f"{base}?page=2"})
        if path == "/html":
            return self._send(200, b"<html></html>", "text/html")
        if path == "/schema":  # page 2 renames a column
            data = rows((page - 1) * PAGE, PAGE)
            if page == 2:
                data = [{("temperature" if k == "sensor" else k): v for k, v in r.items()}
                        for r in data]  # fmt: skip
            return self._json({"data": data, "next": f"{base}?page=2" if page == 1 else None})
        if path == "/types":  # page 2 turns ids into text
            data = rows((page - 1) * PAGE, PAGE)
            if page == 2:
                data = [{**r, "id": f"id-{r['id']}"} for r in data]
            return self._json({"data": data, "next": f"{base}?page=2" if page == 1 else None})
        if path == "/loop":  # page 2 links back to page 1
            return self._json({"data": rows(0, PAGE),
                               "next": f"{base}?page={2 if page == 1 else 1}"})  # fmt: skip
        if path == "/endless":
            return self._json({"data": rows(0, PAGE), "next": f"{base}?page={page + 1}"})
        if path == "/slow":
            time.sleep(1.5)
            return self._json(rows(0, PAGE))
        return self._json({"error": "not found"}, status=404)

    def _json(self, body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _send(
        self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        # the client may have timed out and left
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_port}{path}"


def start() -> ApiServer:
    server = ApiServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
