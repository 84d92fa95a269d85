"""One row through the native engine in one foreign call: prep plan, trees and transform in C.

The bundle's prep plan becomes ``edgeml_plan`` tables (``kernels/edgeml_core.h``) built once
with ctypes, as data: no per-model code. A row (a dict) becomes raw doubles as the C package
takes them (``edgeml.compile._craw``): numbers, category codes, Unix seconds; then
``edgeml_row_predict`` (``kernels/edgeml_row.c``) runs the prep plan, the forest and LightGBM's
output transform and writes the model's outputs. Values are converted exactly as
:class:`~edgeml.runtime.RuntimePrep` converts them (the same ``to_number``/``to_text``/
``to_datetime`` rules and lookup tables), so the outputs are bit for bit those of the Python prep
followed by the engine; a value it would refuse raises the same SchemaError.

Each raw slot belongs to one prep step. Float columns (the common case) are read with one
``itemgetter``; the tuple it gives goes to ``edgeml_row_predict_floats``, which reads the
doubles out of the float objects itself (where CPython keeps them: measured and checked at
start-up, :func:`float_layout`) and predicts in the same call. A value that is not exactly a
float (an int, a bool, a str, a NumPy scalar) makes it return at once, and the row takes the
Python conversion: one ``struct`` pack when every value is a float, int or bool, else value by
value. Where the bundle carries the native export's CPython extension
(``edgeml/compile/_native_pyrow.c``), the dict itself goes to it: it reads the raw slots,
predicts and returns the list (or Predictor's answer) in one builtin call, with no itemgetter,
ctypes conversion or per-thread buffer lookup (500x63: ~0.7 us less a row; telco_churn, whose
categories arrive as text: 6.8 -> 3.0 us). It takes the values whose conversion is short in C
(a float, int, bool or None for a number; None or a category exactly as the model knows it;
None or plain ISO text for a date) and gives None for any other row (a column missing, text for
a number, an unseen or padded category, a date with an offset, a NumPy scalar): that row takes
the paths above. A plan with formatted numbers or dates ("$1,234.5", "03/15/2024") keeps those
paths for every row.

>>> row = NativeRow.build(backend, prep)                          # doctest: +SKIP
>>> row({"tenure": 12, "contract": "month"})                       # doctest: +SKIP
[0.19]
"""

from __future__ import annotations

import ctypes
import datetime as dt
import functools
import math
import operator
import struct
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from edgeml.errors import SchemaError
from edgeml.runtime._prep import RuntimePrep, _number, _stamp, _text
from edgeml.runtime._schema import WHITESPACE, epoch_micros
from edgeml.spec.prep_plan import CategoricalStep, NumericStep, Step

__all__ = ["NativeRow"]

NAN = math.nan
_NONE = ctypes.c_size_t(-1).value  # EDGEML_NONE
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_PARTS = ("year", "month", "day", "weekday", "day_of_year", "hour", "minute")
_PARTS_SET = frozenset(_PARTS)
_ENCODINGS = {"native": 0, "onehot": 1, "frequency": 2}
_NUMBERS = frozenset({float, int, bool})  # what a float column's fast path stores as is
_UNSEEN = -1.0  # a code no category has: unseen (not imputed), as the Python prep
_P = ctypes.c_void_p
# how the extension reads a raw slot (`enum kind` in _native_pyrow.c): by to_number's or
# to_datetime's logical type, or as a category's code
_SLOT_KINDS = {"float": 0, "int": 1, "bool": 2, "date": 4, "datetime": 5}
_CODE = 3


class _Numeric(ctypes.Structure):
    _fields_ = [("input", ctypes.c_size_t), ("output", ctypes.c_size_t),
                ("indicator", ctypes.c_size_t), ("lo", ctypes.c_double),
                ("hi", ctypes.c_double), ("impute", ctypes.c_double),
                ("center", ctypes.c_double), ("inverse", ctypes.c_double)]  # fmt: skip


