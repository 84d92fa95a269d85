"""The ``native`` export: edgeml's own tree engine, the model as data and one C core as code.

The core (``kernels/edgeml_forest*.c``, ``edgeml_core.c``, ``edgeml_row.c``) is compiled once
per machine and cached (``_toolchain.cached_build``, keyed by the sources, compiler and flags),
so exporting a model only writes its tables (``_native_tables``): no per-model C, whatever the
model's size. The parity gate then runs the engine on the bundle's reference rows, the
adversarial rows and the input-rule probes against ``Booster.predict``. The bundle gains
``native/core.so``, ``native/forest.bin`` and ``native/model.json``.

>>> from edgeml.compile import export
>>> export("churn.edgeml", format="native").parity["max_abs_diff"]   # doctest: +SKIP
0.0
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from edgeml.compile import Artifact, ExportRequest, _parity
from edgeml.compile._cpackage import kernels_dir
from edgeml.compile._forest import parse_model
from edgeml.compile._native_choice import choose
from edgeml.compile._native_pyrow import FILE_NAME, row_extension
from edgeml.compile._native_tables import VERSION, float32_option, forest_tables, pack
from edgeml.compile._toolchain import cache_key, cached_build, compile_shared, find_compiler
from edgeml.errors import ExportError, ParityError
from edgeml.runtime import NativeBackend, open_core

__all__ = [
    "CORE_FLAGS",
    "CORE_SOURCES",
    "DESCRIPTION",
    "LIBRARY",
    "ROW_EXTENSION",
    "TABLES",
    "build",
    "core_library",
]

LIBRARY = "native/core.so"
TABLES = "native/forest.bin"
DESCRIPTION = "native/model.json"
ROW_EXTENSION = f"native/{FILE_NAME}"
SINGLE_ROWS = 4096  # the parity gate's rows predicted one by one (all rows go as a batch)
CORE_SOURCES = (
    "edgeml_core.c",
    "edgeml_forest.c",
    "edgeml_forest_chain.c",
    "edgeml_forest_open.c",
    "edgeml_forest_qs.c",
    "edgeml_forest_qs_simd.c",
    "edgeml_forest_qs_neon.c",
    "edgeml_row.c",
)
# -O3 unrolls the interleaved lanes; no -ffast-math and no contraction: IEEE compares and sums.
CORE_FLAGS = ("-O3", "-fPIC", "-std=c99", "-ffp-contract=off", "-fvisibility=default")


def core_library(target: str = "host") -> tuple[Path, bool]:
    """The engine's shared library for this machine: built on first use, then cached.

    Returns its path and whether it came from the cache.
    """
    kernels = kernels_dir()
    sources = [kernels / name for name in CORE_SOURCES]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise ExportError(f"edgeml's C core is missing ({', '.join(missing)}): reinstall edgeml")
    compiler = find_compiler(target)
    headers = sorted(kernels.glob("*.h"))
    key = cache_key(
        "native-core", target, compiler.version, " ".join(CORE_FLAGS),
        *(p.read_bytes() for p in [*sources, *headers]),
    )  # fmt: skip

    def make(directory: Path) -> None:
        compile_shared(sources, directory / "core.so", target=target,
                       flags=(*CORE_FLAGS, f"-I{kernels}"))  # fmt: skip

    entry, hit = cached_build(key, make)
    return entry / "core.so", hit


def build(request: ExportRequest) -> Artifact:
    """The bundle's model as engine tables plus the core for this machine, proven equal to
    LightGBM; refused (ParityError, ExportError) otherwise."""
    if request.target != "host":
        raise ExportError(
            f"--format native runs on this machine (--target host), not {request.target}; "
            f"for a device use: edgeml export {request.bundle} --format c --target "
            f"{request.target}"
        )
    float32 = float32_option(request.options, "native")
    manifest, files = request.manifest, request.files
    started = time.perf_counter()
    forest = parse_model(files[manifest.model_file].decode())
    tables = replace(forest_tables(forest), float32=float32)
    table_seconds = time.perf_counter() - started
    library, hit = core_library("host")
    request.reporter.status(f"native engine core {'found in the cache' if hit else 'compiled'}")
    lib = open_core(library)
    reference = _parity.load_reference(manifest, files)
    tables, algorithm = choose(lib, tables, reference.matrix)
    if not tables.qs_use:  # the walk won both: the section would only be bytes in the bundle
        tables = replace(tables, qs=None)
    blob = pack(tables)
    request.reporter.status(
        f"native engine: {algorithm['row']} for single rows, {algorithm['batch']} for batches"
    )
    backend = NativeBackend(lib, blob, threads=2, source=TABLES)
    rows = np.vstack([
        reference.matrix, reference.adversarial(),
        _parity.input_probes(reference.matrix, forest.split_features(), forest.num_feature),
    ])  # fmt: skip
    truth = reference.predict(rows)
    try:
        report = _parity.compare("native", backend.predict(rows), truth, rows=rows)
        if algorithm["row"] != algorithm["batch"] or algorithm["row"] == "quickscorer":
            # single rows run other code (the walk, or QuickScorer off the SIMD lanes that
            # batches take): the gate proves it too, on the same rows
            scalar = "quickscorer-scalar" if algorithm["row"] == "quickscorer" else "walk"
            backend.set_algorithm(row=algorithm["row"], batch=scalar)
            name = f"native ({algorithm['row']})"
            _parity.compare(name, backend.predict(rows), truth, rows=rows)
        # and single rows one by one, through what a loaded bundle runs for them (the chains,
        # the refilling lanes or QuickScorer's row), not through a batch: every k-th row of the
        # three kinds, at most SINGLE_ROWS (500x63: 30,213 rows one by one took 0.17-0.25 s)
        step = -(-len(rows) // SINGLE_ROWS)
        singles = np.array([backend.predict_one(row) for row in rows[::step]])
        name = f"native (single rows: {backend.row_walk})"
        _parity.compare(name, singles, truth[::step], rows=rows[::step])
    except ParityError as exc:
        if not float32:
            raise
        raise ParityError(f"{exc} (with float32 leaf values: export with float64 ones)") from None
    core = library.read_bytes()
    depths = [tree.depth() for tree in forest.trees]
    info = {
        "library": LIBRARY,
        "tables": TABLES,
        "description": DESCRIPTION,
        "table_version": VERSION,
        "size_bytes": len(blob),
        "core_bytes": len(core),
        "num_feature": backend.num_feature,
        "num_output": backend.num_output,
        "trees": len(forest.trees),
        "max_depth": max(depths, default=0),
        "machine": platform.machine(),
        "system": platform.system(),
        "core_cached": hit,
        "table_seconds": round(table_seconds, 3),
        "algorithm": algorithm,
        "memory_bytes": backend.memory,
        "leaf_values": "float32" if float32 else "float64",
    }
    description = {
        **{k: info[k] for k in ("num_feature", "num_output", "table_version", "machine")},
        "task": manifest.task,
        "classes": manifest.classes,
        "features": list(manifest.features.model),
        "link": forest.link.function,
        "algorithm": {"row": algorithm["row"], "batch": algorithm["batch"]},
    }
    files = {LIBRARY: core, TABLES: blob, DESCRIPTION: json.dumps(description, indent=2).encode()}
    extension = row_extension()  # None where this Python has no headers: ctypes then
    if extension is not None:
        files[ROW_EXTENSION] = extension.read_bytes()
        info["row_extension"] = ROW_EXTENSION
    request.reporter.status(
        "native engine: single rows "
        + ("through the CPython extension" if extension else "through ctypes (no Python.h)")
    )
    return Artifact(files=files, info=info, parity=report.to_dict(), copy_out=sorted(files))
