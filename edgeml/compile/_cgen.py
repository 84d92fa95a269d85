"""Generate the C package's own sources: the public header, the plan as C tables, a Makefile,
an example program and a README (the tree code comes from ``_ctrees``, the core from
``kernels/``).

Everything here is text generation; the result is a ``{file name: text}`` dict.

>>> from edgeml.spec.prep_plan import PrepPlan
>>> plan = PrepPlan.from_dict({
...     "columns": [{"name": "x", "dtype": "float", "role": "feature"}],
...     "steps": [{"kind": "numeric", "column": "x", "output": "x", "impute": 0.5}]})
>>> model = ModelInfo(task="regression", target="y", classes=[], n_outputs=1, version="0")
>>> files = package_sources(plan, model, tree_files=["edgeml_trees.c"], tree_inputs=[0])
>>> sorted(files)
['Makefile', 'README.md', 'edgeml_model.c', 'edgeml_model.h', 'example.c']
>>> "#define EDGEML_N_INPUTS 1" in files["edgeml_model.h"]
True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from edgeml.compile._cpost import LABEL_API, calibration_source, label_function, threshold_define
from edgeml.compile._craw import RawInput, raw_inputs
from edgeml.compile._ctemplates import API, EXAMPLE, MAKEFILE, MODEL_SOURCE, README
from edgeml.errors import ExportError
from edgeml.runtime import Post
from edgeml.spec.prep_plan import CategoricalStep, DatePartsStep, NumericStep, PrepPlan

__all__ = ["CORE_FILES", "ModelInfo", "c_string", "package_sources"]

CORE_FILES = ("edgeml_core.h", "edgeml_core.c")
_PART_ENUMS = {
    "year": "EDGEML_YEAR",
    "month": "EDGEML_MONTH",
    "day": "EDGEML_DAY",
    "weekday": "EDGEML_WEEKDAY",
    "day_of_year": "EDGEML_DAY_OF_YEAR",
    "hour": "EDGEML_HOUR",
    "minute": "EDGEML_MINUTE",
}
_ENCODINGS = {"native": "EDGEML_NATIVE", "onehot": "EDGEML_ONEHOT", "frequency": "EDGEML_FREQUENCY"}


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """What the header documents about the model: task, target, classes, output width."""

    task: str
    target: str
    classes: list[str]
    n_outputs: int
    version: str
    post: Post = field(default_factory=Post)  # a binary model's calibration and threshold


def package_sources(
    plan: PrepPlan, model: ModelInfo, *, tree_files: list[str], tree_inputs: list[int]
) -> dict[str, str]:
    """The header, the plan tables + API, Makefile, example and README of a C package."""
    inputs = raw_inputs(plan)
    if not plan.features:
        raise ExportError("c export: the model has no features")
    if len(tree_inputs) != len(plan.features):
        raise ExportError(
            f"c export: the booster reads {len(tree_inputs)} features, the prep plan makes "
            f"{len(plan.features)}"
        )
    names = _Names()
    sources = ["edgeml_core.c", "edgeml_model.c", *sorted(f for f in tree_files if f[-2:] == ".c")]
    return {
        "edgeml_model.h": _header(plan, inputs, model, names),
        "edgeml_model.c": _model_source(plan, inputs, tree_inputs, model),
        "Makefile": _makefile(sources),
        "example.c": EXAMPLE,
        "README.md": _readme(inputs, model, names),
    }


# -- C text helpers ------------------------------------------------------------------------------


def c_string(text: str) -> str:
    """A C99 string literal for any text (UTF-8 bytes; safe in comments and against trigraphs).

    >>> print(c_string('a"b\\\\c*/?'))
    "a\\"b\\\\c*\\057\\?"
    """
    out = []
    previous = ""
    for byte in text.encode():
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif char == "?":
            out.append("\\?")  # no trigraphs (??/ would be a backslash in C99)
        elif char == "/" and previous == "*":
            out.append("\\057")  # never close a comment the literal is quoted in
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")  # octal escapes stop after 3 digits, unlike \x
        previous = char
    return '"' + "".join(out) + '"'


def _double(value: float | None, missing: str = "NAN") -> str:
    """A C double constant equal to ``value`` (repr round-trips exactly)."""
    if value is None or value != value:
        return missing
    if math.isinf(value):
        return "HUGE_VAL" if value > 0 else "-HUGE_VAL"
    text = repr(float(value))
    return text if any(c in text for c in ".en") else text + ".0"


# Names the headers define: a generated constant must never redefine one.
_RESERVED = {
    "EDGEML_OK", "EDGEML_ERR_NULL", "EDGEML_ERR_WIDTH", "EDGEML_ERR_OUT", "EDGEML_N_INPUTS",
    "EDGEML_N_FEATURES", "EDGEML_N_OUTPUTS", "EDGEML_TASK", "EDGEML_NONE",
    "EDGEML_ZERO_THRESHOLD", "EDGEML_NATIVE", "EDGEML_ONEHOT", "EDGEML_FREQUENCY",
    "EDGEML_TREE_NUMERIC", "EDGEML_TREE_ZERO_MISSING", "EDGEML_TREE_CATEGORICAL",
    "EDGEML_CORE_H", "EDGEML_MODEL_H", "EDGEML_MAX_SECONDS", "EDGEML_DAY_SECONDS",
    *_PART_ENUMS.values(),
}  # fmt: skip


class _Names:
    """Unique C identifiers made from arbitrary column and category names."""

    def __init__(self) -> None:
        self.used: set[str] = set(_RESERVED)
        self.idents: dict[str, str] = {}

    def make(self, *parts: str) -> str:
        """An upper-case constant ``EDGEML_<PART>_<PART>``, numbered if already taken."""
        words = [re.sub(r"[^0-9A-Za-z]+", "_", p).strip("_").upper()[:40] or "X" for p in parts]
        return self._unique("EDGEML_" + "_".join(words))

    def ident(self, column: str) -> str:
        """The lower-case identifier of a column (``edgeml_<ident>_categories``), stable."""
        if column not in self.idents:
            base = re.sub(r"[^0-9a-z]+", "_", column.lower()).strip("_")[:40] or "x"
            self.idents[column] = self._unique(base)
        return self.idents[column]

    def _unique(self, base: str) -> str:
        name, n = base, 2
        while name in self.used:
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        return name


# -- edgeml_model.h ------------------------------------------------------------------------------


def _header(plan: PrepPlan, inputs: list[RawInput], model: ModelInfo, names: _Names) -> str:
    outputs = _output_names(model)
    width = max(len(i.name) for i in inputs)
    table = "\n".join(
        f" *   {j:3d}  {spec.name.ljust(width)}  {_describe(spec, names)}".rstrip()
        for j, spec in enumerate(inputs)
    )
    out_lines = "\n".join(f" *   {k:3d}  {name}" for k, name in enumerate(outputs))
    lines = [
        "/*",
        f" * edgeml_model.h - {model.task} model of {_comment(model.target)}, generated by edgeml "
        f"{model.version}.",
        " * Do not edit: re-export the bundle instead.",
        " *",
        " * Predict from raw input values: no allocation, no global state, thread-safe; a call",
        " * uses 8 * EDGEML_N_FEATURES bytes of stack for the model features, and a few locals.",
        " *",
        " *     double raw[EDGEML_N_INPUTS];      (one value per input column, order below)",
        " *     double out[EDGEML_N_OUTPUTS];",
        " *     int rc = edgeml_predict_row(raw, EDGEML_N_INPUTS, out, EDGEML_N_OUTPUTS);",
        ' *     if (rc != EDGEML_OK) fprintf(stderr, "%s\\n", edgeml_strerror(rc));',
        " *",
        " * Inputs, in this order (a double each; NaN is a missing value in every column):",
        " *",
        table,
        " *",
        " * Categorical columns take the code of a category (its enum below); any other number,",
        " * e.g. -1, is a category unseen in training and predicts like a missing value. Dates",
        " * are Unix seconds in UTC (fractions floored).",
        " *",
        f" * Outputs ({_output_doc(model)}):",
        " *",
        out_lines,
        " *",
        " * The numbers equal LightGBM's Booster.predict after edgeml's prep (and the bundle's",
        " * calibration, if any) within 1e-6: edgeml",
        " * checked this package on the training reference rows and on rows probing every split",
        " * before exporting it.",
        " */",
        "#ifndef EDGEML_MODEL_H",
        "#define EDGEML_MODEL_H",
        "",
        "#include <stddef.h>",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        "/* Return codes of every function below. */",
        "#define EDGEML_OK 0        /* success */",
        "#define EDGEML_ERR_NULL 1  /* an input or output pointer is NULL */",
        "#define EDGEML_ERR_WIDTH 2 /* a row's width is not EDGEML_N_INPUTS (or _FEATURES) */",
        "#define EDGEML_ERR_OUT 3   /* the output buffer holds fewer values than needed */",
        "",
        f"#define EDGEML_N_INPUTS {len(inputs)}    /* raw input columns per row */",
        f"#define EDGEML_N_FEATURES {len(plan.features)}  /* model features per row, after prep */",
        f"#define EDGEML_N_OUTPUTS {model.n_outputs}   /* values written per row */",
        f"#define EDGEML_TASK {c_string(model.task)}",
        *threshold_define(model.task, model.post),
        "",
        "/* Index of each input column in a raw row. */",
        "enum edgeml_input {",
        *[
            f"    {names.make('IN', spec.name)} = {j},{_trail(spec.name)}"
            for j, spec in enumerate(inputs)
        ],
        "};",
        "",
        "/* Names of the input columns, the features and the outputs, in order. */",
        _string_table("edgeml_input_names", "EDGEML_N_INPUTS", [i.name for i in inputs]),
        _string_table("edgeml_feature_names", "EDGEML_N_FEATURES", plan.features),
        _string_table("edgeml_output_names", "EDGEML_N_OUTPUTS", outputs),
        "",
    ]
    for spec in inputs:
        if spec.kind == "category":
            lines += _category_block(spec, names)
    lines += [
        API,
        LABEL_API,
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        "#endif /* EDGEML_MODEL_H */",
        "",
    ]
    return "\n".join(lines)


def _describe(spec: RawInput, names: _Names) -> str:
    if spec.kind == "category":
        return f"category code (enum edgeml_{names.ident(spec.name)}_codes)"
    if spec.kind == "date":
        return f"{spec.dtype}: Unix seconds, UTC"
    if spec.kind == "unused":
        return f"{spec.dtype}: not used by the model (any value)"
    return {"bool": "bool: 0 or 1", "int": "int: a whole number"}.get(spec.dtype, "number")


def _comment(text: str) -> str:
    return c_string(text)[1:-1]


def _trail(text: str) -> str:
    return f" /* {c_string(text)} */"


def _string_table(name: str, size: str, values: list[str]) -> str:
    body = "".join(f"\n    {c_string(v)}," for v in values)
    return f"static const char *const {name}[{size}] = {{{body}\n}};"


def _category_block(spec: RawInput, names: _Names) -> list[str]:
    ident = names.ident(spec.name)
    count = names.make(spec.name, "N_CATEGORIES")
    return [
        f"/* Codes of column {c_string(spec.name)}: unseen -> any other number; NaN missing. */",
        f"enum edgeml_{ident}_codes {{",
        *[
            f"    {names.make(spec.name, c)} = {k},{_trail(c)}"
            for k, c in enumerate(spec.categories)
        ],
        "};",
        f"#define {count} {len(spec.categories)}",
        _string_table(f"edgeml_{ident}_categories", count, list(spec.categories))
        if spec.categories
        else f"/* column {c_string(spec.name)} has no category left after training */",
        "",
    ]


def _output_names(model: ModelInfo) -> list[str]:
    if model.task == "binary":
        return [f"proba_{model.classes[1]}" if len(model.classes) > 1 else "proba"]
    if model.task == "multiclass":
        return [f"proba_{c}" for c in model.classes]
    return ["prediction"]


def _output_doc(model: ModelInfo) -> str:
    if model.task == "binary":
        positive = model.classes[1] if len(model.classes) > 1 else "1"
        calibrated = "" if model.post.method == "none" else f", {model.post.method}-calibrated"
        return (
            f"the probability of class {c_string(str(positive))}, as LightGBM's Booster.predict"
            f"{calibrated}; edgeml_label gives the class"
        )
    if model.task == "multiclass":
        return "the probability of each class, in this order"
    return f"the predicted {c_string(model.target)}"


# -- edgeml_model.c ------------------------------------------------------------------------------


def _model_source(
    plan: PrepPlan, inputs: list[RawInput], tree_inputs: list[int], model: ModelInfo
) -> str:
    column = {spec.name: j for j, spec in enumerate(inputs)}
    feature = {name: i for i, name in enumerate(plan.features)}
    numeric: list[str] = []
    categorical: list[str] = []
    dates: list[str] = []
    tables: list[str] = []
    for step in plan.steps:
        j = column[step.column]
        if isinstance(step, NumericStep):
            numeric.append(_numeric(step, j, feature))
        elif isinstance(step, CategoricalStep):
            categorical.append(_categorical(step, j, feature, len(categorical), tables))
        else:
            dates.append(_date(step, j, feature, len(dates), tables))
    arrays = []
    for kind, items in (("numeric", numeric), ("categorical", categorical), ("date", dates)):
        if items:
            body = "".join(f"\n    {item}," for item in items)
            arrays.append(f"static const edgeml_{kind}_step {kind}_steps[] = {{{body}\n}};")

    def field(kind: str, items: list[str]) -> str:
        return f"{len(items)}, {kind}_steps" if items else "0, NULL"

    kinds = ", ".join(str(k) for k in tree_inputs)
    return MODEL_SOURCE.format(
        tables="\n".join(tables),
        arrays="\n".join(arrays),
        plan=f"EDGEML_N_INPUTS, EDGEML_N_FEATURES, {field('numeric', numeric)}, "
        f"{field('categorical', categorical)}, {field('date', dates)}",
        kinds=kinds,
        calibration=calibration_source(model.task, model.post),
        label=label_function(model.task, model.post),
    )


def _numeric(step: NumericStep, j: int, feature: dict[str, int]) -> str:
    lo, hi = step.clip if step.clip is not None else (None, None)
    center, scale = step.scale if step.scale is not None else (0.0, 1.0)
    indicator = feature[step.missing_indicator] if step.missing_indicator else "EDGEML_NONE"
    return (
        f"{{{j}, {feature[step.output]}, {indicator}, {_double(lo, '-HUGE_VAL')}, "
        f"{_double(hi, 'HUGE_VAL')}, {_double(step.impute)}, {_double(center)}, "
        f"{_double(1.0 / scale if scale else math.copysign(math.inf, scale))}}} "
        f"/* {_comment(step.column)} */"
    )


def _categorical(
    step: CategoricalStep, j: int, feature: dict[str, int], n: int, tables: list[str]
) -> str:
    impute = "NAN"
    if step.impute is not None and step.impute in step.categories:
        impute = f"{step.categories.index(step.impute)}.0"
    frequencies = "NULL"
    if step.encoding == "frequency" and step.categories:
        frequencies = f"frequencies_{n}"
        values = ", ".join(_double(f) for f in step.frequencies)
        tables.append(f"static const double {frequencies}[] = {{{values}}};")
    first = feature[step.output_names[0]] if step.output_names else 0
    return (
        f"{{{j}, {_ENCODINGS[step.encoding]}, {first}, {len(step.categories)}, {impute}, "
        f"{frequencies}}} /* {_comment(step.column)} */"
    )


def _date(step: DatePartsStep, j: int, feature: dict[str, int], n: int, tables: list[str]) -> str:
    parts = ", ".join(_PART_ENUMS[p] for p in step.parts)
    outputs = ", ".join(str(feature[name]) for name in step.output_names)
    tables.append(f"static const unsigned char date_parts_{n}[] = {{{parts}}};")
    tables.append(f"static const size_t date_outputs_{n}[] = {{{outputs}}};")
    return (
        f"{{{j}, {len(step.parts)}, date_parts_{n}, date_outputs_{n}}} "
        f"/* {_comment(step.column)} */"
    )


# -- Makefile, example, README -------------------------------------------------------------------


def _makefile(sources: list[str]) -> str:
    return MAKEFILE.replace("@SOURCES@", " \\\n    ".join(sources))


def _readme(inputs: list[RawInput], model: ModelInfo, names: _Names) -> str:
    rows = "\n".join(
        f"| {j} | `{spec.name}` | {_describe(spec, names)} |" for j, spec in enumerate(inputs)
    )
    return README.format(
        task=model.task,
        target=model.target,
        version=model.version,
        outputs=_output_doc(model).replace('"', "`"),
        inputs=rows,
    )
