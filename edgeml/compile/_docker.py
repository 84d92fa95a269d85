"""``edgeml export BUNDLE --format docker -o DIR``: a build context that serves the bundle.

The image holds only what serving needs — the edgeml package source (whose runtime and server
import NumPy, FastAPI, uvicorn and prometheus-client, not Polars, LightGBM or Numba), the
runtime's dependencies pinned to the versions installed here, and the bundle, read-only. It runs
``python -m edgeml.serve`` as a non-root user, with a health check on ``/health`` and the
prediction log on a volume.

>>> write_context("churn.edgeml", "churn-image/")          # doctest: +SKIP
['.dockerignore', 'Dockerfile', 'bundle/manifest.json', ...]
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from edgeml.bundle import read_manifest
from edgeml.errors import ConfigError, ExportError

__all__ = ["RUNTIME_PACKAGES", "write_context"]

#: What ``python -m edgeml.serve`` imports in the image (plus the model backend's own package).
RUNTIME_PACKAGES = ("numpy", "fastapi", "pydantic", "starlette", "uvicorn", "prometheus-client")
_BACKEND_PACKAGES = {"onnx": ("onnxruntime",), "lightgbm": ("lightgbm",), "treelite": ()}
_BASE_IMAGE = "python:3.11-slim-bookworm"  # Debian 12, the glibc the treelite library is built on
_PORT = 8000

_DOCKERFILE = """\
# Serves {bundle} with `python -m edgeml.serve`. Build and run:
#   docker build -t {tag} .
#   docker run -p 8000:8000 -v {tag}-log:/data {tag}
FROM {base}

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PYTHONPATH=/app \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt \\
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin edgeml \\
 && mkdir /data && chown edgeml:edgeml /data

# Code and bundle stay owned by root: the server cannot change what it serves.
COPY edgeml /app/edgeml
COPY bundle /app/bundle

USER edgeml
VOLUME ["/data"]
EXPOSE {port}
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \\
  CMD {probe}
CMD {command}
"""
# Exec form (JSON arrays): no shell in between, so signals reach the server.
_PROBE = [
    "python",
    "-c",
    "import sys, urllib.request; "
    f"sys.exit(urllib.request.urlopen('http://127.0.0.1:{_PORT}/health', timeout=2).status != 200)",
]
_COMMAND = [
    "python",
    "-m",
    "edgeml.serve",
    "/app/bundle",
    "--host",
    "0.0.0.0",
    "--port",
    str(_PORT),
    "--log",
    "/data/predictions.log.db",
]

_DOCKERIGNORE = "**/__pycache__\n**/*.pyc\n"


def write_context(bundle: str | Path, out: str | Path | None) -> list[str]:
    """Write the Docker build context for ``bundle`` into ``out`` (atomically); its files."""
    if out is None:
        raise ConfigError("--format docker needs -o DIR: the directory to write the context to")
    bundle, out = Path(bundle), Path(out)
    manifest = read_manifest(bundle, verify=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        shutil.copytree(bundle, staging / "bundle")
        shutil.copytree(
            _package_root(),
            staging / "edgeml",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        backends = set(manifest.get("backends", {})) | {"lightgbm"}
        best = next(b for b in ("treelite", "onnx", "lightgbm") if b in backends)
        packages = [*RUNTIME_PACKAGES, *_BACKEND_PACKAGES[best]]
        (staging / "requirements.txt").write_text(
            f"# What `python -m edgeml.serve` needs for the {best} backend, pinned to the\n"
            "# versions this bundle was exported with.\n"
            + "".join(f"{name}=={_installed(name)}\n" for name in packages)
        )
        tag = bundle.name.removesuffix(".edgeml").lower().replace("_", "-") or "edgeml-model"
        (staging / "Dockerfile").write_text(
            _DOCKERFILE.format(
                bundle=bundle.name,
                tag=tag,
                base=_BASE_IMAGE,
                port=_PORT,
                probe=json.dumps(_PROBE),
                command=json.dumps(_COMMAND),
            )
        )
        (staging / ".dockerignore").write_text(_DOCKERIGNORE)
        _readable(staging)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def _readable(root: Path) -> None:
    # The image runs as a non-root user: the copied code and bundle must be world-readable
    # (a bundle directory is written 0700 by its atomic write).
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _package_root() -> Path:
    return Path(__file__).resolve().parents[1]


def _installed(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        raise ExportError(f"--format docker: {package} is not installed here to pin") from None
