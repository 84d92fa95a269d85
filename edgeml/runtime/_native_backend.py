"""The ``native`` backend: edgeml's tree engine (one C core) over the bundle's table blob.

The bundle holds ``native/core.so`` (``kernels/edgeml_forest*.c``, compiled once per machine)
and ``native/forest.bin`` (the model as flat arrays, ``edgeml.compile._native_tables``). The
core checks the blob completely before use (size, version, CRC-32, every index), so a corrupted
or truncated blob is an :class:`~edgeml.errors.ExportError`, never a read out of bounds. A batch
is one foreign call (on ``threads`` threads in C); a single row is one call on preallocated
buffers.

>>> backend = load_backend(open_bundle("churn.edgeml"))          # doctest: +SKIP
>>> backend.predict(np.zeros((2, backend.num_feature)))           # doctest: +SKIP
array([0.21, 0.21])
"""

from __future__ import annotations

import ctypes
import platform
import struct
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeml.errors import ExportError
from edgeml.runtime._native import load_extension, load_library
from edgeml.runtime._native_row import NativeRow

if TYPE_CHECKING:
    from edgeml.bundle import Bundle
    from edgeml.runtime._prep import RuntimePrep

__all__ = ["ALGORITHMS", "ERRORS", "SIMD", "NativeBackend", "load_backend", "open_core"]

_RERUN = "re-export it: edgeml export BUNDLE --format native"
ERRORS = {
    1: "truncated (its size differs from what its header says)",
    2: "not a native forest table (bad magic)",
    3: "written by another version of edgeml's engine",
    4: "corrupted (checksum mismatch)",
    5: "corrupted header (a count or setting out of range)",
    6: "corrupted thresholds of feature {where}",
    7: "corrupted slot {where}",
    8: "corrupted tree {where}",
    9: "corrupted node {where}",
    10: "misaligned in memory",
    11: "corrupted QuickScorer section (entry, slot or tree {where})",
}
# edgeml_forest_set_algorithm's bits (kernels/edgeml_forest.h): QuickScorer for single rows
# (8) and batches (16), its batches off the SIMD lanes (64: tests and the benchmark compare the
# two), and for single rows of narrow and compact forests the refilling walk (256) or groups of
# trees (512); "walk" keeps the walk edgeml_forest_open chose
ALGORITHMS = {"walk": 0, "quickscorer": 8 | 16, "quickscorer-scalar": 8 | 16 | 64,
              "walk-refill": 256, "walk-groups": 512}  # fmt: skip
SIMD = {0: "scalar", 1: "neon", 2: "avx2"}  # edgeml_forest_simd()
ROW_WALKS = {0: "groups", 1: "refill", 2: "chains", 3: "quickscorer"}  # edgeml_forest_row_walk()
_Doubles = ctypes.Array[ctypes.c_double]


