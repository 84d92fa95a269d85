"""``edgeml export BUNDLE --format mlflow -o DIR``: an MLflow model directory for the bundle.

The directory is what ``mlflow.pyfunc.save_model`` would write for a ``python_function`` model
with a ``loader_module``, without needing MLflow installed to write it: ``MLmodel`` (the
flavour, ``loader_module: edgeml.runtime.pyfunc``, the bundle as its ``data``, the inputs the
bundle reads), ``requirements.txt``, ``python_env.yaml`` and ``conda.yaml``
(edgeml, NumPy and the best exported backend's package, pinned to the versions installed
here), and the bundle itself under ``bundle/``. ``mlflow.pyfunc.load_model(DIR)`` and
``mlflow models serve -m DIR`` then predict through :mod:`edgeml.runtime`; a registry takes the
directory with ``mlflow.register_model``.

>>> write_model("churn.edgeml", "churn-mlflow/")          # doctest: +SKIP
['MLmodel', 'bundle/manifest.json', ..., 'conda.yaml', 'python_env.yaml', 'requirements.txt']
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from edgeml.bundle import open_bundle
from edgeml.compile._docker import _BACKEND_PACKAGES, _copy_tree, _readable
from edgeml.errors import ConfigError, ExportError
from edgeml.runtime import RuntimePrep
from edgeml.spec.manifest import Manifest
from edgeml.util.files import replace_path

__all__ = ["LOADER_MODULE", "MARKER", "write_model"]

LOADER_MODULE = "edgeml.runtime.pyfunc"
#: Written into every model directory: what lets a later export recognise one it may replace.
MARKER = ".edgeml-mlflow"


def write_model(bundle: str | Path, out: str | Path | None) -> list[str]:
    """Write the MLflow model directory for ``bundle`` into ``out``; its files.

    Built in a temporary sibling and renamed into place when complete. ``out`` may be missing,
    empty or a model directory an earlier export wrote; anything else is refused.
    """
    if out is None:
        raise ConfigError("--format mlflow needs -o DIR: the directory to write the model to")
    bundle, out = Path(bundle), Path(out)
    manifest = open_bundle(bundle, verify=True).spec
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        _copy_tree(bundle, staging / "bundle")
        requirements = _requirements(manifest)
        (staging / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
        python = platform.python_version()
        (staging / "python_env.yaml").write_text(
            f"python: {python}\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n"
        )
        (staging / "conda.yaml").write_text(
            f"channels:\n- conda-forge\ndependencies:\n- python={python}\n- pip\n- pip:\n"
            + "".join(f"  - {r}\n" for r in requirements)
            + "name: mlflow-env\n"
        )
        (staging / "MLmodel").write_text(_mlmodel(manifest, python))
        (staging / MARKER).write_text(json.dumps({"bundle": bundle.name}) + "\n")
        _readable(staging)
        replace_path(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def _requirements(manifest: Manifest) -> list[str]:
    """edgeml, NumPy and the package of the backend ``edgeml.runtime.load`` will pick."""
    backends = set(manifest.backends) | {"lightgbm"}
    best = next(b for b in ("treelite", "onnx", "lightgbm") if b in backends)
    packages = ["edgeml", "numpy", *_BACKEND_PACKAGES[best]]
    return [f"{name}=={_installed(name)}" for name in packages]


def _mlmodel(manifest: Manifest, python: str) -> str:
    """The ``MLmodel`` file (YAML; the signature's two values are JSON strings, as MLflow's)."""
    # No MLflow signature: its type enforcement is stricter than edgeml's own conforming (an
    # int column for a float input, "Yes" for a boolean, a number stored as text) and would
    # refuse rows edgeml reads. The inputs are listed in the edgeml flavour instead.
    columns = RuntimePrep.from_manifest(manifest, source="bundle").input_schema
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    lines = [
        "flavors:",
        "  python_function:",
        f"    loader_module: {LOADER_MODULE}",
        "    data: bundle",
        "    env:",
        "      conda: conda.yaml",
        "      virtualenv: python_env.yaml",
        f"    python_version: {python}",
        "  edgeml:",
        f"    edgeml_version: {json.dumps(manifest.edgeml_version or '')}",
        "    bundle: bundle",
        f"    inputs: {json.dumps(columns)}",
        f"model_uuid: {uuid.uuid4().hex}",
        f"utc_time_created: '{created}'",
    ]
    return "\n".join(lines) + "\n"


def _check_replaceable(out: Path) -> None:
    """Refuse an ``out`` whose content an export would lose: only an earlier model may go."""
    if out.is_symlink():
        raise ExportError(f"-o {out}: is a symbolic link; give the directory itself")
    if not out.exists():
        return
    if not out.is_dir():
        raise ExportError(f"-o {out}: exists and is not a directory; refusing to replace it")
    marker = out / MARKER
    if any(out.iterdir()) and not (marker.is_file() and not marker.is_symlink()):
        raise ExportError(
            f"-o {out}: is a non-empty directory that is not an edgeml MLflow model; refusing "
            "to replace it: give a new or empty directory"
        )


def _installed(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        raise ExportError(f"--format mlflow: {package} is not installed here to pin") from None
