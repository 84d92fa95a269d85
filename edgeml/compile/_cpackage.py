"""The ``c`` export: a self-contained C99 package for devices, built and proven for its target.

The package (stored in the bundle under ``c/``, copied to ``-o DIR``) holds the public header
``edgeml_model.h`` (allocation-free, thread-safe API, inputs and category codes documented), the
prep plan as constant tables (``edgeml_model.c``), the trees as edgeml's engine tables
(``edgeml_forest_data.c``: the blob of ``export --format native`` as a const array), edgeml's
portable prep executor and tree engine (``kernels/``: the same sources whatever the model, so a
cross build compiles a few hundred lines of code plus one array), a Makefile, ``example.c`` and a
README; plus, under ``c/build/TARGET/``, the static and shared libraries built for the target.

:func:`build` checks the tools first (compiler, make and, for another architecture, qemu-user
with the target's sysroot; a missing one is a :class:`~edgeml.errors.ToolchainError` naming the
Debian package), compiles with ``make`` (``-Werror`` for host), then runs the parity gate: the
example program, natively or under qemu, predicts the bundle's reference rows and raw
adversarial rows (``_craw``) from raw values and the feature-space adversarial rows
(``_parity``) from features, and each output must be within 1e-6 of ``Booster.predict`` after
the Polars prep. It reports and records the library's code size. Builds are cached by
everything that determines them (``_toolchain.cached_build``); the parity gate runs every time.

>>> export("churn.edgeml", format="c", target="aarch64-linux-gnu", out="pkg/")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from edgeml.compile import Artifact, ExportRequest
from edgeml.compile._cgen import CORE_FILES, ENGINE_FILES, ModelInfo, package_sources
from edgeml.compile._craw import (
    adversarial_features,
    adversarial_raw,
    decode,
    encode,
    raw_inputs,
)
from edgeml.compile._native_tables import float32_option, forest_blob
from edgeml.compile._parity import Reference, compare, load_reference, split_values
from edgeml.compile._toolchain import (
    MAKE_HINT,
    cache_key,
    cached_build,
    estimate_seconds,
    find_compiler,
)
from edgeml.errors import ExportError, ParityError, ToolchainError
from edgeml.prep import apply_prep, to_matrix
from edgeml.runtime import Post
from edgeml.spec.manifest import Manifest
from edgeml.spec.prep_plan import PrepPlan
from edgeml.util.progress import Reporter

__all__ = ["Tools", "build", "find_tools", "generate_package", "kernels_dir"]

WARNINGS = ("-Wall", "-Wextra")
BASE_FLAGS = ("-std=c99", "-O2")
# qemu binary per architecture of a GNU triple (the first field)
_QEMU_ARCH = {"aarch64": "aarch64", "arm": "arm", "armv7": "arm", "i686": "i386",
              "x86_64": "x86_64", "riscv64": "riscv64", "mips": "mips", "mipsel": "mipsel",
              "powerpc64le": "ppc64le", "s390x": "s390x"}  # fmt: skip
# Debian package of each known target's C library (the sysroot qemu runs binaries with)
_LIBC_PACKAGES = {"aarch64-linux-gnu": "libc6-dev-arm64-cross",
                  "arm-linux-gnueabihf": "libc6-dev-armhf-cross"}  # fmt: skip
_RUN_TIMEOUT = 600  # seconds for the example program on all parity rows (qemu is slow)


@dataclass(frozen=True, kw_only=True)
class Tools:
    """What building and running for one target takes."""

    target: str
    compiler: str
    compiler_version: str
    make: str
    size: str | None
    runner: list[str]  # prefix to run a target binary: [] on the host, qemu otherwise
    cflags: tuple[str, ...]


def find_tools(target: str) -> Tools:
    """The compiler, make, size and runner for ``target``, or a ToolchainError naming the package.

    >>> find_tools("host").runner
    []
    """
    compiler = find_compiler(target)
    make = shutil.which("make")
    if make is None:
        raise ToolchainError(f"make not found; install it: {MAKE_HINT}")
    runner: list[str] = []
    if target != "host" and not _native(target):
        arch = _QEMU_ARCH.get(target.split("-")[0])
        if arch is None:
            raise ToolchainError(f"no emulator known for {target}; edgeml runs qemu-user")
        qemu = shutil.which(f"qemu-{arch}")
        if qemu is None:
            raise ToolchainError(
                f"qemu-{arch} not found: it runs the {target} parity check; install it: "
                "apt-get install qemu-user"
            )
        sysroot = Path("/usr") / target
        if not (sysroot / "lib").is_dir():
            raise ToolchainError(
                f"the {target} system root {sysroot} is missing; install it: "
                f"apt-get install {_LIBC_PACKAGES.get(target, compiler.package)}"
            )
        runner = [qemu, "-L", str(sysroot)]
    size = shutil.which(f"{target}-size") if target != "host" else None
    flags = (*BASE_FLAGS, *WARNINGS, *(("-Werror",) if target == "host" else ()))
    return Tools(
        target=target,
        compiler=compiler.command,
        compiler_version=compiler.version,
        make=make,
        size=size or shutil.which("size"),
        runner=runner,
        cflags=flags,
    )


def _native(target: str) -> bool:
    """Whether a triple names this machine's own architecture (then no emulator is needed)."""
    return target.split("-")[0] == platform.machine() and platform.system() == "Linux"