def open_core(library: Path, data: bytes | None = None) -> ctypes.CDLL:
    """Load the engine's shared library (ELF checked first) and declare its functions.

    ``data``: the library's bytes, already verified (from the bundle); loaded as they are,
    never re-read from ``library`` (see :mod:`edgeml.runtime._native`)."""
    try:
        lib = load_library(library.read_bytes() if data is None else data, source=str(library))
        lib.edgeml_forest_open.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                           ctypes.POINTER(ctypes.c_size_t)]  # fmt: skip
        lib.edgeml_forest_open.restype = ctypes.c_int
        lib.edgeml_forest_sizeof.restype = ctypes.c_size_t
        lib.edgeml_forest_work_size.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.edgeml_forest_work_size.restype = ctypes.c_size_t
        if hasattr(lib, "edgeml_forest_one_size"):  # absent from cores before it
            lib.edgeml_forest_one_size.argtypes = [ctypes.c_void_p]
            lib.edgeml_forest_one_size.restype = ctypes.c_size_t
        pointer = ctypes.c_void_p
        lib.edgeml_forest_predict.argtypes = [pointer, pointer, ctypes.c_size_t, pointer,
                                              ctypes.c_int, pointer]  # fmt: skip
        lib.edgeml_forest_predict.restype = ctypes.c_int
        if hasattr(lib, "edgeml_forest_one"):
            lib.edgeml_forest_one.argtypes = [pointer, pointer, pointer, pointer]
            lib.edgeml_forest_one.restype = None
        if hasattr(lib, "edgeml_forest_set_algorithm"):  # absent from cores before QuickScorer
            lib.edgeml_forest_set_algorithm.argtypes = [pointer, ctypes.c_uint32]
            lib.edgeml_forest_set_algorithm.restype = ctypes.c_int
        if hasattr(lib, "edgeml_forest_row_walk"):  # absent from cores before it
            lib.edgeml_forest_row_walk.argtypes = [pointer]
            lib.edgeml_forest_row_walk.restype = ctypes.c_int
        if hasattr(lib, "edgeml_forest_simd"):  # absent from cores before SIMD QuickScorer
            lib.edgeml_forest_simd.argtypes = []
            lib.edgeml_forest_simd.restype = ctypes.c_int
        if hasattr(lib, "edgeml_row_predict"):  # absent from cores built before it existed
            lib.edgeml_row_predict.argtypes = [pointer]
            lib.edgeml_row_predict.restype = ctypes.c_int
        if hasattr(lib, "edgeml_forest_chain"):  # absent from cores before the chains
            lib.edgeml_forest_chain_size.argtypes = [pointer]
            lib.edgeml_forest_chain_size.restype = ctypes.c_size_t
            lib.edgeml_forest_chain.argtypes = [pointer, pointer, ctypes.c_size_t]
            lib.edgeml_forest_chain.restype = ctypes.c_int
        if hasattr(lib, "edgeml_forest_qs8"):  # absent from cores before the lanes' own tables
            lib.edgeml_forest_qs8_size.argtypes = [pointer]
            lib.edgeml_forest_qs8_size.restype = ctypes.c_size_t
            lib.edgeml_forest_qs8.argtypes = [pointer, pointer, ctypes.c_size_t]
            lib.edgeml_forest_qs8.restype = ctypes.c_int
        if hasattr(lib, "edgeml_row_predict_floats"):  # the same, and absent before it
            lib.edgeml_row_predict_floats.argtypes = [pointer, ctypes.py_object]
            lib.edgeml_row_predict_floats.restype = ctypes.c_int
    except OSError as exc:
        raise ExportError(f"{library}: cannot be loaded ({exc}); {_RERUN}") from None
    except AttributeError as exc:
        raise ExportError(f"{library}: not edgeml's engine ({exc}); {_RERUN}") from None
    return lib


