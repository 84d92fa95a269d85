"""The bundle manifest as a typed, versioned value: every section code reads, named and checked.

``manifest.json`` stays a JSON object (see DESIGN.md, "The bundle"); :class:`Manifest` is how
code reads it. :meth:`Manifest.from_dict` checks the schema version and every section against
its dataclass (:mod:`edgeml.spec.section`) and raises :class:`~edgeml.errors.BundleError` naming
the key otherwise; a section absent from an older bundle, or written only for some tasks, reads
as empty or None. :meth:`Manifest.to_dict` gives the same JSON object back, keys this edgeml
does not know included.

>>> m = Manifest.from_dict({"schema_version": 2, "task": "binary",
...                         "target": {"name": "churn", "classes": ["No", "Yes"]},
...                         "prep": {"columns": [], "steps": []},
...                         "model": {"file": "model.txt"}, "features": {"model": ["tenure"]}})
>>> m.task, m.target.classes, m.model_file, m.features.model, list(m.backends), m.decision
('binary', ('No', 'Yes'), 'model.txt', ('tenure',), [], None)
>>> m.to_dict()["target"]
{'name': 'churn', 'classes': ['No', 'Yes']}
>>> Manifest.from_dict({"schema_version": 1}, where="old.edgeml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
edgeml.errors.VersionError: old.edgeml: bundle schema version 1 is not supported; ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from edgeml.errors import BundleError, VersionError
from edgeml.spec.data_card import DataCardInfo
from edgeml.spec.metrics import Decision, LeaderboardRecord, Metrics
from edgeml.spec.model_entry import Backend, Features, InputColumn, ModelEntry
from edgeml.spec.monitoring import Monitoring
from edgeml.spec.prep_plan import PrepPlan
from edgeml.spec.section import Section

__all__ = ["BACKENDS", "SCHEMA_VERSION", "TASKS", "Manifest", "Target", "check_version"]

# 2: the manifest carries its digest, and every path in it is checked (edgeml 0.1, issue 10).
SCHEMA_VERSION = 2
TASKS = ("binary", "multiclass", "regression")
#: The model backends a manifest may list, fastest first: what ``auto`` tries, in this order.
BACKENDS: tuple[str, ...] = ("native", "treelite", "onnx", "lightgbm")
Task = Literal["binary", "multiclass", "regression"]
_SCALAR = (str, int, float, bool)


@dataclass(frozen=True, kw_only=True)
class Target(Section):
    """The column predicted; ``classes`` are the labels in code order (None for regression),
    with the training rows' ``class_counts`` (or, for regression, the ``mean``)."""

    name: str
    task: str | None = None
    classes: tuple[Any, ...] | None = field(default=None, metadata={"null": True})
    class_counts: tuple[int, ...] | None = None
    mean: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Manifest(Section):
    """A bundle's manifest, section by section, in the order the writer lays them out.

    ``decisions`` (what the pipeline chose and why), ``config`` (the settings trained with, read
    by :meth:`edgeml.config.Config.from_dict`), ``calibration`` (read by
    :meth:`edgeml.runtime.Post.from_manifest`), ``search`` and ``retrain`` (written by
    :mod:`edgeml.search` and :mod:`edgeml.retrain`) are the JSON objects their owners define.
    """

    schema_version: int = SCHEMA_VERSION
    edgeml_version: str | None = None
    created_at: str | None = None
    libraries: dict[str, str] = field(default_factory=dict)
    task: Task
    target: Target
    roles: dict[str, str] = field(default_factory=dict)
    id_cols: tuple[str, ...] = ()
    input_schema: tuple[InputColumn, ...] = ()
    prep: PrepPlan
    features: Features = field(default_factory=Features)
    model: ModelEntry
    metrics: Metrics = field(default_factory=Metrics)
    data_card: DataCardInfo = field(default_factory=DataCardInfo)
    monitoring: Monitoring = field(default_factory=Monitoring)
    backends: dict[str, Backend] = field(default_factory=dict)
    decisions: tuple[dict[str, Any], ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    decision: Decision | None = None
    calibration: dict[str, Any] | None = None
    learning_curves: dict[str, dict[str, list[float]]] | None = None
    search: dict[str, Any] | None = None
    leaderboard: LeaderboardRecord | None = None
    retrain: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)
    digest: str | None = None
    signature: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "manifest", key: str = "") -> Manifest:
        """Read and check a parsed ``manifest.json``; BundleError (VersionError for the schema
        version) naming ``where`` and the key."""
        if not isinstance(data, Mapping):
            raise BundleError(f"{where}: manifest is {type(data).__name__}; expected an object")
        check_version(data, where=where)
        manifest = super().from_dict(data, where=where, key=key)
        manifest._check(where)
        return manifest

    @property
    def model_file(self) -> str:
        """The LightGBM model's file name inside the bundle."""
        return self.model.file

    @property
    def classes(self) -> list[Any] | None:
        """The class labels in code order as a list (None for regression)."""
        return None if self.target.classes is None else list(self.target.classes)

    def _check(self, where: str) -> None:
        """What the annotations cannot say: distinct plain class labels, two of them at least."""
        classes = self.target.classes
        if classes is not None:
            if not all(isinstance(c, _SCALAR) for c in classes) or len(
                set(map(str, classes))
            ) != len(classes):
                raise BundleError(f"{where}: manifest target.classes must be distinct plain values")
            if self.task in ("binary", "multiclass") and len(classes) < 2:
                raise BundleError(f"{where}: manifest target.classes has fewer than two classes")
        for k, column in enumerate(self.input_schema):
            if not all(isinstance(c, _SCALAR) for c in column.categories or ()):
                raise BundleError(
                    f"{where}: manifest input_schema[{k}].categories must be plain values"
                )


def check_version(data: Mapping[str, Any], *, where: str) -> int:
    """The manifest's ``schema_version``, or VersionError if this edgeml does not read it."""
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise VersionError(
            f"{where}: bundle schema version {version!r} is not supported; this edgeml reads "
            f"version {SCHEMA_VERSION} (re-train, or upgrade edgeml if the bundle is newer)"
        )
    return SCHEMA_VERSION
