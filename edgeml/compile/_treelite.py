"""The ``treelite`` export: a TL2cgen shared library the runtime calls through ctypes.

Steps: TL2cgen's C code for the booster, adapted to LightGBM's exact decisions (``_treecode``);
compiled here with our flags, in parallel translation units, and cached by content
(``_toolchain``); then the parity gate runs the library on the bundle's reference rows, the
adversarial rows, and probes of the input rules (tiny values, -0.5 as a category, ...) against
``Booster.predict``. The bundle gains ``treelite/model.so`` and ``treelite/model.json``.

Options: ``annotate`` (branch hints from the reference rows), ``quantize`` (thresholds as
integer bins), ``jobs`` (parallel compilers, default 2).

>>> from edgeml.compile import export
>>> export("churn.edgeml", format="treelite", options={"annotate": True})   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgeml.compile import Artifact, ExportRequest, _parity
from edgeml.compile._toolchain import (
    DEFAULT_FLAGS,
    cache_key,
    cached_build,
    compile_shared,
    find_compiler,
)
from edgeml.compile._treecode import ABI_VERSION, fingerprint, generate, split_features
from edgeml.errors import ConfigError, ExportError
from edgeml.prep import REFERENCE_ROWS
from edgeml.runtime import TreeliteBackend

__all__ = ["LIBRARY", "build"]

LIBRARY = "treelite/model.so"
DESCRIPTION = "treelite/model.json"
_OPTIONS = {"annotate": False, "quantize": False, "jobs": 2}


def build(request: ExportRequest) -> Artifact:
    """Compile the bundle's model into a shared library for this machine, proven equal to
    LightGBM; refuse (ParityError) otherwise."""
    manifest, files = request.manifest, request.files
    target, reporter = request.target, request.reporter
    if target != "host":
        raise ExportError(
            f"--format treelite builds a library for this machine (--target host), not {target}; "
            f"for a device use: edgeml export {request.bundle} --format c --target {target}"
        )
    settings = _settings(request.options)
    reference = _parity.load_reference(manifest, files)
    text = files[manifest.model_file].decode()
    compiler = find_compiler("host")
    annotate_rows = reference.matrix if settings["annotate"] else None
    key = cache_key(
        "treelite", text, target, " ".join(DEFAULT_FLAGS), compiler.version,
        json.dumps({k: settings[k] for k in ("annotate", "quantize")}), fingerprint(),
        _versions(), files.get(REFERENCE_ROWS, b"") if settings["annotate"] else b"",
    )  # fmt: skip

    def make(directory: Path) -> None:
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # TL2cgen logs through print()
            code = generate(
                text, directory / "src", quantize=settings["quantize"], annotate_rows=annotate_rows
            )
        compile_shared(
            code.sources, directory / "model.so", target="host",
            flags=(*DEFAULT_FLAGS, f"-I{code.directory}"), jobs=settings["jobs"],
            reporter=reporter,
        )  # fmt: skip
        facts = {
            "compile_seconds": round(time.perf_counter() - started, 3),
            "translation_units": len(code.sources),
            "source_bytes": sum(p.stat().st_size for p in code.sources),
            "tl2cgen_params": code.params,
        }
        (directory / "build.json").write_text(json.dumps(facts), encoding="utf-8")
        for path in sorted(code.directory.rglob("*"), reverse=True):  # sources can be large
            path.rmdir() if path.is_dir() else path.unlink()
        code.directory.rmdir()

    entry, hit = cached_build(key, make)
    reporter.status(f"treelite library {'found in the cache' if hit else 'compiled'} ({key[:12]})")

    # Read once: the bytes the parity gate runs are the bytes the bundle stores.
    library = (entry / "model.so").read_bytes()
    backend = TreeliteBackend(entry / "model.so", threads=2, data=library)
    rows = np.vstack([reference.matrix, reference.adversarial(), _probes(reference, text)])
    report = _parity.compare(
        "treelite",
        backend.predict(rows),
        reference.predict(rows),
        rows=rows,
        tolerance=_parity.TOLERANCE,
    )
    facts = json.loads((entry / "build.json").read_text(encoding="utf-8"))
    info = {
        "library": LIBRARY,
        "description": DESCRIPTION,
        "size_bytes": len(library),
        "num_feature": backend.num_feature,
        "num_output": backend.num_output,
        "abi_version": ABI_VERSION,
        "machine": platform.machine(),
        "system": platform.system(),
        "compiler": compiler.version,
        "flags": list(DEFAULT_FLAGS),
        "cached": hit,
        "annotate": settings["annotate"],
        "quantize": settings["quantize"],
        **facts,
    }
    description = {
        **{k: info[k] for k in ("num_feature", "num_output", "abi_version", "machine", "system")},
        "task": manifest.task,
        "classes": manifest.classes,
        "features": list(manifest.features.model),
        "output": _output_kind(manifest.task),
        "entry_points": {
            "row": "void edgeml_predict_row(const double* x, double* out)",
            "batch": "int edgeml_predict_batch(const double* x, long n, double* out, int nthread)",
        },
    }
    return Artifact(
        files={LIBRARY: library, DESCRIPTION: json.dumps(description, indent=2).encode()},
        info=info,
        parity=report.to_dict(),
        copy_out=[LIBRARY, DESCRIPTION],
    )


def _settings(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ConfigError(
            f"treelite export: unknown option(s) {', '.join(unknown)}; expected: "
            f"{', '.join(_OPTIONS)}"
        )
    settings = {**_OPTIONS, **options}
    if not isinstance(settings["jobs"], int) or settings["jobs"] < 1:
        raise ConfigError(f"treelite export: jobs {settings['jobs']!r}; expected an integer >= 1")
    settings["annotate"] = bool(settings["annotate"])
    settings["quantize"] = bool(settings["quantize"])
    return settings


def _probes(reference: _parity.Reference, model_text: str) -> np.ndarray:
    """The parity gate's input-rule probes for every feature the trees split on."""
    num_feature = reference.booster.num_feature()
    return _parity.input_probes(reference.matrix, split_features(model_text), num_feature)


def _output_kind(task: str) -> str:
    return {
        "binary": "probability of the second class",
        "multiclass": "class probabilities",
        "regression": "value",
    }.get(task, "raw")


def _versions() -> str:
    from importlib import metadata

    return " ".join(f"{p}={metadata.version(p)}" for p in ("treelite", "tl2cgen", "lightgbm"))
