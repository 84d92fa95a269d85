"""The bundle manifest as a typed, versioned value: what a loader reads, named and checked once.

``manifest.json`` stays a JSON object (see DESIGN.md, "The bundle"); :class:`Manifest` is how
code reads it. :meth:`Manifest.from_dict` checks the schema version and the fields every loader
needs (task, target, model file, the model's features, the exported backends) and raises
:class:`~edgeml.errors.BundleError` naming the key otherwise; everything else stays reachable,
untyped for now, in :attr:`Manifest.raw`. :meth:`Manifest.to_dict` gives the JSON object back.

>>> m = Manifest.from_dict({"schema_version": 2, "task": "binary",
...                         "target": {"name": "churn", "classes": ["No", "Yes"]},
...                         "model": {"file": "model.txt"}, "features": {"model": ["tenure"]}})
>>> m.task, m.target.classes, m.model_file, m.features, m.backends
('binary', ('No', 'Yes'), 'model.txt', ('tenure',), ())
>>> m.to_dict()["target"]
{'name': 'churn', 'classes': ['No', 'Yes']}
>>> Manifest.from_dict({"schema_version": 1}, where="old.edgeml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
edgeml.errors.VersionError: old.edgeml: bundle schema version 1 is not supported; ...
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from edgeml.errors import BundleError, VersionError

__all__ = ["BACKENDS", "SCHEMA_VERSION", "TASKS", "Manifest", "Target", "check_version"]

# 2: the manifest carries its digest, and every path in it is checked (edgeml 0.1, issue 10).
SCHEMA_VERSION = 2
TASKS = ("binary", "multiclass", "regression")
#: The model backends a manifest may list, fastest first: what ``auto`` tries, in this order.
BACKENDS: tuple[str, ...] = ("native", "treelite", "onnx", "lightgbm")
Task = Literal["binary", "multiclass", "regression"]


@dataclass(frozen=True, kw_only=True)
class Target:
    """The column predicted; ``classes`` are the labels in code order (None for regression)."""

    name: str
    classes: tuple[Any, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """A bundle's manifest: the typed fields loaders read, and the whole object in ``raw``."""

    schema_version: int
    task: Task
    target: Target
    model_file: str
    features: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    id_cols: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "manifest") -> Manifest:
        """Read and check a parsed ``manifest.json``; BundleError (VersionError for the schema
        version) naming ``where`` and the key."""
        version = check_version(data, where=where)
        task = data.get("task")
        if task not in TASKS:
            raise BundleError(f"{where}: manifest task {task!r}; expected one of {TASKS}")
        target = _table(data, "target", where)
        name = target.get("name")
        if not isinstance(name, str):
            raise BundleError(f"{where}: manifest target.name is {name!r}; expected a string")
        classes = target.get("classes")
        if classes is not None and not isinstance(classes, list):
            raise BundleError(f"{where}: manifest target.classes is not a list or null")
        model_file = _table(data, "model", where).get("file")
        if not isinstance(model_file, str):
            raise BundleError(f"{where}: manifest model.file is {model_file!r}; expected a string")
        return cls(
            schema_version=version,
            task=cast(Task, task),
            target=Target(name=name, classes=None if classes is None else tuple(classes)),
            model_file=model_file,
            features=_names(_table(data, "features", where).get("model", []), where, "features"),
            backends=tuple(_table(data, "backends", where)),
            id_cols=_names(data.get("id_cols", []), where, "id_cols"),
            raw=data,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: ``raw`` with the typed fields written back."""
        out = copy.deepcopy(dict(self.raw))
        out["schema_version"] = self.schema_version
        out["task"] = self.task
        out["target"] = {
            **out.get("target", {}),
            "name": self.target.name,
            "classes": None if self.target.classes is None else list(self.target.classes),
        }
        out["model"] = {**out.get("model", {}), "file": self.model_file}
        out["features"] = {**out.get("features", {}), "model": list(self.features)}
        out["id_cols"] = list(self.id_cols)
        return out


def check_version(data: Mapping[str, Any], *, where: str) -> int:
    """The manifest's ``schema_version``, or VersionError if this edgeml does not read it."""
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise VersionError(
            f"{where}: bundle schema version {version!r} is not supported; this edgeml reads "
            f"version {SCHEMA_VERSION} (re-train, or upgrade edgeml if the bundle is newer)"
        )
    return SCHEMA_VERSION


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise BundleError(f"{where}: manifest {key} is {type(value).__name__}; expected an object")
    return value


def _names(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BundleError(f"{where}: manifest {key} must be a list of column names")
    return tuple(value)
