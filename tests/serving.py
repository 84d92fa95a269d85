"""Helpers for the serving tests: a real `edgeml serve` process on loopback, and valid records."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

TOKEN = "test-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    *args: str, env: dict[str, str] | None = None, module: str = "edgeml.cli"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``edgeml serve ARGS`` in a subprocess on a free loopback port; yields its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from edgeml.cli import main; main()",
        "serve",
        *args,
        "--port",
        str(port),
    ]
    if module != "edgeml.cli":
        command = [sys.executable, "-m", module, *args, "--port", str(port)]
    environment = {**os.environ, "EDGEML_ADMIN_TOKEN": TOKEN, **(env or {})}
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"server exited with {process.returncode}: {err}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server at {url} did not come up in {timeout} s")


def record(**changes: Any) -> dict[str, Any]:
    """A valid input record of the churn_like bundle (tests/conftest.py)."""
    row: dict[str, Any] = {
        "tenure": 12,
        "monthly_charges": 70.5,
        "total_charges": 846.0,
        "contract": "month",
        "paperless": True,
    }
    row.update(changes)
    return row


def bundle_copy(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target