class _Categorical(ctypes.Structure):
    _fields_ = [("input", ctypes.c_size_t), ("encoding", ctypes.c_int),
                ("output", ctypes.c_size_t), ("n_categories", ctypes.c_size_t),
                ("impute_code", ctypes.c_double), ("frequencies", _P)]  # fmt: skip


class _Date(ctypes.Structure):
    _fields_ = [("input", ctypes.c_size_t), ("n_parts", ctypes.c_size_t), ("parts", _P),
                ("outputs", _P)]  # fmt: skip


class _Plan(ctypes.Structure):
    _fields_ = [("n_inputs", ctypes.c_size_t), ("n_features", ctypes.c_size_t),
                ("n_numeric", ctypes.c_size_t), ("numeric", _P),
                ("n_categorical", ctypes.c_size_t), ("categorical", _P),
                ("n_dates", ctypes.c_size_t), ("dates", _P)]  # fmt: skip


class _PyFloats(ctypes.Structure):
    _fields_ = [("count", ctypes.c_size_t), ("items", ctypes.c_size_t),
                ("type", ctypes.c_size_t), ("value", ctypes.c_size_t),
                ("float_type", _P)]  # fmt: skip


class _Row(ctypes.Structure):
    _fields_ = [("plan", _P), ("forest", _P), ("raw", _P), ("features", _P), ("out", _P),
                ("work", _P), ("floats", _P)]  # fmt: skip


Convert = Callable[[Any], float]


