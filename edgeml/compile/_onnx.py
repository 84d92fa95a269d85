"""The ``onnx`` export: one ONNX graph for the whole pipeline, proven equal to Polars + LightGBM.

The graph (``onnx/model.onnx`` in the bundle) takes the raw input columns (``_onnx_prep``
documents each input's type and missing marker), applies the prep plan, and runs the trees in
double precision (``_onnx_trees`` says which op and why). Outputs:

- ``prediction``: ``[N, 2]`` ``[1 - p, p]`` for binary, ``[N, K]`` for multiclass, ``[N, 1]``
  for regression — LightGBM's ``predict`` numbers;
  (a binary model's calibration applied, as the bundle's ``calibration`` says);
- ``features``: ``[N, F]``, the model's feature matrix, so the prep can be checked on its own;
- ``label``: ``[N, 1]`` int64 class index for classifiers (binary: ``p > threshold``, the
  bundle's decision threshold).

Before it is accepted the graph passes ``onnx.checker`` (full check, shape inference included)
and three parity suites run by onnxruntime, each within 1e-6 of ``Booster.predict``:

1. the bundle's reference rows (raw), whose features must also equal the Polars prep exactly;
2. raw adversarial rows: every split threshold of a numeric feature mapped back through the
   prep (its float64/float32 neighbours too), clip fences, NaN, ±inf, 0, every category, unseen
   and empty strings, missing text, and dates across calendar edges — again features exactly;
3. the feature-space adversarial rows of ``_parity`` through the trees alone (values no raw
   input can produce, e.g. a threshold of a scaled feature exactly).

>>> from edgeml.compile import export
>>> export("churn.edgeml", format="onnx").info["size_bytes"]  # doctest: +SKIP
14236
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import lightgbm as lgb
import numpy as np
import onnx
import polars as pl
from onnx import TensorProto, helper

from edgeml.compile import Artifact, ExportRequest
from edgeml.compile._forest import Forest, parse_model
from edgeml.compile._onnx_graph import ML_OPSET, OPSET, GraphBuilder, matrix_output
from edgeml.compile._onnx_post import add_calibration, add_label
from edgeml.compile._onnx_prep import add_prep
from edgeml.compile._onnx_trees import Link, add_ensemble, add_link, ensemble_model, link_of
from edgeml.compile._parity import (
    ParityReport,
    Reference,
    compare,
    load_reference,
    probe_values,
    split_values,
)
from edgeml.errors import ExportError, ParityError
from edgeml.prep import apply_prep, to_matrix
from edgeml.runtime import MISSING_TEXT, ONNX_FILE, Post, load_session, seconds_from_micros
from edgeml.spec.prep_plan import CategoricalStep, NumericStep, PrepPlan

__all__ = ["build", "check_model", "frame_feeds", "pipeline_model", "prep_model", "raw_probes"]

UNSEEN_TEXT = "\u2063edgeml-unseen"  # a category no training set holds
_EPOCH = dt.datetime(1970, 1, 1)


def build(request: ExportRequest) -> Artifact:
    """Convert the bundle's prep plan and model to one ONNX graph and prove it equals LightGBM.

    The graph is target-independent (``target`` is recorded, not used).
    """
    manifest, files, reporter = request.manifest, request.files, request.reporter
    plan = manifest.prep
    expected = manifest.features.model
    if expected is not None and list(expected) != plan.features:
        extra = [f for f in expected if f not in plan.features]
        raise ExportError(
            f"the ONNX export covers the prep plan only, but the model reads features "
            f"{extra[:5] or expected[:5]} that the plan does not yield in that order "
            "(engineered features need the runtime's streaming state)"
        )
    reference = load_reference(manifest, files)
    forest = parse_model(files[manifest.model_file].decode())
    reporter.status("building the ONNX graph (prep plan + trees, double precision)")
    post = Post.from_manifest(manifest)
    model, link = pipeline_model(plan, forest, post=post)
    check_model(model)
    content = model.SerializeToString()
    reporter.status("checking the ONNX graph against Polars + LightGBM")
    session = load_session(content, threads=int(request.options.get("threads", 1)))
    suites: dict[str, ParityReport] = {}
    suites["reference"] = _check_raw(
        session, plan, reference.raw, reference.booster, "reference rows", post
    )
    probes = raw_probes(plan, reference.booster, reference.raw)
    suites["raw_adversarial"] = _check_raw(
        session, plan, probes, reference.booster, "adversarial rows", post
    )
    suites["feature_adversarial"] = _check_trees(forest, reference, link)
    worst = max(suites.values(), key=lambda r: r.max_abs_diff)
    parity = {
        "rows": sum(r.rows for r in suites.values()),
        "max_abs_diff": worst.max_abs_diff,
        "worst_row": worst.worst_row,
        "tolerance": worst.tolerance,
        "passed": all(r.passed for r in suites.values()),
        "features_exact": True,
        "suites": {name: r.to_dict() for name, r in suites.items()},
    }
    info = {
        "size_bytes": len(content),
        "opset": {"ai.onnx": OPSET, "ai.onnx.ml": ML_OPSET},
        "tree_op": "ai.onnx.ml.TreeEnsemble (opset 5, double)",
        "output": link.kind,
        "inputs": {
            name: "string" if dtype == "str" else "double"
            for name, dtype in plan.input_schema.items()
        },
        "missing_text": MISSING_TEXT,
        "date_unit": "seconds since 1970-01-01 (UTC)",
        "calibration": post.method if link.kind == "binary" else "none",
        "threshold": post.threshold if link.kind == "binary" else None,
    }
    return Artifact(files={ONNX_FILE: content}, info=info, parity=parity)


def pipeline_model(
    plan: PrepPlan, forest: Forest, *, post: Post | None = None
) -> tuple[onnx.ModelProto, Link]:
    """The whole-pipeline graph for a plan and a model (the IR of :mod:`._forest`), and its link.

    ``post`` (a binary model's calibration and threshold) is applied inside the graph.
    """
    post = post or Post()
    n_model = forest.num_feature
    if n_model != len(plan.features):
        raise ExportError(
            f"the model reads {n_model} features but the prep plan yields {len(plan.features)}"
        )
    g = GraphBuilder()
    inputs, features = add_prep(g, plan, output="features")
    raw = add_ensemble(g, features, forest)
    calibrate = link_of(forest).kind == "binary" and post.method != "none"
    probabilities = g.fresh("uncalibrated") if calibrate else "prediction"
    link = add_link(g, raw, forest, output=probabilities)
    if calibrate:
        add_calibration(g, probabilities, post, output="prediction")
    outputs = [
        matrix_output("prediction", link.width),
        matrix_output("features", len(plan.features)),
    ]
    if add_label(g, "prediction", link.kind, post, output="label"):
        outputs.append(helper.make_tensor_value_info("label", TensorProto.INT64, ["N", 1]))
    metadata = {
        "edgeml.calibrated": "1" if calibrate else "0",
        "edgeml.threshold": repr(post.threshold),
        "edgeml.output": link.kind,
        "edgeml.missing_text": MISSING_TEXT,
        "edgeml.date_unit": "s",
        "edgeml.features": ",".join(plan.features),
    }
    doc = (
        "edgeml pipeline: raw columns [N,1] (numbers/dates as double, dates in seconds since "
        "1970-01-01 UTC, NaN missing; text as string, U+2400 missing) -> prediction, features"
    )
    model = g.model(inputs, outputs, name="edgeml_pipeline", metadata=metadata, doc=doc)
    return model, link


def prep_model(plan: PrepPlan) -> onnx.ModelProto:
    """The prep plan alone: raw columns in, ``features`` ``[N, F]`` out (for checks and tests)."""
    g = GraphBuilder()
    inputs, _ = add_prep(g, plan, output="features")
    outputs = [matrix_output("features", len(plan.features))]
    return g.model(inputs, outputs, name="edgeml_prep", metadata={"edgeml.output": "features"})


def check_model(model: onnx.ModelProto) -> None:
    """``onnx.checker`` with shape inference; a failure is an :class:`ExportError`."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"the generated ONNX graph is invalid: {exc}") from None


def _lightgbm_shaped(output: np.ndarray, link: Link) -> np.ndarray:
    if link.kind == "binary":
        return output[:, 1]
    return output if link.kind == "multiclass" else output[:, 0]


def _check_trees(forest: Forest, reference: Reference, link: Link) -> ParityReport:
    """The trees alone on feature-space probes (values no raw input can produce)."""
    trees = ensemble_model(forest)
    check_model(trees)
    rows = np.vstack([reference.adversarial(), _categorical_probes(reference)])
    ours = load_session(trees.SerializeToString()).run(["prediction"], {"features": rows})[0]
    return compare(
        "onnx (trees, feature-space adversarial rows)",
        _lightgbm_shaped(ours, link),
        reference.predict(rows),
        rows=rows,
    )


def _check_raw(
    session: Any, plan: PrepPlan, frame: pl.DataFrame, booster: Any, suite: str, post: Post
) -> ParityReport:
    """Run raw rows through the graph; compare features with Polars', outputs with LightGBM's
    (calibrated as the bundle says), and labels with the bundle's decision."""
    if frame.height == 0:  # a bundle without reference rows
        return ParityReport(backend=f"onnx ({suite})", rows=0, max_abs_diff=0.0, worst_row=0)
    matrix = to_matrix(apply_prep(plan, frame))
    prediction, features = session.run(["prediction", "features"], frame_feeds(frame, plan))
    _same_features(features, matrix, plan.features, frame, suite)
    link_kind = session.get_modelmeta().custom_metadata_map.get("edgeml.output", "value")
    ours = _lightgbm_shaped(prediction, Link(link_kind, prediction.shape[1], ""))
    reference = np.asarray(booster.predict(matrix), dtype=np.float64)
    if link_kind == "binary":
        reference = post.calibrate(reference)
        _same_labels(session, frame, plan, reference, post, suite)
    return compare(f"onnx ({suite})", ours, reference, rows=np.array(frame.rows(), dtype=object))


def _same_labels(
    session: Any, frame: pl.DataFrame, plan: PrepPlan, p: np.ndarray, post: Post, suite: str
) -> None:
    """The graph's ``label`` is ``p > threshold`` (rows within 1e-9 of it aside: rounding)."""
    (label,) = session.run(["label"], frame_feeds(frame, plan))
    clear = np.abs(p - post.threshold) > 1e-9
    wrong = np.flatnonzero(clear & (label[:, 0] != post.positive(p)))
    if len(wrong):
        row = int(wrong[0])
        raise ParityError(
            f"onnx ({suite}): row {row} gets label {int(label[row, 0])} but its probability "
            f"{p[row]:.9g} against the threshold {post.threshold:.9g} says otherwise"
        )


def _same_features(
    ours: np.ndarray, polars: np.ndarray, names: list[str], frame: pl.DataFrame, suite: str
) -> None:
    same = (ours == polars) | (np.isnan(ours) & np.isnan(polars))
    if same.all():
        return
    row, column = (int(i) for i in np.argwhere(~same)[0])
    raise ParityError(
        f"onnx export refused ({suite}): the graph's prep gives {ours[row, column]!r} for "
        f"feature {names[column]!r} of row {row} ({frame.row(row)}) where Polars gives "
        f"{polars[row, column]!r}"
    )


def _categorical_probes(reference: Reference) -> np.ndarray:
    """Feature rows with non-integer, negative and huge values in each categorical feature.

    LightGBM truncates a categorical value toward zero (-0.5 reads as category 0, 2.7 as 2)
    and sends negative and out-of-int values right; codes from the prep are always whole, but
    the trees must agree on any value.
    """
    base = reference.matrix
    if base.ndim != 2 or not len(base):
        base = np.zeros((1, reference.booster.num_feature()))
    values = [-0.5, -0.99, 0.5, 1.7, 2.999, -1.5, 2.0**31 - 0.5, 2.0**31, -(2.0**31) - 1, 1e300]
    rows = []
    for n, (feature, value) in enumerate(
        (f, v) for f in sorted(reference.categorical) for v in values
    ):
        row = base[n % len(base)].copy()
        row[feature] = value
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(-1, base.shape[1])


# -- raw inputs ------------------------------------------------------------------------------


def _probe_dtype(logical: str) -> pl.DataType:
    if logical == "str":
        return pl.String()
    if logical == "date":
        return pl.Date()
    if logical == "datetime":
        return pl.Datetime("us")
    return pl.Float64()  # int and bool too: probes need values between whole numbers


def frame_feeds(frame: pl.DataFrame, plan: PrepPlan) -> dict[str, np.ndarray]:
    """The graph's inputs for a frame of raw columns (as conformed, or as :func:`raw_probes`)."""
    feeds: dict[str, np.ndarray] = {}
    for name, logical in plan.input_schema.items():
        column = frame[name]
        if logical == "str":
            texts = column.cast(pl.String).to_list()
            values = np.array([MISSING_TEXT if t is None else t for t in texts], dtype=object)
        elif logical in ("date", "datetime"):
            stamps = column.cast(pl.Datetime("us"))
            micros = stamps.dt.epoch("us").fill_null(0).to_numpy().astype(np.int64)
            values = seconds_from_micros(micros, stamps.is_null().to_numpy())
        else:
            values = column.cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)
        feeds[name] = values.reshape(-1, 1)
    return feeds


