"""Score one batch of raw rows: the bundle's plans run by Polars, the trees by a compiled backend.

The rows go through what ``edgeml.load(bundle).predict`` does — :func:`edgeml.data.conform`,
the feature plan (carried across batches, see :mod:`edgeml.batch._carry`), the prep plan
(:func:`edgeml.prep.apply_prep`) — all vectorised, then the backend that
:func:`edgeml.runtime.load` picked predicts the whole matrix in one call, and the bundle's
calibration and decision threshold (:class:`edgeml.runtime.Post`) make the output columns.

>>> scorer = Scorer(edgeml.load("churn.edgeml"), edgeml.runtime.load("churn.edgeml").backend)
... # doctest: +SKIP
>>> scorer.score(batch).columns                                    # doctest: +SKIP
['customer_id', 'prediction', 'proba_No', 'proba_Yes']
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from edgeml.batch._scan import Batch
from edgeml.data import (
    BUNDLE_ID_COLS,
    POLARS_TYPES,
    bad_value,
    column_not_found,
    conform,
    infer_types,
    logical_schema,
)
from edgeml.errors import SchemaError
from edgeml.prep import apply_prep, to_matrix
from edgeml.runtime import Backend, contribution_names, explanation
from edgeml.spec.feature_plan import TargetHistoryStep

if TYPE_CHECKING:
    from edgeml import Model
    from edgeml.batch._carry import FeatureCarry

__all__ = ["Prepared", "Scorer"]

_HERE = "\x00"  # stands for the batch in conform's messages, replaced by the file and row
_ROW = re.compile(r"^\x00: column (?P<column>.+?) row (?P<row>\d+): (?P<rest>.*)$", re.S)


@dataclass(frozen=True)
class Prepared:
    """A batch made ready for the trees: ``inputs`` go to the backend (the prepared ``matrix``,
    or raw columns); ``matrix`` is there too when the batch is to be explained."""

    rows: int
    ids: list[pl.Series]
    inputs: Any
    matrix: np.ndarray | None


class Scorer:
    """Predictions for batches of one stream, in order (time-series state is carried)."""

    def __init__(
        self,
        model: Model,
        backend: Backend,
        *,
        id_cols: Sequence[str] | None = None,
        explain: bool = False,
        id_types: dict[str, str] | None = None,
    ) -> None:
        self.model = model
        self.backend = backend
        self.explain = explain
        self.schema = dict(model.input_schema)
        self.ids = list(model.spec.id_cols if id_cols is None else id_cols)
        # what a missing id column's message says named it (a model input is needed anyway)
        option = BUNDLE_ID_COLS if id_cols is None else "--id-cols"
        self._named = {c: option for c in self.ids if c not in self.schema}
        # numbers written with signs or separators ("$1,234.5") are read as text, then with
        # their format by conform
        written = model.input_formats
        self.numbers = [c for c, t in self.schema.items() if t == "float" and c not in written]
        # integer model columns parsed as such (an id column stays text: typed by the first batch)
        self.integers = [
            c for c, t in self.schema.items() if t == "int" and c not in [*self.ids, *written]
        ]
        parsed = {*self.numbers, *self.integers}
        self.text = [c for c in [*self.schema, *self.ids] if c not in parsed]
        plan = model.feature_plan
        history = plan.selected and any(isinstance(s, TargetHistoryStep) for s in plan.steps)
        self.optional = [model.target.name] if history else []
        self.carry: FeatureCarry | None = None
        if plan.selected:  # the Numba kernels are imported only for a plan that needs them
            from edgeml.batch._carry import FeatureCarry

            self.carry = FeatureCarry(plan)
        # the id columns' logical types: given (a Dask task takes the driver's), or typed
        # from the first batch
        self._id_types = id_types
        # what the raw-input (ONNX) backend takes: the prep plan's own input columns
        self._raw_schema = dict(model.plan.input_schema)

    @property
    def columns(self) -> dict[str, Any]:
        """Scan arguments: model columns read as numbers, as integers, as text, optional
        ones, and the id columns with the option that named them."""
        return {"numbers": self.numbers, "integers": self.integers, "text": self.text,
                "optional": self.optional, "named": self._named,
                "needed": list(self.schema)}  # fmt: skip

    def score(self, batch: Batch) -> pl.DataFrame:
        """The prediction frame of ``batch``: id columns, ``prediction``, ``proba_<class>``."""
        return self.finish(self.prepare(batch))

    def prepare(self, batch: Batch) -> Prepared:
        """Everything before the trees: ids, conformed rows, features, the prepared matrix (or
        the raw columns a raw-input backend takes). Batches of one stream are prepared in order
        (the time-series carry), on any one thread."""
        frame = batch.frame
        formats = self.model.input_formats
        conformed = _named(
            batch, lambda: conform(frame, self.schema, source=_HERE, formats=formats)
        )
        ids = self._ids(batch, conformed)
        if self.carry is not None:
            _one_kernel_thread()
            target = self._history(frame, batch.source)
            conformed = self.carry.apply(
                conformed, target=target, source=batch.source, where=batch.where
            )
        matrix = None
        if self.explain or not self.backend.takes_raw_input:
            matrix = to_matrix(apply_prep(self.model.plan, conformed))
        if self.backend.takes_raw_input:
            return Prepared(frame.height, ids, _raw_columns(conformed, self._raw_schema), matrix)
        return Prepared(frame.height, ids, matrix, matrix)

    def finish(self, prepared: Prepared) -> pl.DataFrame:
        """The trees on a prepared batch, then the output columns."""
        raw = self.backend.predict(prepared.inputs)
        columns = [*prepared.ids, *self._outputs(np.asarray(raw, dtype=np.float64))]
        if self.explain and prepared.matrix is not None:
            reasons = explanation(
                self.model.booster,
                prepared.matrix,
                self.model.plan.features,
                self.model.target.classes,
            )
            columns += [pl.Series(name, values) for name, values in reasons.items()]
        return pl.DataFrame(columns)

    def empty(self) -> pl.DataFrame:
        """The output of no rows (an input with a header and no rows): every column a batch
        would have, with its type, so that the output is still a table others can read."""
        target = self.model.target
        known = self._id_types or {}
        ids = [
            pl.Series(c, [], dtype=POLARS_TYPES[known.get(c) or self.schema.get(c, "str")])
            for c in self.ids
        ]
        if target.classes is None:
            columns = [*ids, pl.Series("prediction", [], dtype=pl.Float64)]
        else:
            labels = pl.Series("prediction", target.classes).clear()  # typed as finish types it
            probas = [pl.Series(f"proba_{c}", [], dtype=pl.Float64) for c in target.classes]
            columns = [*ids, labels, *probas]
        if self.explain:
            if target.classes is not None and len(target.classes) > 2:
                columns.append(pl.Series("explained_class", target.classes).clear())
            names = contribution_names(self.model.plan.features)
            columns += [pl.Series(name, [], dtype=pl.Float64) for name in names]
        return pl.DataFrame(columns)

    def _outputs(self, raw: np.ndarray) -> list[pl.Series]:
        target, post = self.model.target, self.model.post
        if target.classes is None:
            return [pl.Series("prediction", raw)]
        output = np.column_stack([1.0 - raw, raw]) if target.task == "binary" else raw
        output, codes = post.decide(output)
        labels = pl.Series("prediction", target.classes).gather(codes)
        probas = [pl.Series(f"proba_{c}", output[:, k]) for k, c in enumerate(target.classes)]
        return [labels, *probas]

    def id_types(self, batch: Batch) -> dict[str, str]:
        """The id columns' logical types, typed from ``batch`` when it is the first one (as the
        one-shot read types them, from the first rows), fixed from then on."""
        present = batch.frame.columns
        for column, option in self._named.items():
            if column not in present:
                raise SchemaError(column_not_found(column, option, present, source=batch.source))
        if self._id_types is None:
            keep = [self.model.target.name, *(c for c, t in self.schema.items() if t == "str")]
            ids = batch.frame.select(self.ids)
            self._id_types = logical_schema(infer_types(ids, keep_raw=keep))
        return self._id_types

    def _ids(self, batch: Batch, conformed: pl.DataFrame) -> list[pl.Series]:
        if not self.ids:
            return []
        types = self.id_types(batch)
        # an id the model also reads as the same type is already converted (a time column)
        done = [c for c in self.ids if self.schema.get(c) == types[c]]
        rest = [c for c in self.ids if c not in done]
        ids = batch.frame.select(rest)
        converted = _named(batch, lambda: conform(ids, {c: types[c] for c in rest}, source=_HERE))
        return [conformed[c] if c in done else converted[c] for c in self.ids]

    def _history(self, frame: pl.DataFrame, source: str) -> np.ndarray | None:
        """The target's past values, encoded (NaN where unknown), as ``edgeml.load`` feeds them."""
        name = self.model.target.name
        if not self.optional or name not in frame.columns:
            return None
        # typed as the one-shot read types it (labels "0"/"1" are numbers, "Yes"/"No" text)
        column = infer_types(frame.select(name), keep_raw=[name])[name]
        present = column.is_not_null().to_numpy()
        values = np.full(frame.height, np.nan)
        if present.any():
            values[present] = self.model.target.encode(column.filter(present), source=source)
        return values


