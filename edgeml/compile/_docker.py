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
import stat
import tempfile
from importlib import metadata
from pathlib import Path

from edgeml.bundle import open_bundle
from edgeml.errors import ConfigError, ExportError
from edgeml.util.files import replace_path

__all__ = ["RUNTIME_PACKAGES", "write_context"]

#: What ``python -m edgeml.serve`` imports in the image (plus the model backend's own package).
RUNTIME_PACKAGES = ("numpy", "fastapi", "pydantic", "starlette", "uvicorn", "prometheus-client")
_BACKEND_PACKAGES = {"onnx": ("onnxruntime",), "lightgbm": ("lightgbm",), "treelite": (),
                     "native": ()}  # fmt: skip
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

#: Written into every context: what lets a later export recognise a directory it may replace.
MARKER = ".edgeml-docker"
_DOCKERIGNORE = f"**/__pycache__\n**/*.pyc\n{MARKER}\n"
# What a context written before the marker existed holds, exactly.
_LEGACY = {".dockerignore", "Dockerfile", "bundle", "edgeml", "requirements.txt"}


def write_context(bundle: str | Path, out: str | Path | None) -> list[str]:
    """Write the Docker build context for ``bundle`` into ``out``; its files.

    The context is built in a temporary sibling and renamed into place when complete. ``out``
    may be missing, empty or a context an earlier export wrote; anything else is refused, so
    an export never deletes what a directory held. No symbolic link is followed: a link in the
    bundle or the package source is refused rather than copied as the file it points to.
    """
    if out is None:
        raise ConfigError("--format docker needs -o DIR: the directory to write the context to")
    bundle, out = Path(bundle), Path(out)
    opened = open_bundle(bundle, verify=True)
    manifest = opened.spec
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        # The manifest and the files it lists, verified, nothing else; no link followed.
        opened.copy_to(staging / "bundle")
        _copy_tree(_package_root(), staging / "edgeml", skip=("__pycache__", "*.pyc"))
        backends = set(manifest.backends) | {"lightgbm"}
        best = next(b for b in ("native", "treelite", "onnx", "lightgbm") if b in backends)
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
        (staging / MARKER).write_text(json.dumps({"bundle": bundle.name}) + "\n")
        _readable(staging)
        replace_path(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def _check_replaceable(out: Path) -> None:
    """Refuse an ``out`` whose content an export would lose: only an earlier context may go."""
    if out.is_symlink():
        raise ExportError(f"-o {out}: is a symbolic link; give the directory itself")
    if not out.exists():
        return
    if not out.is_dir():
        raise ExportError(f"-o {out}: exists and is not a directory; refusing to replace it")
    names = {p.name for p in out.iterdir()}
    if names and not _is_context(out, names):
        raise ExportError(
            f"-o {out}: is a non-empty directory that is not an edgeml Docker context "
            f"({len(names)} entries); refusing to replace it: give a new or empty directory"
        )


def _is_context(out: Path, names: set[str]) -> bool:
    marker = out / MARKER
    if marker.is_file() and not marker.is_symlink():
        return True
    return names == _LEGACY


def _copy_tree(source: Path, target: Path, *, skip: tuple[str, ...] = ()) -> None:
    """Copy regular files and directories; refuse links and special files by name."""
    ignored = shutil.ignore_patterns(*skip)

    def refuse_links(directory: str, names: list[str]) -> set[str]:
        skipped = ignored(directory, names)
        for name in names:
            if name in skipped:
                continue
            path = Path(directory, name)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise ExportError(
                    f"{path}: is a symbolic link (to {os.readlink(path)}); a Docker context "
                    "copies no links: replace it with the file itself"
                )
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise ExportError(f"{path}: is not a regular file or directory; refusing to copy")
        return skipped

    # symlinks=True: copytree itself never follows one either; each file is opened O_NOFOLLOW.
    shutil.copytree(source, target, symlinks=True, ignore=refuse_links, copy_function=_copy_regular)


def _copy_regular(source: str, target: str) -> None:
    # O_NOFOLLOW and the fstat below: a file swapped for a link or a FIFO after the check
    # above is still refused, never read through.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        handle = os.open(source, flags)
    except OSError as exc:
        raise ExportError(f"{source}: cannot be copied without following a link ({exc})") from None
    with os.fdopen(handle, "rb") as reader:
        if not stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
            raise ExportError(f"{source}: is not a regular file; refusing to copy")
        with open(target, "xb") as writer:
            shutil.copyfileobj(reader, writer)


def _readable(root: Path) -> None:
    # The image runs as a non-root user: the copied code and bundle must be world-readable
    # (a bundle directory is written 0700 by its atomic write); nothing is executable or
    # writable by others. Only directories and regular files are here (links were refused).
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _package_root() -> Path:
    return Path(__file__).resolve().parents[1]


def _installed(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        raise ExportError(f"--format docker: {package} is not installed here to pin") from None