_DATE_PROBES = [
    dt.datetime(1970, 1, 1),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999_999),
    dt.datetime(1900, 2, 28, 12),
    dt.datetime(1900, 3, 1),
    dt.datetime(2000, 2, 29, 23, 59, 30),
    dt.datetime(2000, 3, 1),
    dt.datetime(2004, 12, 31, 23, 59, 59, 999_999),
    dt.datetime(2023, 1, 1),
    dt.datetime(2024, 2, 29, 6, 7, 8),
    dt.datetime(2024, 12, 31, 23, 59),
    dt.datetime(2100, 3, 1),
    dt.datetime(1600, 2, 29),
    dt.datetime(1, 1, 1),
    dt.datetime(9999, 12, 31, 23, 59, 59),
]
# A sweep of ~4 years in strides that walk through every month, weekday, hour and minute.
_DATE_PROBES += [
    dt.datetime(2019, 1, 1) + dt.timedelta(days=7 * i + i % 7, hours=i % 24, minutes=(13 * i) % 60)
    for i in range(210)
]


def _unscaled(step: NumericStep, value: float) -> float:
    """The raw value whose scaled feature is ``value`` (within an ulp: the probe lands near)."""
    if step.scale is None or not math.isfinite(value):
        return value
    center, scale = step.scale
    with np.errstate(over="ignore"):
        return float(np.float64(value) / np.float64(1.0 / scale) + np.float64(center))


