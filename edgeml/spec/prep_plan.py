"""The fitted PrepPlan: plain, JSON-serialisable dataclasses, one per kind of column step.

The plan is data, not code: the Polars executor (``edgeml.prep``) runs it for training and batch
prediction, and the other executors (the NumPy runtime ``edgeml.runtime``, generated C, ONNX) run
the same plan on devices. This module imports only the standard library and ``edgeml.errors``, so
a device can read a plan without Polars.

>>> plan = PrepPlan.from_dict({"columns": [{"name": "x", "dtype": "float", "role": "feature"}],
...                            "steps": [{"kind": "numeric", "column": "x", "output": "x"}]})
>>> plan.features, plan.input_schema
(['x'], {'x': 'float'})
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from edgeml.errors import BundleError
from edgeml.util.dateformat import check_format
from edgeml.util.fields import check_fields
from edgeml.util.numberformat import check_number_format

DATE_PARTS_DATE = ("year", "month", "day", "weekday", "day_of_year")
DATE_PARTS_DATETIME = (*DATE_PARTS_DATE, "hour", "minute")

Role = Literal["feature", "target", "time", "entity", "group", "id", "dropped"]


@dataclass(frozen=True, kw_only=True)
class ColumnSpec:
    """One input column: its logical dtype and the role it plays."""

    name: str
    dtype: str
    role: Role
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class NumericStep:
    """A numeric (or boolean, as 0/1) input: clip, flag missing, impute, scale, in that order.

    NaN counts as missing. ``clip`` bounds are the training fences; ``impute`` replaces missing
    values after clipping; ``scale`` is ``(center, scale)`` applied as ``(x - center) / scale``.
    """

    column: str
    output: str
    clip: tuple[float, float] | None = None
    missing_indicator: str | None = None
    impute: float | None = None
    scale: tuple[float, float] | None = None
    reasons: list[str] = field(default_factory=list)
    kind: Literal["numeric"] = "numeric"

    @property
    def outputs(self) -> list[str]:
        extra = [self.missing_indicator] if self.missing_indicator else []
        return [self.output, *extra]


@dataclass(frozen=True, kw_only=True)
class CategoricalStep:
    """A categorical input mapped through the training vocabulary.

    ``native``: the category's index in ``categories`` (a LightGBM categorical feature);
    ``onehot``: one 0/1 output per category; ``frequency``: the category's training share.
    A value not in ``categories`` (unseen, or rare and cut) is treated like a missing one: NaN
    code, all-zero one-hot, frequency 0 — so unseen categories predict without error.
    """

    column: str
    encoding: Literal["native", "onehot", "frequency"]
    categories: list[str]
    frequencies: list[float] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    impute: str | None = None
    reasons: list[str] = field(default_factory=list)
    kind: Literal["categorical"] = "categorical"

    @property
    def outputs(self) -> list[str]:
        return list(self.output_names)


@dataclass(frozen=True, kw_only=True)
class DatePartsStep:
    """A date or datetime input expanded to numeric calendar parts (weekday: Monday = 1)."""

    column: str
    parts: list[str]
    output_names: list[str]
    reasons: list[str] = field(default_factory=list)
    kind: Literal["date_parts"] = "date_parts"

    @property
    def outputs(self) -> list[str]:
        return list(self.output_names)


Step = NumericStep | CategoricalStep | DatePartsStep

#: Logical column types a numeric step reads (booleans as 0/1) and a date-parts step reads.
NUMERIC_TYPES: tuple[str, ...] = ("float", "int", "bool")
DATE_TYPES: tuple[str, ...] = ("date", "datetime")


def input_types(step: Step) -> tuple[str, ...]:
    """The logical types of the column ``step`` reads; every executor checks against this.

    >>> input_types(DatePartsStep(column="t", parts=["year"], output_names=["t_year"]))
    ('date', 'datetime')
    """
    if isinstance(step, NumericStep):
        return NUMERIC_TYPES
    if isinstance(step, CategoricalStep):
        return ("str",)
    return DATE_TYPES


_STEP_KINDS: dict[str, type] = {
    "numeric": NumericStep,
    "categorical": CategoricalStep,
    "date_parts": DatePartsStep,
}


@dataclass(frozen=True, kw_only=True)
class PrepPlan:
    """Everything stage 2 learned from the training rows, with the reason for each decision."""

    columns: list[ColumnSpec]
    steps: list[Step]
    row_filters: list[dict[str, Any]] = field(default_factory=list)
    #: The date format (edgeml.util.dateformat) of each date or datetime column written as
    #: non-ISO text, and the number format (edgeml.util.numberformat) of each number column
    #: written with signs or separators; every executor reads that column's text with it.
    #: Absent in older plans.
    formats: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """The model's input features, in order."""
        return [name for step in self.steps for name in step.outputs]

    @property
    def categorical_features(self) -> list[str]:
        """Features LightGBM treats as native categoricals."""
        return [
            step.output_names[0]
            for step in self.steps
            if isinstance(step, CategoricalStep) and step.encoding == "native"
        ]

    @property
    def input_schema(self) -> dict[str, str]:
        """Columns needed at prediction time (features' sources) with the logical dtypes every
        executor reads them as. A column of whole numbers is read as ``float``: the model compares
        floats, and a decimal that the training rows happened not to hold (``12.5`` in a column
        of counts) is a number to predict on, not a bad row.

        >>> PrepPlan(columns=[ColumnSpec(name="n", dtype="int", role="feature"),
        ...                   ColumnSpec(name="id", dtype="int", role="id")], steps=[]).input_schema
        {'n': 'float'}
        """
        return {
            c.name: "float" if c.dtype == "int" else c.dtype
            for c in self.columns
            if c.role == "feature"
        }

    @property
    def input_formats(self) -> dict[str, str]:
        """The date format of each input column (of :attr:`input_schema`) that has one."""
        inputs = self.input_schema
        return {c: f for c, f in self.formats.items() if c in inputs}

    def to_dict(self) -> dict[str, Any]:
        formats = {"formats": dict(self.formats)} if self.formats else {}
        return {
            "columns": [dataclasses.asdict(c) for c in self.columns],
            "steps": [dataclasses.asdict(s) for s in self.steps],
            "row_filters": list(self.row_filters),
            **formats,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PrepPlan:
        try:
            steps = [_step_from_dict(s) for s in raw["steps"]]
            columns = [ColumnSpec(**c) for c in raw["columns"]]
            plan = cls(columns=columns, steps=steps, row_filters=list(raw.get("row_filters", [])),
                       formats=dict(raw.get("formats", {})))  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"manifest prep plan is malformed: {exc}") from None
        _check_formats(plan)
        for k, part in enumerate([*plan.columns, *plan.steps, plan]):
            check_fields(part, where=f"manifest prep plan, {type(part).__name__} {k}")
        inputs = plan.input_schema
        for step in plan.steps:
            dtype = inputs.get(step.column)
            if dtype is None:
                raise BundleError(
                    f"manifest prep plan: a {step.kind} step reads column {step.column!r}, "
                    "which is not one of the plan's input columns"
                )
            if dtype not in input_types(step):
                raise BundleError(
                    f"manifest prep plan: a {step.kind} step reads column {step.column!r}, "
                    f"whose type is {dtype!r}; expected {' or '.join(input_types(step))}"
                )
        return plan


def _check_formats(plan: PrepPlan) -> None:
    dtypes = {c.name: c.dtype for c in plan.columns}
    for column, fmt in plan.formats.items():
        numbers = dtypes.get(column) in ("float", "int")
        if not numbers and dtypes.get(column) not in ("date", "datetime"):
            raise BundleError(
                f"manifest prep plan: formats names {column!r}, which is not a date, datetime "
                "or number column of the plan"
            )
        try:
            (check_number_format if numbers else check_format)(fmt)
        except (ValueError, TypeError) as exc:
            raise BundleError(f"manifest prep plan: formats.{column}: {exc}") from None


def _step_from_dict(raw: dict[str, Any]) -> Step:
    kind = raw.get("kind")
    if kind not in _STEP_KINDS:
        raise BundleError(f"manifest prep plan: unknown step kind {kind!r}")
    values = dict(raw)
    for key in ("clip", "scale"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    step: Step = _STEP_KINDS[kind](**values)
    return step
