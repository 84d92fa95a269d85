"""The ONNX backend of the runtime: the whole pipeline (prep + trees) in one onnxruntime session.

It takes *raw* input columns (``takes_raw_input = True``): the graph applies the prep plan
itself, so the NumPy prep is not used. Values are converted as :func:`edgeml.data.conform` would
(the rules of ``_schema``) and fed as the graph expects them (see ``edgeml.compile._onnx_prep``):
numbers as float64 ``[N, 1]`` with NaN for missing, text as strings with :data:`MISSING_TEXT`
for missing, dates as float64 seconds since 1970-01-01.

onnxruntime is imported when a backend is built, never when ``edgeml.runtime`` is imported.

>>> backend = OnnxBackend.from_bundle("churn.edgeml")                    # doctest: +SKIP
>>> backend.predict({"tenure": [12, None], "contract": ["month", "new"]})  # doctest: +SKIP
array([0.31, 0.12])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeml.bundle import Bundle, open_bundle
from edgeml.errors import BundleError, ExportError, SchemaError
from edgeml.runtime._prep import _micros_column, _number_column, _text_column
from edgeml.runtime._schema import WHITESPACE, epoch_micros, to_datetime, to_number, to_text
from edgeml.spec.prep_plan import DATE_TYPES, NUMERIC_TYPES

__all__ = [
    "MISSING_TEXT",
    "ONNX_FILE",
    "OnnxBackend",
    "feed_column",
    "feeds_for",
    "load_session",
    "seconds_from_micros",
]

# Missing text for a string input: "␀" (U+2400 SYMBOL FOR NULL), which no category read from a
# file holds. NUL itself cannot serve: onnxruntime cuts a string constant at a NUL. The
# empty string cannot serve: it is a value of its own for Polars, not a missing one.
MISSING_TEXT = "\u2400"
ONNX_FILE = "onnx/model.onnx"


def seconds_from_micros(micros: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Microseconds since 1970 as float64 seconds (NaN where missing), for the graph's inputs.

    The graph's calendar reads ``floor(seconds)``, so that floor must be the right second: whole
    seconds and the fraction are converted apart (whole seconds stay exact for any date), and a
    fraction that rounds up to the next second — far from 1970 a double has no room for
    microseconds — is held just below it.

    >>> seconds_from_micros(np.array([-1, 86_400_000_000]), np.array([False, True]))
    array([-1.e-06,     nan])
    """
    whole, fraction = np.divmod(np.asarray(micros, dtype=np.int64), 1_000_000)
    start = whole.astype(np.float64)
    seconds = np.minimum(start + fraction / 1e6, np.nextafter(start + 1.0, -np.inf))
    seconds[np.asarray(missing, dtype=bool)] = np.nan
    return seconds


def load_session(content: bytes, *, threads: int = 1, source: str = ONNX_FILE) -> Any:
    """An onnxruntime session for a serialized model, or a clear :class:`ExportError`."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("the onnx backend needs onnxruntime (pip install onnxruntime)") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: no warnings on stderr from a device
    try:
        return ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own pybind types: Fail, InvalidGraph, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{source}: onnxruntime cannot load the ONNX model: {first}") from None


class OnnxBackend:
    """Predicts from raw input columns with the bundle's ONNX graph.

    ``predict`` returns LightGBM's shapes: ``(n,)`` for binary (the positive class's
    probability) and regression, ``(n, K)`` for multiclass. ``threads`` sets onnxruntime's
    intra-op threads (1 suits single rows best).
    """

    name = "onnx"
    takes_raw_input = True

    def __init__(
        self,
        content: bytes,
        input_schema: Mapping[str, str],
        *,
        threads: int = 1,
        source: str = ONNX_FILE,
        formats: Mapping[str, str] | None = None,
    ) -> None:
        self._session = load_session(content, threads=threads, source=source)
        self.input_schema: dict[str, str] = dict(input_schema)
        #: The date format of each input column written as non-ISO text (the bundle's).
        self.formats: dict[str, str] = dict(formats or {})
        declared = {i.name for i in self._session.get_inputs()}
        if declared != set(self.input_schema):
            raise ExportError(
                f"{source}: the graph's inputs {sorted(declared)} differ from the bundle's input "
                f"columns {sorted(self.input_schema)}"
            )
        outputs = [o.name for o in self._session.get_outputs()]
        if "prediction" not in outputs:
            raise ExportError(
                f"{source}: not an edgeml pipeline graph (outputs {outputs}, expected 'prediction')"
            )
        metadata = self._session.get_modelmeta().custom_metadata_map
        self.output_kind = metadata.get("edgeml.output", "value")
        # The graph applies the bundle's calibration itself (the predictor must not again).
        self.calibrated = metadata.get("edgeml.calibrated") == "1"
        self._outputs = ["prediction"]
        self._feature_outputs = ["features"]

    @classmethod
    def from_bundle(cls, bundle: Bundle | str | Path, *, threads: int = 1) -> OnnxBackend:
        """The backend of a bundle exported with ``--format onnx`` (its bytes checksummed)."""
        if not isinstance(bundle, Bundle):
            bundle = open_bundle(bundle)
        path, manifest = bundle.path, bundle.spec
        entry = manifest.backends.get("onnx")
        if entry is None:
            raise BundleError(
                f"{path}: no onnx export in this bundle (run: edgeml export {path} --format onnx)"
            )
        files = [f for f in entry.files if f.endswith(".onnx")] or [ONNX_FILE]
        file = Path(path) / files[0]
        content = bundle.read(files[0])
        schema = manifest.prep.input_schema
        formats = manifest.prep.input_formats
        return cls(content, schema, threads=threads, source=str(file), formats=formats)

    def __repr__(self) -> str:
        return f"OnnxBackend({len(self.input_schema)} columns -> {self.output_kind})"

    def predict(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> np.ndarray:
        """Predictions for a batch of raw columns (each a sequence of one value per row)."""
        return self._shaped(self._session.run(self._outputs, self.feeds(columns))[0])

    def _shaped(self, output: np.ndarray) -> np.ndarray:
        """The graph's ``[N, 2]``/``[N, K]``/``[N, 1]`` output in LightGBM's shape."""
        if self.output_kind == "binary":
            return np.ascontiguousarray(output[:, 1])
        if self.output_kind == "multiclass":
            return np.asarray(output)
        return np.ascontiguousarray(output[:, 0])

    def predict_row(self, row: Mapping[str, Any]) -> np.ndarray:
        """Predictions for one row ``{column: value}``: shape ``(1,)`` or ``(1, K)``.

        Values are converted one by one (no per-column NumPy round trip), which is most of the
        cost of a single row besides onnxruntime's own.
        """
        feeds: dict[str, np.ndarray] = {}
        try:
            for name, logical in self.input_schema.items():
                feeds[name] = _feed_value(row[name], logical, name, self.formats.get(name))
        except KeyError:
            missing = [c for c in self.input_schema if c not in row]
            if not missing:
                raise
            raise SchemaError(
                f"the row lacks column(s) {', '.join(map(repr, missing))}; "
                f"the model needs: {', '.join(self.input_schema)}"
            ) from None
        return self._shaped(self._session.run(self._outputs, feeds)[0])

    def features(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> np.ndarray:
        """The graph's own prep output (the model's feature matrix) for a batch."""
        return np.asarray(self._session.run(self._feature_outputs, self.feeds(columns))[0])

    def feeds(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> dict[str, np.ndarray]:
        """The graph's inputs for a batch of raw columns."""
        return feeds_for(self.input_schema, columns, self.formats)


