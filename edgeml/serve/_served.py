"""One loaded bundle as the server uses it: predictor, request models, version and readiness.

Loading verifies every file's sha256 and picks the fastest backend through
:func:`edgeml.runtime.load`. Readiness means the model was parity-checked: the export's recorded
parity passed, the reference rows stored in the bundle predict finite numbers, and — where
LightGBM is installed — those rows give LightGBM's own output within 1e-6.

>>> served = ServedModel.load("churn.edgeml")                      # doctest: +SKIP
>>> served.version, served.ready                                    # doctest: +SKIP
('churn.edgeml@3fa2c1d0e9b8', True)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from edgeml.bundle import Bundle, open_bundle
from edgeml.errors import EdgeMLError, ExportError
from edgeml.runtime import FeatureStream, Predictor, load, reference_columns
from edgeml.serve._records import record_model, serving_columns
from edgeml.spec.manifest import Manifest

__all__ = ["ServedModel"]

_PARITY_TOLERANCE = 1e-6
_MAX_ENTITIES = 100_000  # entity histories a server keeps; the one seen longest ago goes first
# Readings before a missing share of labels counts as stale: a few unlabelled first readings
# are normal (labels come later).
_STALE_AFTER = 20
_STALE_WARNING = (
    "the model's features use past labels (target history) and fewer than half the readings "
    "got one: POST /feedback the true labels, or predictions lose their target history"
)


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    """A verified bundle ready to predict; swapped whole on reload, never changed in place."""

    path: Path
    version: str
    predictor: Predictor
    record: type[BaseModel]
    columns: list[dict[str, Any]]
    categories: dict[str, frozenset[str]]
    ready: bool
    vocabulary: dict[str, list[str]] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    stream: FeatureStream | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def load(
        cls, path: str | Path, *, backend: str = "auto", strict_categories: bool = False
    ) -> ServedModel:
        """Verify and open ``path``; :class:`~edgeml.errors.BundleError` if it cannot serve."""
        path = Path(path)
        bundle = open_bundle(path, verify=True)  # everything below reads this one version
        manifest = bundle.spec
        stream = _stream_of(manifest)
        predictor = load(bundle, backend=backend)
        # The types the runtime reads the model's inputs as (whole-number columns as float,
        # PrepPlan.input_schema), not the types training saw, so the server takes what it does.
        reads = predictor.input_schema
        schema = [
            {**d, "dtype": reads.get(d["name"], d["dtype"])}
            for d in (c.to_dict() for c in manifest.input_schema)
        ]
        columns = serving_columns(schema, _inputs(predictor, stream))
        if stream is not None and stream.plan.entity_col:
            # A new entity (a machine added to the fleet) is served, its category missing.
            entity = stream.plan.entity_col
            columns = [
                {k: v for k, v in c.items() if k != "categories"} if c["name"] == entity else c
                for c in columns
            ]
        title = manifest.target.name or path.stem
        checks = _readiness(bundle, predictor)
        return cls(
            path=path,
            version=_version(path, manifest),
            predictor=predictor,
            record=record_model(columns, title, strict_categories=strict_categories),
            columns=columns,
            categories={
                c["name"]: frozenset(map(str, c["categories"]))
                for c in columns
                if c.get("categories") and strict_categories
            },
            vocabulary={
                c["name"]: [str(v) for v in c["categories"]]
                for c in columns
                if c.get("categories") and c.get("dtype", "str") == "str"
            },
            ready=all(check.get("passed", False) for check in checks.values()),
            checks=checks,
            stream=stream,
        )

    @property
    def inputs(self) -> list[str]:
        """The columns a request sends, in order."""
        return [c["name"] for c in self.columns]

    def warm(self, readings: Iterable[tuple[Mapping[str, Any], Any]]) -> int:
        """Feed past readings and the labels they got (the prediction log's; None: none yet)
        into the entity histories without predicting, so a restart or a reload does not start
        every entity cold, target history included. Rows that cannot be read are skipped, a
        label that is no class of the model counts as none; returns how many were taken."""
        if self.stream is None:
            return 0
        taken = 0
        with self._lock:
            for record, label in readings:
                try:
                    self.stream.push(record, target=self._encoded(label))
                except EdgeMLError:
                    continue
                taken += 1
        return taken

    def with_features(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``records`` with the model's time-series features added from each entity's history
        (the records as given for a model without them). Readings are taken in the order they
        arrive, one request at a time."""
        if self.stream is None:
            return records
        with self._lock:
            return [{**record, **self.stream.push(record)} for record in records]

    @property
    def needs_labels(self) -> bool:
        """Whether the model's features include past labels (fed by ``POST /feedback``)."""
        return self.stream is not None and self.stream.needs_labels

    def learn_label(self, record: Mapping[str, Any], label: Any) -> bool:
        """Feed a true label of a logged reading (its raw record) into its entity's target
        history; False when the reading is no longer remembered."""
        if self.stream is None:
            return False
        plan = self.stream.plan
        value = self._encoded(label)
        if value is None:
            return False
        entity = record.get(plan.entity_col) if plan.entity_col else None
        time = record.get(plan.time_col) if plan.time_col else None
        with self._lock:
            return self.stream.push_label(entity, time, value)

    def _encoded(self, label: Any) -> float | None:
        """A true label as the target history holds it: the class's index, or the value; None
        for no label, or one the model cannot read (a log written by another model)."""
        classes = self.predictor.classes
        if label is None:
            return None
        if classes is not None:
            return float(classes.index(label)) if label in classes else None
        return float(label) if isinstance(label, int | float) and label is not True else None

    def labels(self) -> dict[str, Any] | None:
        """For a model fed by labels: how many readings got theirs, and ``stale`` when under
        half did (its target-history features are then mostly missing); None otherwise."""
        if self.stream is None or not self.stream.needs_labels:
            return None
        readings, labelled = self.stream.readings, self.stream.labelled
        stale = readings >= _STALE_AFTER and labelled < readings / 2
        return {
            "needed": True,
            "readings": readings,
            "labelled": labelled,
            "status": "labels_stale" if stale else "ok",
            **({"warning": _STALE_WARNING} if stale else {}),
        }

    @property
    def manifest(self) -> Manifest:
        return self.predictor.spec

    @property
    def backend(self) -> str:
        return self.predictor.backend_name

    def schema(self) -> dict[str, Any]:
        """What ``GET /schema`` returns: inputs, task, outputs and the model version."""
        outputs = ["prediction", *self.predictor.columns]
        return {
            "model_version": self.version,
            "task": self.predictor.task,
            "target": self.manifest.target.name,
            "classes": self.predictor.classes,
            "inputs": self.columns,
            "outputs": outputs,
            "backend": self.backend,
            **self._decision(),
        }

    def _decision(self) -> dict[str, Any]:
        """A binary model's threshold and calibration, as every output states them."""
        if self.predictor.task != "binary":
            return {}
        post = self.predictor.post
        decision = self.manifest.decision
        rule = decision.rule if decision else "fixed"
        return {
            "decision": {"threshold": post.threshold, "rule": rule},
            "calibration": {"method": post.method},
        }

    def score_of(self, output: dict[str, Any]) -> float | None:
        """The number the log keeps for drift (see :func:`edgeml.monitor.connect_log`)."""
        classes = self.predictor.classes
        if classes is None:
            return float(output["prediction"])
        if self.predictor.task == "binary":
            return float(output[self.predictor.columns[1]])
        return float(classes.index(output["prediction"]))


def _stream_of(manifest: Manifest) -> FeatureStream | None:
    plan = manifest.features.feature_plan
    if not plan.steps:
        return None
    time_format = manifest.prep.formats.get(plan.time_col) if plan.time_col else None
    return FeatureStream(plan, max_entities=_MAX_ENTITIES, time_format=time_format)


def _inputs(predictor: Predictor, stream: FeatureStream | None) -> list[str]:
    """What a request carries: the prep plan's inputs less the features the stream computes,
    plus the time and entity columns the stream keys its history on."""
    if stream is None:
        return list(predictor.input_schema)
    plan = stream.plan
    generated = set(plan.selected)
    keys = [c for c in (plan.time_col, plan.entity_col) if c is not None]
    inputs = [c for c in predictor.input_schema if c not in generated and c not in keys]
    # A feature's source column is sent even when prep dropped the raw column itself.
    return list(dict.fromkeys([*keys, *inputs, *plan.sources]))


def _version(path: Path, manifest: Manifest) -> str:
    digest = manifest.files.get(manifest.model_file, "")[:12] or "unknown"
    # A registry version (``churn/v3``) names its model too; a plain bundle is its file name.
    registry = path.name.startswith("v") and path.name[1:].isdigit()
    label = f"{path.parent.name}/{path.name}" if registry else path.name
    return f"{label}@{digest}"


def _readiness(bundle: Bundle, predictor: Predictor) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    backend = predictor.backend_name
    exported = predictor.spec.backends.get(backend)
    recorded = exported.parity if exported else None
    if backend != "lightgbm":
        checks["recorded_parity"] = {
            "passed": bool(recorded and recorded.get("passed")),
            "max_abs_diff": (recorded or {}).get("max_abs_diff"),
        }
    rows = reference_columns(bundle)
    if rows is None:
        return checks
    output = np.asarray(predictor.output(rows), dtype=np.float64)
    checks["reference_rows"] = {
        "passed": bool(np.all(np.isfinite(output))),
        "rows": len(output),
    }
    if backend != "lightgbm":
        try:  # LightGBM itself, where installed (not in the slim serving image)
            reference = load(bundle, backend="lightgbm")
        except ExportError:
            return checks
        expected = np.asarray(reference.output(rows), dtype=np.float64)
        diff = float(np.max(np.abs(output - expected))) if output.size else 0.0
        checks["lightgbm_parity"] = {
            "passed": diff <= _PARITY_TOLERANCE,
            "max_abs_diff": diff,
            "tolerance": _PARITY_TOLERANCE,
        }
    return checks