def _one_kernel_thread() -> None:
    """Run the Numba feature kernels called from this thread on this thread alone.

    The engine predicts on the cores meanwhile (or other Dask workers do), and Numba's OpenMP
    threads spin while they wait: with 2 threads on 2 busy cores, the fleet's features took 2.5×
    the CPU time and 4× the wall time of one thread. The setting is per calling thread.
    """
    from numba import set_num_threads

    set_num_threads(1)


def _named(batch: Batch, convert: Any) -> pl.DataFrame:
    """Run ``convert`` and name the file and row of a value it refuses."""
    try:
        frame: pl.DataFrame = convert()
    except SchemaError as exc:
        match = _ROW.match(str(exc))
        if match is None:
            raise SchemaError(str(exc).replace(_HERE, batch.source)) from None
        row = int(match["row"]) - 1  # of the batch
        column = ast.literal_eval(match["column"])  # the repr conform wrote
        message = bad_value(batch.source, column, batch.first_row + row + 1, match["rest"],
                          line=batch.line_of(row))  # fmt: skip
        raise SchemaError(message) from None
    return frame


def _raw_columns(frame: pl.DataFrame, schema: dict[str, str]) -> dict[str, np.ndarray]:
    """Columns as the ONNX backend takes them: numbers and times as NumPy arrays (converted
    without a Python loop), text as an object array (the backend maps None to its marker)."""
    out: dict[str, np.ndarray] = {}
    for name, logical in schema.items():
        series = frame[name]
        if logical == "str":
            out[name] = series.cast(pl.String).to_numpy()
        elif logical in ("date", "datetime"):
            out[name] = series.cast(pl.Datetime("us")).to_numpy()
        else:
            out[name] = series.cast(pl.Float64).fill_null(float("nan")).to_numpy()
    return out