def feeds_for(
    input_schema: Mapping[str, str],
    columns: Mapping[str, Sequence[Any] | np.ndarray],
    formats: Mapping[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """The graph's inputs (``[N, 1]`` each) for a batch of raw columns of ``input_schema``."""
    missing = [c for c in input_schema if c not in columns]
    if missing:
        raise SchemaError(
            f"the batch lacks column(s) {', '.join(map(repr, missing))}; "
            f"the model needs: {', '.join(input_schema)}"
        )
    feeds: dict[str, np.ndarray] = {}
    for name, logical in input_schema.items():
        values = columns[name]
        if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
            raise SchemaError(
                f"column {name!r}: expected a sequence of values, got {type(values).__name__}"
            )
        feeds[name] = feed_column(values, logical, name, (formats or {}).get(name))
    if len({len(v) for v in feeds.values()}) > 1:
        raise SchemaError(
            "columns differ in length: "
            + ", ".join(f"{n!r} has {len(v)}" for n, v in feeds.items())
        )
    return feeds


def feed_column(values: Any, logical: str, column: str, fmt: str | None = None) -> np.ndarray:
    """One raw column as the graph's ``[N, 1]`` input for a column of type ``logical`` (date
    text written in ``fmt`` where the bundle recorded one)."""
    if logical in NUMERIC_TYPES:
        return _number_column(values, logical, column, fmt).reshape(-1, 1)
    if logical == "str":
        texts = _text_column(values, column)
        return np.array([MISSING_TEXT if t is None else t for t in texts], dtype=object).reshape(
            -1, 1
        )
    if logical in DATE_TYPES:
        micros, missing = _micros_column(values, logical, column, fmt)
        return seconds_from_micros(micros, missing).reshape(-1, 1)
    raise BundleError(f"column {column!r}: unknown logical type {logical!r}")


def _feed_value(value: Any, logical: str, column: str, fmt: str | None = None) -> np.ndarray:
    """One raw value as a ``[1, 1]`` input (the single-row path of :func:`feed_column`)."""
    try:
        if logical == "str":
            text = value.strip(WHITESPACE) if type(value) is str else to_text(value)
            return np.array([[MISSING_TEXT if text is None else text]], dtype=object)
        if logical in NUMERIC_TYPES:
            number = value if type(value) is float and logical == "float" else None
            if number is None:
                number = to_number(value, logical, fmt)
            return np.array([[number]], dtype=np.float64)
        if logical in DATE_TYPES:
            stamp = to_datetime(value, logical, fmt)
            if stamp is None:
                return np.array([[np.nan]])
            return seconds_from_micros(np.array([[epoch_micros(stamp)]]), np.array([[False]]))
    except ValueError as exc:
        raise SchemaError(f"column {column!r}: {exc}") from None
    raise BundleError(f"column {column!r}: unknown logical type {logical!r}")


def load_backend(bundle: Bundle, *, threads: int = 1) -> OnnxBackend:
    """The runtime's loader hook (see ``edgeml.runtime._backend``)."""
    return OnnxBackend.from_bundle(bundle, threads=threads)