class NativeRow:
    """``row -> list of num_output floats`` through one call of ``edgeml_row_predict``.

    Build with :meth:`build`; safe to call from several threads at once (buffers per thread).
    """

    def __init__(
        self,
        function: Any,
        forest_address: int,
        owner: Any,
        prep: RuntimePrep,
        plan: _Plan,
        keep: list[Any],
        fast: tuple[str, ...],
        others: tuple[tuple[int, str, Convert], ...],
        *,
        num_output: int,
        work_size: int,
        floats_function: Any = None,
        bind: Any = None,
        bind_version: int = 1,
        slots: tuple[Any, ...] | None = None,
    ) -> None:
        self._function = function
        self._forest_address = forest_address
        self._owner = owner  # what holds the forest at forest_address: alive as long as we are
        self._prep = prep
        self._plan = plan
        self._keep = keep  # the arrays the plan points into
        self._fast_columns = fast
        self._fast = operator.itemgetter(*fast) if len(fast) > 1 else None
        self._fast_one = fast[0] if len(fast) == 1 else None
        # one C loop into the ctypes array, 20 floats in ~0.29 us against ~0.36 for a slice
        # assignment (ctypes' setter per element); both convert as PyFloat_AsDouble does
        self._pack = struct.Struct(f"={len(fast)}d").pack_into
        self._others = others
        self._num_output = num_output
        self._work_size = work_size
        self._local = threading.local()
        # the float columns read in C from the itemgetter's tuple, where this Python allows it
        layout = float_layout() if floats_function is not None and len(fast) > 1 else None
        self._floats = None if layout is None else floats_function
        self._py_floats = None if layout is None else _PyFloats(len(fast), *layout, id(float))
        # dict -> outputs in the extension: version 1 of it reads float columns only
        self._bind: Callable[..., Callable[[Any], Any]] | None = None
        self._direct: Callable[[Any], list[float] | None] | None = None
        keys = slots if bind_version >= 2 else fast if fast and not others else None
        if bind is not None and keys:
            address = ctypes.cast(function, ctypes.c_void_p).value
            # each function holds what its addresses point into (never `self`: a capsule is
            # no part of the collector's cycles, so such a cycle would never be freed)
            self._bind = functools.partial(bind, keys, address, ctypes.addressof(plan),
                                           forest_address, plan.n_inputs, num_output,
                                           work_size)  # fmt: skip
            self._direct = self._bind(None, (owner, plan, keep))

    @classmethod
    def build(
        cls, function: Any, forest_address: int, owner: Any, prep: RuntimePrep, *,
        num_output: int, work_size: int, floats_function: Any = None, bind: Any = None,
        bind_version: int = 1,
    ) -> NativeRow | None:  # fmt: skip
        """The one-call path for this prep plan, or None if the plan has a shape the C
        executor does not take (one-hot outputs not consecutive, a step without outputs).
        ``owner`` holds the opened forest at ``forest_address`` (and the blob it points into):
        the row keeps it alive. ``floats_function``: the core's ``edgeml_row_predict_floats``
        (None: a core without it); ``bind``: the extension's ``bind`` (None: none loaded)."""
        position = {name: i for i, name in enumerate(prep.features)}
        numeric: list[_Numeric] = []
        categorical: list[_Categorical] = []
        dates: list[_Date] = []
        keep: list[Any] = []
        fast: list[str] = []
        others: list[tuple[int, str, Convert]] = []
        # (column, raw slot, kind, codes) as the extension reads them; None: a step it cannot
        slots: list[tuple[str, int, int, dict[str, float] | None]] | None = []

        # float columns first: their raw slots 0..k-1 take one slice assignment
        def fast_last(step: Step) -> bool:
            plain = prep.input_schema[step.column] == "float" and step.column not in prep.formats
            return not (isinstance(step, NumericStep) and plain)

        steps = sorted(prep.plan.steps, key=fast_last)
        for slot, step in enumerate(steps):
            logical = prep.input_schema[step.column]
            if isinstance(step, NumericStep):
                numeric.append(_numeric_step(step, slot, position))
                fmt = prep.formats.get(step.column)  # numbers written "$1,234.5"
                if logical == "float" and fmt is None:
                    fast.append(step.column)
                else:
                    convert = _number_converter(logical, step.column, fmt)
                    others.append((slot, step.column, convert))
                kind = _SLOT_KINDS.get(logical) if fmt is None else None
                if slots is not None and kind is not None:
                    slots.append((step.column, slot, kind, None))
                else:
                    slots = None
            elif isinstance(step, CategoricalStep):
                built = _categorical_step(step, slot, position, keep)
                if built is None:
                    return None
                entry, codes = built
                categorical.append(entry)
                others.append((slot, step.column, _code_converter(codes, step.column)))
                if slots is not None:
                    # the categories stripping leaves as they are: found as is, a value is
                    # the one _code_converter would look up
                    exact = {k: v for k, v in codes.items()
                             if type(k) is str and k.strip(WHITESPACE) == k}  # fmt: skip
                    slots.append((step.column, slot, _CODE, exact))
            else:
                if len(step.parts) != len(step.output_names) or not {*step.parts} <= _PARTS_SET:
                    return None
                parts = (ctypes.c_ubyte * len(step.parts))(*(_PARTS.index(p) for p in step.parts))
                outputs = (ctypes.c_size_t * len(step.parts))(
                    *(position[name] for name in step.output_names)
                )
                keep += [parts, outputs]
                dates.append(_Date(slot, len(step.parts), ctypes.addressof(parts),
                                   ctypes.addressof(outputs)))  # fmt: skip
                fmt = prep.formats.get(step.column)  # dates written "03/15/2024"
                others.append((slot, step.column, _seconds_converter(logical, step.column, fmt)))
                kind = _SLOT_KINDS.get(logical) if fmt is None else None
                if slots is not None and kind is not None and bind_version >= 3:
                    slots.append((step.column, slot, kind, None))
                else:
                    slots = None
        arrays: list[int] = []
        groups: tuple[tuple[Any, list[Any]], ...] = (
            (_Numeric, numeric), (_Categorical, categorical), (_Date, dates),
        )  # fmt: skip
        for kind, items in groups:
            array = (kind * max(1, len(items)))(*items)
            keep.append(array)
            arrays += [len(items), ctypes.addressof(array)]
        plan = _Plan(len(steps), len(prep.features), *arrays)
        return cls(function, forest_address, owner, prep, plan, keep, tuple(fast), tuple(others),
                   num_output=num_output, work_size=work_size,
                   floats_function=floats_function, bind=bind, bind_version=bind_version,
                   slots=None if slots is None else tuple(slots))  # fmt: skip

    def __call__(self, row: Mapping[str, Any]) -> list[float]:
        """LightGBM's ``num_output`` values for one input row (extra keys are ignored)."""
        if self._direct is not None:
            outputs = self._direct(row)
            if outputs is not None:
                return outputs
        try:
            raw, out, call = self._local.buffers
        except AttributeError:
            raw, out, call = self._buffers()
        try:
            for slot, column, convert in self._others:
                raw[slot] = convert(row[column])
            if self._fast is not None:
                values = self._fast(row)
                # 0: every value a float, read, prepared and predicted in this one call
                if self._floats is not None and self._floats(call, values) == 0:
                    return out.tolist()
                if _NUMBERS.issuperset(map(type, values)):  # what the pack may convert
                    try:
                        self._pack(raw, 0, *values)
                    except struct.error:  # an int beyond a double: refused one by one
                        self._fill_fast(row, raw)
                else:
                    self._fill_fast(row, raw)
            elif self._fast_one is not None:
                raw[0] = _float(row[self._fast_one], self._fast_one)
        except (KeyError, SchemaError):
            # the error the Python prep gives (the first in its order of steps), then ours
            self._prep.transform_row(row)
            raise
        self._function(call)
        return out.tolist()

    def answering(self, answer: tuple[Any, ...]) -> Callable[[Mapping[str, Any]], Any] | None:
        """``row -> Predictor.predict_row's dict`` in the extension, or None without it. The
        function gives None for a row it does not take as is (this object's call takes it).

        ``answer``: ``("value",)``: ``{"prediction": output}``; ``("binary", threshold,
        (negative, positive), (column, column))``: the positive label where p > threshold,
        and the probabilities [1 - p, p]; ``("classes", labels, columns)``: the first most
        probable label and every class's probability."""
        if self._bind is None:
            return None
        return self._bind(answer, (self._owner, self._plan, self._keep))

    def _fill_fast(self, row: Mapping[str, Any], raw: Any) -> None:
        for slot, column in enumerate(self._fast_columns):
            raw[slot] = _float(row[column], column)

    def floor(self) -> int:
        """Call the C function with NULL (it returns at once): the cost of the foreign call."""
        result: int = self._function(None)
        return result

    def _buffers(self) -> tuple[Any, Any, ctypes.c_void_p]:
        raw = (ctypes.c_double * max(1, self._plan.n_inputs))()
        features = (ctypes.c_double * max(1, self._plan.n_features))()
        out = (ctypes.c_double * self._num_output)()
        work = (ctypes.c_uint64 * max(1, (self._work_size + 1) // 2))()  # 8-byte aligned
        address = ctypes.addressof
        floats = None if self._py_floats is None else address(self._py_floats)
        row = _Row(address(self._plan), self._forest_address, address(raw), address(features),
                   address(out), address(work), floats)  # fmt: skip
        self._local.keep = (features, work, row, out)
        # the outputs as a memoryview of doubles: tolist() ~40 ns against ~105 for out[:]
        view = memoryview(out).cast("B").cast("d")
        buffers = (raw, view, ctypes.c_void_p(ctypes.addressof(row)))
        self._local.buffers = buffers
        return buffers


def float_layout() -> tuple[int, int, int] | None:
    """Where this interpreter keeps a tuple's item pointers, an object's type pointer and a
    float's double (byte offsets from the object's address), for edgeml_row_predict_floats;
    None unless it is CPython and all three are where its type sizes say, checked on live
    objects (a free-threaded build's longer object header included)."""
    if sys.implementation.name != "cpython":
        return None
    pointer, double = ctypes.sizeof(ctypes.c_void_p), ctypes.sizeof(ctypes.c_double)
    # ob_item follows a tuple's header, ob_type ends an object's, ob_fval ends a float's
    items, type_at = tuple.__basicsize__, object.__basicsize__ - pointer
    value_at = float.__basicsize__ - double
    samples = (1.5, -0.0, math.nan, 5e-324, -1.7976931348623157e308, float(2**53 + 1))
    bits = struct.Struct("=d").pack
    for k, value in enumerate(samples):
        item = ctypes.c_void_p.from_address(id(samples) + items + k * pointer).value
        kind = ctypes.c_void_p.from_address(id(value) + type_at).value
        stored = ctypes.c_double.from_address(id(value) + value_at).value
        if item != id(value) or kind != id(float) or bits(stored) != bits(value):
            return None
    return items, type_at, value_at


# -- the plan as tables --------------------------------------------------------------------------


def _numeric_step(step: NumericStep, slot: int, position: dict[str, int]) -> _Numeric:
    # as RuntimePrep's _compile_numeric: no clip is ±inf, no scaling is (x - 0) * 1
    lo, hi = step.clip if step.clip is not None else (-math.inf, math.inf)
    center, scale = step.scale if step.scale is not None else (0.0, 1.0)
    indicator = position[step.missing_indicator] if step.missing_indicator else _NONE
    impute = NAN if step.impute is None else float(step.impute)
    return _Numeric(slot, position[step.output], indicator, float(lo), float(hi), impute,
                    float(center), 1.0 / float(scale))  # fmt: skip


def _categorical_step(
    step: CategoricalStep, slot: int, position: dict[str, int], keep: list[Any]
) -> tuple[_Categorical, dict[str | None, float]] | None:
    """The step's table entry and its code of each category, chosen so that C's
    ``output + code`` (one-hot), ``(double)code`` (native) and ``frequencies[code]`` give what
    RuntimePrep gives (for a repeated category: its last index, one-hot its first)."""
    n = len(step.categories)
    if step.encoding == "onehot":
        if len(step.output_names) != n:
            return None
        first = position[step.output_names[0]] if n else 0
        if any(position[name] != first + k for k, name in enumerate(step.output_names)):
            return None
        codes: dict[str | None, float] = {}
        for k, category in enumerate(step.categories):
            codes.setdefault(category, float(k))
    else:
        if len(step.output_names) != 1:
            return None
        first = position[step.output_names[0]]
        if step.encoding == "frequency" and len(step.frequencies) != n:
            return None
        codes = {category: float(k) for k, category in enumerate(step.categories)}
    impute = codes.get(step.impute, NAN) if step.impute is not None else NAN
    frequencies = None
    if step.encoding == "frequency":
        frequencies = (ctypes.c_double * max(1, n))(*(float(f) for f in step.frequencies))
        keep.append(frequencies)
    table = ctypes.addressof(frequencies) if frequencies is not None else None
    entry = _Categorical(slot, _ENCODINGS[step.encoding], first, n, impute, table)
    return entry, codes


# -- values to raw doubles -----------------------------------------------------------------------


def _float(value: Any, column: str) -> float:
    return value if type(value) is float else _number(value, "float", column)


def _number_converter(logical: str, column: str, fmt: str | None = None) -> Convert:
    fast_int = logical != "bool"

    def convert(value: Any) -> float:
        if type(value) is int and fast_int and _INT64_MIN <= value <= _INT64_MAX:
            return float(value)
        return _number(value, logical, column, fmt)

    return convert


def _code_converter(codes: dict[str | None, float], column: str) -> Convert:
    def convert(value: Any) -> float:
        if type(value) is str:
            value = value.strip(WHITESPACE)  # as to_text: "Male " is "Male"
        else:
            value = _text(value, column)
            if value is None:
                return NAN  # missing: the C executor imputes
        return codes.get(value, _UNSEEN)

    return convert


def _seconds_converter(logical: str, column: str, fmt: str | None) -> Convert:
    def convert(value: Any) -> float:
        if type(value) is not dt.datetime or value.tzinfo is not None:
            value = _stamp(value, logical, column, fmt)
            if value is None:
                return NAN
        return float(epoch_micros(value) // 1_000_000)

    return convert