class NativeBackend:
    """The engine over one forest; ``predict`` takes a prepared ``(n, num_feature)`` matrix.

    ``predict`` and ``predict_one`` are safe to call from several threads at once.
    """

    name = "native"
    takes_raw_input = False

    def __init__(
        self,
        lib: ctypes.CDLL,
        blob: bytes,
        *,
        threads: int = 1,
        source: str,
        chains: bool = True,
        lane_tables: bool = True,
    ) -> None:
        self.source = source
        #: the bundle's CPython extension (edgeml/compile/_native_pyrow.c), set by load_backend:
        #: a row of float columns goes from its dict to the engine without Python in between
        self.row_extension: Any = None
        self.threads = max(1, int(threads))
        # 8-byte aligned copy: the core maps its arrays in place
        self._blob = np.frombuffer(blob + b"\0" * (-len(blob) % 8), dtype=np.uint64).copy()
        self._forest = ctypes.create_string_buffer(int(lib.edgeml_forest_sizeof()) + 8)
        self._forest_address = ctypes.addressof(self._forest)
        where = ctypes.c_size_t(0)
        status = lib.edgeml_forest_open(
            self._blob.ctypes.data, len(blob), self._forest_address, ctypes.byref(where)
        )
        if status != 0:
            reason = ERRORS.get(status, f"refused (error {status})").format(where=where.value)
            raise ExportError(f"{source}: the forest table is {reason}; {_RERUN}")
        # single rows of a narrow forest that refill walk chains laid out in memory of their
        # own (kernels/edgeml_forest_chain.c); chains=False keeps the refilling lanes (tests)
        self._chain = self._lay_out(lib, "edgeml_forest_chain") if chains else None
        # QuickScorer's byte lanes' tables depend only on the forest: laid out once here, not
        # by every batch call's every thread (lane_tables=False: by each call, as before; tests)
        self._qs8 = self._lay_out(lib, "edgeml_forest_qs8") if lane_tables else None
        counts = struct.unpack_from("<7I", blob, 16)
        self.num_feature, self.num_output = int(counts[0]), int(counts[1])
        self._predict = lib.edgeml_forest_predict
        # single rows run the blob's single-row algorithm (edgeml_forest_one), batches its
        # batch one; a core without edgeml_forest_one predicts a row as a batch of one
        self._one = getattr(lib, "edgeml_forest_one", None)
        self._work_size = int(lib.edgeml_forest_work_size(self._forest_address, self.threads))
        # a single row's work memory (each thread keeps one): what edgeml_forest_one uses, not
        # a batch share's (the lanes' room); a core without the function gives the share's
        one_size = getattr(lib, "edgeml_forest_one_size", None)
        self._one_work = int(
            one_size(self._forest_address) if one_size is not None
            else lib.edgeml_forest_work_size(self._forest_address, 1)
        )  # fmt: skip
        self._lib = lib  # keeps the library loaded as long as its functions are used
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"NativeBackend({self.source}, {self.num_feature} features)"

    def _lay_out(self, lib: ctypes.CDLL, name: str) -> np.ndarray | None:
        """The forest's extra tables that core function ``name`` lays out (``name + '_size'``
        says how many bytes), in memory on a cache line of its own; None where this core has
        no such function or the forest needs none."""
        if not hasattr(lib, name):
            return None
        size = int(getattr(lib, name + "_size")(self._forest_address))
        if size == 0:
            return None
        memory = np.zeros(size + 64, dtype=np.uint8)
        start = -memory.ctypes.data % 64
        if getattr(lib, name)(self._forest_address, memory.ctypes.data + start, size) != 0:
            return None
        return memory

    @property
    def memory(self) -> dict[str, int]:
        """Bytes a prediction needs beside the blob: ``row``, each thread's single-row work
        memory (kept with its buffers); ``batch_per_thread``, a batch's work memory per thread
        (one allocation per call); ``laid_out``, the chains and byte lanes' tables (once per
        forest, shared read-only by every thread)."""
        share = int(self._lib.edgeml_forest_work_size(self._forest_address, 1))
        laid_out = sum(len(m) - 64 for m in (self._chain, self._qs8) if m is not None)
        return {"row": 4 * self._one_work, "batch_per_thread": 4 * share, "laid_out": laid_out}

    @property
    def simd(self) -> str:
        """The SIMD lanes QuickScorer's batches take on this CPU (``avx2``, ``neon``), or
        ``scalar`` (none: a blob's QuickScorer batches walk)."""
        function = getattr(self._lib, "edgeml_forest_simd", None)
        return "scalar" if function is None else SIMD.get(int(function()), "scalar")

    @property
    def row_walk(self) -> str:
        """What single rows run now: ``groups``, ``refill`` (refilling lanes), ``chains`` or
        ``quickscorer``; ``unknown`` from a core that predates the question."""
        function = getattr(self._lib, "edgeml_forest_row_walk", None)
        if function is None:
            return "unknown"
        return ROW_WALKS.get(int(function(self._forest_address)), "unknown")

    def set_algorithm(self, *, row: str, batch: str) -> bool:
        """Run single rows and batches with ``walk`` or ``quickscorer`` (what export measures;
        ``quickscorer-scalar``: batches off the SIMD lanes; single rows of a narrow or compact
        forest also ``walk-refill`` or ``walk-groups``, see ``kernels/edgeml_forest.h``); False
        (nothing changed) where the blob has no QuickScorer section (or is wide, for those
        two) or the core predates it. Not thread-safe: call it before sharing the backend."""
        function = getattr(self._lib, "edgeml_forest_set_algorithm", None)
        use = (ALGORITHMS[row] & (8 | 256 | 512)) | (ALGORITHMS[batch] & (16 | 64))
        return function is not None and function(self._forest_address, use) == 0

    def predict(self, inputs: np.ndarray | Mapping[str, Any]) -> np.ndarray:
        """LightGBM's output for a prepared matrix: ``(n,)``, or ``(n, K)`` for multiclass."""
        matrix = np.ascontiguousarray(inputs, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.num_feature:
            raise ExportError(
                f"{self.source}: expected a matrix of {self.num_feature} feature columns, "
                f"got shape {matrix.shape}"
            )
        out = np.empty((len(matrix), self.num_output), dtype=np.float64)
        if len(matrix):
            work = np.empty(self._work_size, dtype=np.uint32)  # the core aligns it itself
            self._predict(self._forest_address, matrix.ctypes.data, len(matrix),
                          out.ctypes.data, self.threads, work.ctypes.data)  # fmt: skip
        return out[:, 0] if self.num_output == 1 else out

    def predict_one(self, features: np.ndarray | Sequence[float]) -> list[float]:
        """One prepared row to LightGBM's ``num_output`` values: one call on this thread's
        preallocated buffers."""
        try:
            inp, inp_address, out, out_address, work_address = self._local.buffers
        except AttributeError:
            inp, inp_address, out, out_address, work_address = self._buffers()
        try:
            inp[:] = features.tolist() if isinstance(features, np.ndarray) else features
        except (ValueError, TypeError):
            raise ExportError(
                f"{self.source}: expected one row of {self.num_feature} numbers, got "
                f"{np.shape(features)}"
            ) from None
        if self._one is not None:
            self._one(self._forest_address, inp_address, out_address, work_address)
        else:
            self._predict(self._forest_address, inp_address, 1, out_address, 1, work_address)
        return out[:]

    def row_predictor(self, prep: RuntimePrep) -> NativeRow | None:
        """Prep, trees and transform of one raw row in one foreign call (see
        :mod:`edgeml.runtime._native_row`), or None if this core predates it or the plan has a
        shape its C executor does not take."""
        function = getattr(self._lib, "edgeml_row_predict", None)
        if function is None or len(prep.features) != self.num_feature:
            return None
        return NativeRow.build(function, self._forest_address, self, prep,
                               num_output=self.num_output, work_size=self._one_work,
                               floats_function=getattr(self._lib, "edgeml_row_predict_floats",
                                                       None),
                               bind=getattr(self.row_extension, "bind", None),
                               bind_version=getattr(self.row_extension, "VERSION", 1))  # fmt: skip

    def _buffers(self) -> tuple[_Doubles, int, _Doubles, int, int]:
        inp = (ctypes.c_double * self.num_feature)()
        out = (ctypes.c_double * self.num_output)()
        # uint64 for its 8-byte alignment: the core keeps doubles after the uint32 codes
        work = (ctypes.c_uint64 * max(1, (self._one_work + 1) // 2))()
        self._local.work = work  # kept alive with the thread's buffers
        buffers = (inp, ctypes.addressof(inp), out, ctypes.addressof(out), ctypes.addressof(work))
        self._local.buffers = buffers
        return buffers


def load_backend(bundle: Bundle, *, threads: int = 1) -> NativeBackend:
    """The bundle's native export, checked: listed and checksummed in the bundle (the bytes
    hashed are the bytes loaded), for this machine, a valid table."""
    manifest = bundle.spec
    entry = manifest.backends.get("native")
    if entry is None or entry.library is None or entry.tables is None:
        raise ExportError(f"{bundle.path}: has no native export; {_RERUN}")
    # Both names were checked by the bundle's path validator; read() refuses links and checks
    # each file's sha256: a BundleError here refuses the bundle, it is not a fallback.
    core, blob = bundle.read(entry.library), bundle.read(entry.tables)
    library, tables = bundle.path / entry.library, bundle.path / entry.tables
    machine = entry.machine
    if machine and machine != platform.machine():
        raise ExportError(
            f"{library}: compiled for {machine}, this machine is {platform.machine()}; {_RERUN}"
        )
    backend = NativeBackend(open_core(library, core), blob, threads=threads, source=str(tables))
    extension = entry.extra.get("row_extension")
    if isinstance(extension, str):  # checked and hashed by read() as the others
        backend.row_extension = load_extension(
            bundle.read(extension), source=str(bundle.path / extension), name="edgeml_pyrow"
        )
    expected = len(manifest.features.model) or backend.num_feature
    if backend.num_feature != expected:
        raise ExportError(
            f"{tables}: takes {backend.num_feature} features, the model has {expected}; {_RERUN}"
        )
    return backend
