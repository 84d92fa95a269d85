"""The manifest's outline, checked on load: every key a reader indexes into has the JSON type it
expects, so a hand-edited (re-sealed) manifest is a BundleError naming the key, not a KeyError or
TypeError deep inside evaluate, report or the server.

Only what is present is checked (a bundle without an export has no ``backends``); the plans
themselves are checked by their own ``from_dict`` when they are read.

>>> check_shape({"task": "binary", "target": {"name": "y", "classes": ["n", "y"]}}, where="m")
>>> check_shape({"task": "binary", "target": {"name": "y", "classes": "ny"}}, where="m")
Traceback (most recent call last):
edgeml.errors.BundleError: m: manifest target.classes is str; expected a list or null
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeml.errors import BundleError

__all__ = ["check_shape"]

TASKS = ("binary", "multiclass", "regression")
_SCALAR = (str, int, float, bool)
_TABLES = ("libraries", "roles", "metrics", "data_card", "monitoring", "backends", "config",
           "learning_curves", "target", "model", "features", "prep")  # fmt: skip
# key path -> expected type(s); None in a tuple means null is allowed.
_FIELDS: dict[tuple[str, ...], tuple[type | None, ...]] = {
    ("task",): (str,),
    ("target", "name"): (str,),
    ("target", "classes"): (list, None),
    ("model", "file"): (str,),
    ("features", "model"): (list,),
    ("features", "categorical"): (list,),
    ("features", "plan"): (dict, None),
    ("prep", "columns"): (list,),
    ("prep", "steps"): (list,),
    ("prep", "row_filters"): (list,),
    ("input_schema",): (list,),
    ("id_cols",): (list,),
    ("metrics", "holdout"): (dict, None),
    ("metrics", "cv"): (dict, None),
    ("metrics", "baseline"): (dict, None),
    ("metrics", "primary"): (str, None),
    ("monitoring", "features"): (dict,),
    ("monitoring", "prediction"): (dict, None),
    ("data_card", "sources"): (list,),
}
# Keys every reader of their table needs (checked when the table is there).
_REQUIRED: tuple[tuple[str, str], ...] = (
    ("target", "name"),
    ("model", "file"),
    ("prep", "columns"),
    ("prep", "steps"),
)
_NAMES: dict[type | None, str] = {list: "a list", dict: "an object", str: "a string", None: "null"}


def check_shape(manifest: Mapping[str, Any], *, where: str) -> None:
    """Raise BundleError naming the first key of ``manifest`` whose type is not the expected one."""
    for key in _TABLES:
        if key in manifest and not isinstance(manifest[key], dict):
            _refuse(where, key, manifest[key], (dict,))
    for required in _REQUIRED:
        if required[0] in manifest and not _lookup(manifest, required)[0]:
            raise BundleError(f"{where}: manifest {required[0]} has no {required[1]!r}")
    for path, expected in _FIELDS.items():
        found, value = _lookup(manifest, path)
        if found and not _matches(value, expected):
            _refuse(where, ".".join(path), value, expected)
    task = manifest.get("task")
    if task is not None and task not in TASKS:
        raise BundleError(f"{where}: manifest task {task!r}; expected one of {', '.join(TASKS)}")
    _check_lists(manifest, where)


def _check_lists(manifest: Mapping[str, Any], where: str) -> None:
    classes = manifest.get("target", {}).get("classes")
    if isinstance(classes, list):
        if not all(isinstance(c, _SCALAR) for c in classes) or len(set(map(str, classes))) != len(
            classes
        ):
            raise BundleError(f"{where}: manifest target.classes must be distinct plain values")
        if manifest.get("task") in ("binary", "multiclass") and len(classes) < 2:
            raise BundleError(f"{where}: manifest target.classes has fewer than two classes")
    for path in (("features", "model"), ("features", "categorical"), ("id_cols",)):
        found, value = _lookup(manifest, path)
        if found and not all(isinstance(v, str) for v in value):
            raise BundleError(f"{where}: manifest {'.'.join(path)} must be a list of names")
    for path in (("prep", "columns"), ("prep", "steps"), ("input_schema",)):
        found, value = _lookup(manifest, path)
        if found and not all(isinstance(v, dict) for v in value):
            raise BundleError(f"{where}: manifest {'.'.join(path)} must be a list of objects")
    _check_baselines(manifest.get("monitoring", {}), where)
    for k, column in enumerate(manifest.get("input_schema", [])):
        categories = column.get("categories", [])
        if (
            not isinstance(column.get("name"), str)
            or not isinstance(column.get("dtype"), str)
            or not isinstance(categories, list | None)
            or not all(isinstance(c, _SCALAR) for c in categories or [])
        ):
            raise BundleError(
                f"{where}: manifest input_schema[{k}] needs a name, a dtype (strings) and "
                "categories as a list of plain values"
            )


def _check_baselines(monitoring: Mapping[str, Any], where: str) -> None:
    """Histogram baselines (read by monitor, report and the server): numbers where numbers go.
    Keys other than these are left to their readers."""
    features = monitoring.get("features", {})
    prediction = monitoring.get("prediction")
    baselines = {f"features.{k}": v for k, v in features.items()}
    if prediction is not None:
        baselines["prediction"] = prediction
    for name, baseline in baselines.items():
        if not isinstance(baseline, dict):
            raise BundleError(f"{where}: manifest monitoring.{name} is not an object")
        for key in ("edges", "counts"):
            values = baseline.get(key, [])
            if not isinstance(values, list) or not all(_number(v) for v in values):
                raise BundleError(
                    f"{where}: manifest monitoring.{name}.{key} must be a list of numbers"
                )
        if "missing" in baseline and not _number(baseline["missing"]):
            raise BundleError(f"{where}: manifest monitoring.{name}.missing must be a number")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _lookup(manifest: Mapping[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    value: Any = manifest
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return False, None
        value = value[key]
    return True, value


def _matches(value: Any, expected: tuple[type | None, ...]) -> bool:
    return any(value is None if t is None else isinstance(value, t) for t in expected)


def _refuse(where: str, key: str, value: Any, expected: tuple[type | None, ...]) -> None:
    wanted = " or ".join(_NAMES.get(t, str(t)) for t in expected)
    raise BundleError(f"{where}: manifest {key} is {type(value).__name__}; expected {wanted}")