def raw_probes(plan: PrepPlan, booster: lgb.Booster, base: pl.DataFrame) -> pl.DataFrame:
    """Raw rows that drive every split and every prep branch, planted into ``base`` rows.

    Numeric columns hold Float64 (an ``int`` column's probe may sit between whole numbers),
    text columns String, dates Date/Datetime. Numeric thresholds are mapped back through the
    step's scaling; categorical columns get every category, an unseen and an empty string, and
    missing; date columns dates across calendar edges.
    """
    schema = plan.input_schema
    columns = list(schema)
    dtypes = {name: _probe_dtype(logical) for name, logical in schema.items()}
    if base.height:
        base = base.select([pl.col(c).cast(dtypes[c]) for c in columns])
    else:
        base = pl.DataFrame([[None] * len(columns)], schema=dtypes, orient="row")
    base_rows = base.rows()
    features = plan.features
    thresholds = split_values(booster)
    probes: list[tuple[int, Any]] = []
    for step in plan.steps:
        where = columns.index(step.column)
        values: list[Any]
        if isinstance(step, NumericStep):
            found = thresholds.get(features.index(step.output), set())
            values = [_unscaled(step, v) for t in sorted(found) for v in probe_values(t)]
            if step.clip is not None:
                values += [v for bound in step.clip for v in probe_values(float(bound))]
            values += [math.nan, math.inf, -math.inf, 0.0, -0.0, None]
        elif isinstance(step, CategoricalStep):
            values = [*step.categories, None, "", UNSEEN_TEXT, f" {step.categories[0]} "
                      if step.categories else "x"]  # fmt: skip
        else:
            logical = schema[step.column]
            values = [p.date() if logical == "date" else p for p in _DATE_PROBES] + [None]
        probes += [(where, v) for v in values]
    rows = []
    for n, (where, value) in enumerate(probes):
        row = list(base_rows[n % len(base_rows)])
        row[where] = value
        rows.append(row)
    rows.append([None] * len(columns))
    rows.append([_zero(schema[c]) for c in columns])
    rows.append([_unseen(schema[c]) for c in columns])
    return pl.DataFrame(rows, schema=dtypes, orient="row")


def _zero(logical: str) -> Any:
    if logical == "str":
        return ""
    if logical == "date":
        return _EPOCH.date()
    if logical == "datetime":
        return _EPOCH
    return 0.0


def _unseen(logical: str) -> Any:
    if logical == "str":
        return UNSEEN_TEXT
    return None if logical in ("date", "datetime") else math.nan