def kernels_dir() -> Path:
    """edgeml's C core: top-level ``kernels/`` of a checkout, or ``edgeml/_native`` if shipped."""
    package = Path(str(files("edgeml")))  # not this module's path: modules move, this does not
    for candidate in (package.parent / "kernels", package / "_native"):
        if all((candidate / name).is_file() for name in CORE_FILES):
            return candidate
    raise ExportError(
        "c export: edgeml's C core (kernels/edgeml_core.c) is missing from this installation"
    )


def generate_package(
    manifest: Manifest, reference: Reference, *, float32: bool = False
) -> dict[str, str]:
    """Every source file of the C package for a bundle, as ``{name: text}`` (``float32``: leaf
    values stored as float32, smaller tables where the parity gate still passes)."""
    plan = manifest.prep
    derived = _derived_inputs(manifest, plan)
    if derived:
        raise ExportError(
            f"c export: the model reads features computed from earlier rows ({', '.join(derived)}),"
            " which the C package cannot compute from one row; train with --features none"
        )
    # a device walks (QuickScorer is chosen by measuring on the machine that runs it, and the
    # device is not this one): no QuickScorer section, no bytes spent on it
    blob = forest_blob(reference.booster.model_to_string(), quickscorer=False, float32=float32)
    model = ModelInfo(
        task=manifest.task,
        target=manifest.target.name,
        classes=[str(c) for c in manifest.classes or []],
        n_outputs=struct.unpack_from("<I", blob, 20)[0],  # the blob header's n_outputs
        version=manifest.edgeml_version or "unknown",
        post=Post.from_manifest(manifest),
    )
    files = package_sources(plan, model, blob=blob)
    core = kernels_dir()
    files.update({name: (core / name).read_text() for name in (*CORE_FILES, *ENGINE_FILES)})
    return files


def _derived_inputs(manifest: Manifest, plan: PrepPlan) -> list[str]:
    features = manifest.features.feature_plan
    if not features.steps:
        return []
    return [name for name in features.selected if name in plan.input_schema]


def build(request: ExportRequest) -> Artifact:
    """Generate, compile and verify the C package for ``target`` (see the module docstring)."""
    manifest, files = request.manifest, request.files
    target, reporter = request.target, request.reporter
    tools = find_tools(target)
    float32 = float32_option(request.options, "c")
    reporter.status("generating the C package")
    reference = load_reference(manifest, files)
    sources = generate_package(manifest, reference, float32=float32)
    key = cache_key(
        "c-package",
        json.dumps(sources, sort_keys=True),
        target,
        " ".join(tools.cflags),
        tools.compiler_version,
    )
    entry, hit = cached_build(key, lambda d: _compile(sources, d, tools, reporter))
    reporter.status(f"{'cached' if hit else 'compiled'} C package for {target}")
    sizes = _code_size(entry, tools)
    footprint = {
        "code_bytes": sizes["code_text"],
        "table_bytes": sizes["tables_text"],
        "stack_bytes": _stack_bytes(sources["edgeml_model.h"]),
    }
    reporter.status(
        f"footprint for {target}: code {footprint['code_bytes']:,} bytes, tables "
        f"{footprint['table_bytes']:,} bytes (read-only), stack {footprint['stack_bytes']:,} "
        "bytes per call, no heap"
    )
    try:
        parity = _parity(entry, tools, manifest, reference, reporter)
    except ParityError as exc:
        if not float32:
            raise
        raise ParityError(f"{exc} (with float32 leaf values: export with float64 ones)") from None
    built = f"c/build/{target}/"
    out_files = {f"c/{name}": text.encode() for name, text in sources.items()}
    for library in ("libedgeml_model.a", "libedgeml_model.so"):
        out_files[built + library] = (entry / library).read_bytes()
    info = {
        "target": target,
        "library": built + "libedgeml_model.so",
        "size_bytes": sizes["so_bytes"],
        "code_size_bytes": footprint["code_bytes"],
        "footprint": {**footprint, "leaf_values": "float32" if float32 else "float64"},
        "compiler": tools.compiler_version,
        "cflags": list(tools.cflags),
        "code_size": sizes,
        "runner": Path(tools.runner[0]).name if tools.runner else "native",
        "cached": hit,
        "sources": sorted(sources),
    }
    return Artifact(files=out_files, info=info, parity=parity, copy_out=sorted(out_files))


