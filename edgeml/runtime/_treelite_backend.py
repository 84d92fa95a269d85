"""The ``treelite`` backend: the bundle's compiled library called through ctypes.

No TL2cgen, no DMatrix: ``edgeml_predict_row`` reads the prepared feature vector in place and
``edgeml_predict_batch`` loops over rows in C (optionally on several threads), so a batch never
loops in Python. See :mod:`edgeml.compile._treecode` for the entry points.

>>> backend = load_backend(open_bundle("churn.edgeml"))          # doctest: +SKIP
>>> backend.predict(np.zeros((2, backend.num_feature)))           # doctest: +SKIP
array([0.21, 0.21])
"""

from __future__ import annotations

import ctypes
import platform
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeml.errors import ExportError
from edgeml.runtime._native import load_library

if TYPE_CHECKING:
    from edgeml.bundle import Bundle

__all__ = ["ABI_VERSION", "TreeliteBackend", "load_backend"]

ABI_VERSION = 1  # edgeml_abi_version() of libraries this runtime can call
_Doubles = ctypes.Array[ctypes.c_double]
_RERUN = "re-export it on this machine: edgeml export BUNDLE --format treelite"


class TreeliteBackend:
    """A compiled model library; ``predict`` takes a prepared ``(n, num_feature)`` matrix.

    Both ``predict`` and ``predict_one`` are safe to call from several threads at once.
    """

    name = "treelite"
    takes_raw_input = False

    def __init__(self, library: str | Path, *, threads: int = 1, data: bytes | None = None) -> None:
        """Load ``data`` (the library's verified bytes), or the file ``library`` read once;
        ``library`` names it in messages either way."""
        self.library = Path(library)
        self.threads = max(1, int(threads))
        lib = _open(self.library, data)
        try:
            abi = lib.edgeml_abi_version()
            self.num_feature = int(lib.edgeml_num_feature())
            self.num_output = int(lib.edgeml_num_output())
            self._row = lib.edgeml_predict_row
            self._batch = lib.edgeml_predict_batch
        except AttributeError as exc:
            raise ExportError(f"{self.library}: not an edgeml model library ({exc})") from None
        if abi != ABI_VERSION:
            raise ExportError(
                f"{self.library}: library ABI version {abi}, this runtime calls version "
                f"{ABI_VERSION}; {_RERUN}"
            )
        # Pointers as plain integers: the cheapest argument conversion ctypes has.
        self._row.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._row.restype = None
        self._batch.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_int]
        self._batch.restype = ctypes.c_int
        self._lib = lib  # keeps the library loaded as long as the functions are used
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"TreeliteBackend({self.library}, {self.num_feature} features)"

    def predict(self, inputs: np.ndarray | Mapping[str, Any]) -> np.ndarray:
        """LightGBM's output for a prepared matrix: ``(n,)``, or ``(n, K)`` for multiclass."""
        matrix = np.ascontiguousarray(inputs, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.num_feature:
            raise ExportError(
                f"{self.library}: expected a matrix of {self.num_feature} feature columns, "
                f"got shape {matrix.shape}"
            )
        out = np.empty((len(matrix), self.num_output), dtype=np.float64)
        if len(matrix):
            self._batch(matrix.ctypes.data, len(matrix), out.ctypes.data, self.threads)
        return out[:, 0] if self.num_output == 1 else out

    def predict_one(self, features: np.ndarray | Sequence[float]) -> list[float]:
        """One prepared row (``num_feature`` values) to LightGBM's ``num_output`` values.

        Each thread has its own preallocated C buffers: the row is copied in, the library
        called with their addresses (getting a NumPy array's address costs more than the call).
        """
        try:
            inp, inp_address, out, out_address = self._local.buffers
        except AttributeError:
            inp, inp_address, out, out_address = self._local.buffers = self._buffers()
        try:
            inp[:] = features.tolist() if isinstance(features, np.ndarray) else features
        except (ValueError, TypeError):
            raise ExportError(
                f"{self.library}: expected one row of {self.num_feature} numbers, got "
                f"{np.shape(features)}"
            ) from None
        self._row(inp_address, out_address)
        return out[:]

    def _buffers(self) -> tuple[_Doubles, int, _Doubles, int]:
        inp = (ctypes.c_double * self.num_feature)()
        out = (ctypes.c_double * self.num_output)()
        return inp, ctypes.addressof(inp), out, ctypes.addressof(out)


def load_backend(bundle: Bundle, *, threads: int = 1) -> TreeliteBackend:
    """The bundle's treelite export, checked: listed and checksummed in the bundle (the bytes
    hashed are the bytes loaded), for this machine, loadable, right width."""
    manifest = bundle.spec
    entry = manifest.backends.get("treelite")
    if entry is None or entry.library is None:
        raise ExportError(f"{bundle.path}: has no treelite export; {_RERUN}")
    # The name was checked by the bundle's path validator (inside, listed in files), and
    # read() refuses links and checks the sha256 of the bytes it returns: a ChecksumError or
    # BundleError here is not a fallback to another backend, it refuses the bundle.
    data = bundle.read(entry.library)
    library = bundle.path / entry.library
    machine = entry.machine
    if machine and machine != platform.machine():
        raise ExportError(
            f"{library}: compiled for {machine}, this machine is {platform.machine()}; {_RERUN} "
            "(or use --format c --target TRIPLE for a device)"
        )
    backend = TreeliteBackend(library, threads=threads, data=data)
    expected = len(manifest.features.model) or entry.num_feature
    if expected is not None and backend.num_feature != expected:
        raise ExportError(
            f"{library}: takes {backend.num_feature} features, the model has {expected}; {_RERUN}"
        )
    return backend


def _open(library: Path, data: bytes | None) -> ctypes.CDLL:
    """Load a shared library, turning a bad file into a clear ExportError (never a crash)."""
    if data is None:
        try:
            data = library.read_bytes()
        except OSError as exc:
            raise ExportError(f"{library}: cannot be read ({exc.strerror}); {_RERUN}") from None
    try:
        return load_library(data, source=str(library))
    except ExportError as exc:
        raise ExportError(f"{exc}; {_RERUN}") from None
