"""The native export's optional CPython extension: a dict of values to the engine in one call.

``_native_pyrow.c`` reads a row's numbers and known categories out of the dict, runs
``edgeml_row_predict`` and returns the outputs, where the ctypes path spends about 1 µs of a
500x63 single row in Python, and 3-4 µs of telco_churn's, whose categories arrive as text (see
benchmarks/README.md). It knows nothing of the model, uses
CPython's stable ABI (3.11 and later) and is built, like the core, once per machine and cached.
Where Python's headers are not installed there is no extension, and the runtime keeps the ctypes
path: the results are the same bits either way.

>>> row_extension() is None or row_extension().name == FILE_NAME     # doctest: +SKIP
True
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from edgeml.compile._cpackage import kernels_dir
from edgeml.compile._toolchain import cache_key, cached_build, compile_shared, find_compiler

__all__ = ["FILE_NAME", "row_extension"]

# The module's name must be what its PyInit_ function says; abi3: any CPython >= 3.11 loads it.
FILE_NAME = "edgeml_pyrow.abi3.so"
SOURCE = Path(__file__).with_name("_native_pyrow.c")
FLAGS = ("-O2", "-fPIC", "-std=c99", "-fvisibility=default")


def python_headers() -> list[Path]:
    """The folders holding this Python's ``Python.h`` and ``pyconfig.h``; empty if absent
    (a Python installed without its development files)."""
    paths = sysconfig.get_paths()
    folders = list(dict.fromkeys(Path(paths[k]) for k in ("include", "platinclude") if k in paths))
    if not any((folder / "Python.h").is_file() for folder in folders):
        return []
    return folders


def row_extension() -> Path | None:
    """The extension for this machine's Python, built on first use and cached; None where
    Python's headers are missing (the runtime then keeps its ctypes path)."""
    headers = python_headers()
    if not headers or not SOURCE.is_file():
        return None
    kernels = kernels_dir()
    compiler = find_compiler("host")
    includes = (f"-I{kernels}", *(f"-I{folder}" for folder in headers))
    key = cache_key(
        "native-pyrow", compiler.version, " ".join(FLAGS), *includes, SOURCE.read_bytes(),
        *(p.read_bytes() for p in sorted(kernels.glob("*.h"))),
    )  # fmt: skip

    def make(directory: Path) -> None:
        compile_shared([SOURCE], directory / FILE_NAME, flags=(*FLAGS, *includes), link_flags=())

    entry, _ = cached_build(key, make)
    return entry / FILE_NAME