def _compile(sources: dict[str, str], directory: Path, tools: Tools, reporter: Reporter) -> None:
    for name, text in sources.items():
        (directory / name).write_text(text, encoding="utf-8")
    units = [directory / n for n in sources if n.endswith(".c") and n != "example.c"]
    estimate = estimate_seconds(units, jobs=2)
    if estimate >= 5:
        reporter.status(
            f"compiling {len(units)} C files for {tools.target}: about {estimate:.0f} s"
        )
    command = [tools.make, "-s", "-j2", "-C", str(directory), f"CC={tools.compiler}",
               f"CFLAGS={' '.join(tools.cflags)}"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = " | ".join((result.stderr or result.stdout).strip().splitlines()[-12:])
        raise ExportError(f"c export: building the package for {tools.target} failed: {message}")
    for leftover in directory.glob("*.o"):
        leftover.unlink()


def _code_size(directory: Path, tools: Tools) -> dict[str, int]:
    """Berkeley ``size`` (text + rodata) of the library: the engine and prep code, the forest's
    tables (``edgeml_forest_data.o``), the archive in total and the .so's text."""
    archive, shared = directory / "libedgeml_model.a", directory / "libedgeml_model.so"
    sizes = {"archive_bytes": archive.stat().st_size, "so_bytes": shared.stat().st_size}
    if tools.size is None:
        return {**sizes, "objects_text": -1, "so_text": -1, "code_text": -1, "tables_text": -1}
    per_object: dict[str, int] = {}
    totals = []
    for path in (archive, shared):
        result = subprocess.run(
            [tools.size, str(path)], capture_output=True, text=True, check=False
        )
        rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
        rows = [row for row in rows if row and row[0].isdigit()]
        totals.append(sum(int(row[0]) for row in rows))
        if path == archive:
            per_object = {row[5]: int(row[0]) for row in rows if len(row) > 5}
    tables = sum(v for k, v in per_object.items() if k.startswith("edgeml_forest_data"))
    return {
        **sizes,
        "objects_text": totals[0],
        "so_text": totals[1],
        "code_text": totals[0] - tables,
        "tables_text": tables,
    }


def _stack_bytes(header: str) -> int:
    """Stack a prediction needs beyond locals: the features and the engine's work memory."""
    defines = dict(re.findall(r"#define (EDGEML_\w+) (\d+)", header))
    return 8 * int(defines["EDGEML_N_FEATURES"]) + int(defines["EDGEML_WORK_BYTES"])


def _parity(
    directory: Path,
    tools: Tools,
    manifest: Manifest,
    reference: Reference,
    reporter: Reporter,
) -> dict[str, Any]:
    """Run the example program on raw and feature rows; compare with LightGBM (1e-6 abs)."""
    plan = manifest.prep
    inputs = raw_inputs(plan)
    base = encode(reference.raw, inputs)
    adversarial = adversarial_raw(plan, inputs, split_values(reference.booster), base)
    prepared = to_matrix(apply_prep(plan, decode(adversarial, inputs)))
    raw_rows = np.vstack([base, adversarial])
    polars_features = np.vstack([reference.matrix, prepared])
    post = Post.from_manifest(manifest)
    raw_expected = _predict(reference, polars_features, post)
    feature_rows = np.vstack(
        [reference.adversarial(), adversarial_features(reference.matrix, reference.categorical)]
    )
    feature_expected = _predict(reference, feature_rows, post)
    where = "natively" if not tools.runner else f"under {Path(tools.runner[0]).name}"
    reporter.status(
        f"parity: running the {tools.target} example {where} on {len(raw_rows)} raw and "
        f"{len(feature_rows)} feature rows"
    )
    raw_out = run_example(directory, tools, raw_rows)
    feature_out = run_example(directory, tools, feature_rows, mode="-f")
    _same_features(
        run_example(directory, tools, raw_rows, mode="-p"), polars_features, raw_rows, plan
    )
    raw_report = compare(f"c ({tools.target})", raw_out, raw_expected, rows=raw_rows)
    feature_report = compare(
        f"c ({tools.target}, features)", feature_out, feature_expected, rows=feature_rows
    )
    if manifest.task in ("binary", "multiclass"):  # outputs agree: labels too?
        _same_labels(run_example(directory, tools, raw_rows, mode="-l"), raw_expected, post)
    worst = max((raw_report, feature_report), key=lambda r: r.max_abs_diff)
    offset = 0 if worst is raw_report else raw_report.rows
    return {
        **worst.to_dict(),
        "rows": raw_report.rows + feature_report.rows,
        "worst_row": offset + worst.worst_row,
        "raw_rows": raw_report.rows,
        "feature_rows": feature_report.rows,
        "reference_rows": len(base),
        "prep_rows_exact": len(raw_rows),
        "executed": where,
    }


def _same_features(ours: np.ndarray, expected: np.ndarray, raw: np.ndarray, plan: PrepPlan) -> None:
    """The C prep must give exactly the Polars executor's features (NaN equal to NaN)."""
    differs = ~((ours == expected) | (np.isnan(ours) & np.isnan(expected)))
    if differs.any():
        row, column = (int(i) for i in np.argwhere(differs)[0])
        raise ParityError(
            f"c export refused: the C prep gives feature {plan.features[column]!r} = "
            f"{ours[row, column]!r} for raw row {row} ({raw[row].tolist()}) where edgeml's prep "
            f"gives {expected[row, column]!r}"
        )


def _predict(reference: Reference, matrix: np.ndarray, post: Post) -> np.ndarray:
    """LightGBM's output, calibrated as the bundle says (``Post`` is the identity otherwise)."""
    if not len(matrix):
        return np.empty((0, reference.booster.num_model_per_iteration()))
    output = reference.predict(matrix)
    return post.calibrate(output) if output.ndim == 1 else output


def _same_labels(labels: np.ndarray, expected: np.ndarray, post: Post) -> None:
    """``edgeml_label`` against the bundle's decision (binary: rows within 1e-9 of the
    threshold aside, where the last bit decides; multiclass: the first largest output)."""
    if expected.ndim == 1:
        decided = post.positive(expected).astype(np.int64)
        clear = np.abs(expected - post.threshold) > 1e-9
    else:
        decided, clear = expected.argmax(axis=1), np.ones(len(expected), dtype=bool)
    wrong = np.flatnonzero(clear & (labels[:, 0].astype(np.int64) != decided))
    if len(wrong):
        row = int(wrong[0])
        raise ParityError(
            f"c export refused: edgeml_label gives class {int(labels[row, 0])} for raw row {row} "
            f"where the bundle's decision gives class {int(decided[row])}"
        )


def run_example(
    directory: Path, tools: Tools, rows: np.ndarray, *, mode: str | None = None
) -> np.ndarray:
    """The example program's outputs for raw ``rows``; ``mode`` ``-f``: rows are model
    features; ``-p``: print the prepared features instead of predictions; ``-l``: print the
    class index ``edgeml_label`` gives."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as handle:
        for row in np.asarray(rows, dtype=np.float64).tolist():
            handle.write(",".join(map(repr, row)) + "\n")  # repr: exact, strtod reads it back
        path = handle.name
    command = [*tools.runner, str(directory / "example"), *([mode] if mode else []), path]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=_RUN_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise ExportError(f"c export: the {tools.target} example program timed out") from None
    finally:
        os.unlink(path)
    if result.returncode != 0:
        raise ExportError(
            f"c export: the {tools.target} example program failed "
            f"({result.returncode}): {result.stderr.strip()[-500:]}"
        )
    lines = result.stdout.splitlines()
    if len(lines) != len(rows):
        raise ExportError(
            f"c export: the {tools.target} example program printed {len(lines)} lines for "
            f"{len(rows)} rows"
        )
    return np.array([[float(v) for v in line.split(",")] for line in lines], dtype=np.float64)
