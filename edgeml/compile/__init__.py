"""Stage 6a, compile: export a bundle's model to a fast artifact, proven equal to LightGBM.

Every backend returns an :class:`Artifact` whose parity report passed the gate (see
``_parity``); :func:`export` then adds its files to the bundle and records it in the manifest's
``backends``, atomically, and copies it to ``out`` when asked.

>>> result = export("churn.edgeml", format="treelite")   # doctest: +SKIP
>>> result.parity["max_abs_diff"] <= 1e-6                # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from edgeml.bundle import read_bundle_files, sign_bundle, write_bundle
from edgeml.errors import ConfigError
from edgeml.spec.manifest import Manifest
from edgeml.spec.model_entry import Backend
from edgeml.util.files import write_bytes_atomically
from edgeml.util.lazy import lazy_exports
from edgeml.util.progress import SILENT, Reporter

if TYPE_CHECKING:
    from edgeml.compile._latency import EngineMeter, latency_meter
    from edgeml.compile._parity import Reference, load_reference

__all__ = [
    "FORMATS",
    "Artifact",
    "EngineMeter",
    "ExportRequest",
    "ExportResult",
    "Reference",
    "export",
    "latency_meter",
    "load_reference",
]

# A bundle's booster and prepared reference rows, which retraining checks a new model against,
# and the engine meter that times search trials as deployed; imported on first use (they load
# LightGBM and Polars, or build the engine's core).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Reference": "edgeml.compile._parity",
        "load_reference": "edgeml.compile._parity",
        "EngineMeter": "edgeml.compile._latency",
        "latency_meter": "edgeml.compile._latency",
    },
)

Format = Literal["native", "lightgbm", "treelite", "onnx", "c", "docker", "mlflow"]
FORMATS: tuple[str, ...] = ("native", "lightgbm", "treelite", "onnx", "c", "docker", "mlflow")


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """What a backend built: files to add to the bundle (paths relative to it) and facts."""

    files: dict[str, bytes]
    info: dict[str, Any]
    parity: dict[str, Any]
    copy_out: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ExportRequest:
    """What a backend's ``build(request) -> Artifact`` gets: the bundle as read (manifest and
    file contents), the target to build for, progress reporting and format options."""

    bundle: Path
    manifest: Manifest
    files: dict[str, bytes]
    target: str = "host"
    reporter: Reporter = SILENT
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    """An export recorded in a bundle (and copied to ``out`` when one was given)."""

    bundle: Path
    format: str
    files: list[str]
    info: dict[str, Any]
    parity: dict[str, Any]
    out: Path | None = None
    target: str = "host"

    def to_dict(self) -> dict[str, Any]:
        return {
            "bundle": str(self.bundle),
            "format": self.format,
            "target": self.target,
            "files": self.files,
            "info": self.info,
            "parity": self.parity,
            "out": str(self.out) if self.out else None,
        }


def export(
    bundle: str | Path,
    *,
    format: str,
    target: str = "host",
    out: str | Path | None = None,
    reporter: Reporter = SILENT,
    options: dict[str, Any] | None = None,
    sign: str | Path | None = None,
) -> ExportResult:
    """Compile the bundle's model as ``format`` for ``target`` and record it in the bundle;
    ``sign``: an Ed25519 private key file (``edgeml keygen``) to sign the rewritten bundle."""
    if format not in FORMATS:
        raise ConfigError(
            f"--format {format!r} is not supported; expected one of: {', '.join(FORMATS)}"
        )
    bundle = Path(bundle)
    if format == "docker":  # a build context beside the bundle, not a file inside it
        if sign is not None:
            sign_bundle(bundle, sign)
        return _docker_context(bundle, out, reporter)
    if format == "mlflow":  # an MLflow model directory beside the bundle, holding a copy of it
        return _mlflow_model(bundle, out, reporter)
    raw, files = read_bundle_files(bundle)
    manifest = Manifest.from_dict(raw, where=str(bundle))
    reporter.status(f"exporting {bundle} as {format} for {target}")
    request = ExportRequest(
        bundle=bundle,
        manifest=manifest,
        files=files,
        target=target,
        reporter=reporter,
        options=options or {},
    )
    artifact = _backend(format)(request)
    entry = {"files": sorted(artifact.files), "target": target, "parity": artifact.parity,
             **artifact.info}  # fmt: skip
    backends = {**manifest.backends, format: Backend.from_dict(entry, key=f"backends.{format}")}
    recorded = dataclasses.replace(manifest, backends=backends)
    write_bundle(bundle, recorded.to_dict(), {**files, **artifact.files}, sign=sign)
    destination = None
    if out is not None:
        destination = Path(out)
        _copy_out(artifact.files, artifact.copy_out or sorted(artifact.files), destination)
    return ExportResult(
        bundle=bundle,
        format=format,
        files=sorted(artifact.files),
        info=artifact.info,
        parity=artifact.parity,
        out=destination,
        target=target,
    )


# Not named ``_docker``: importing the submodule edgeml.compile._docker would overwrite it.
def _docker_context(bundle: Path, out: str | Path | None, reporter: Reporter) -> ExportResult:
    from edgeml.compile._docker import write_context

    reporter.status(f"writing a Docker build context for {bundle}")
    files = write_context(bundle, out)
    info = {"base_image": "python:3.11-slim-bookworm", "entry": "python -m edgeml.serve"}
    return ExportResult(
        bundle=bundle,
        format="docker",
        files=files,
        info=info,
        parity={"passed": True, "rows": 0, "max_abs_diff": 0.0},
        out=Path(out) if out else None,
    )


def _mlflow_model(bundle: Path, out: str | Path | None, reporter: Reporter) -> ExportResult:
    from edgeml.compile._mlflow import LOADER_MODULE, write_model

    reporter.status(f"writing an MLflow model directory for {bundle}")
    files = write_model(bundle, out)
    return ExportResult(
        bundle=bundle,
        format="mlflow",
        files=files,
        info={"flavor": "python_function", "loader_module": LOADER_MODULE},
        parity={"passed": True, "rows": 0, "max_abs_diff": 0.0},
        out=Path(out) if out else None,
    )


_MODULES = {"native": "_native", "lightgbm": "_lightgbm", "treelite": "_treelite", "onnx": "_onnx",
            "c": "_cpackage"}  # fmt: skip


def _backend(format: str) -> Any:
    # Imported on use: each backend pulls in its own toolchain (treelite, onnx, a C compiler).
    return importlib.import_module(f"edgeml.compile.{_MODULES[format]}").build


def _copy_out(files: dict[str, bytes], names: list[str], destination: Path) -> None:
    """Write one file to ``destination``, or several (a package) into it as a directory: the
    bytes just recorded in the bundle, not whatever its directory holds by then."""
    if len(names) == 1 and destination.suffix:
        write_bytes_atomically(destination, files[names[0]])
        return
    prefix = _common_dir(names)
    for name in names:
        write_bytes_atomically(destination / name[len(prefix) :], files[name])


def _common_dir(names: list[str]) -> str:
    parts = [n.split("/")[:-1] for n in names]
    common: list[str] = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return "/".join(common) + "/" if common else ""
