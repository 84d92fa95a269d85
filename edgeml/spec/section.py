"""A manifest section: a frozen dataclass read from, and written back to, one JSON object.

Every part of ``manifest.json`` that code reads is a :class:`Section` subclass whose field names
are the JSON keys and whose annotations say what each key holds. :meth:`Section.from_dict` checks
every value against its annotation and raises :class:`~edgeml.errors.BundleError` naming the key
(``metrics.holdout``), converts nested objects to their sections (and JSON lists to tuples where
a field is a tuple), and keeps keys this edgeml does not know in ``extra``, so
:meth:`Section.to_dict` gives back the same JSON object. A field defaulting to ``None`` is
optional: absent from the JSON while it is None (older bundles, or tasks without it); a field
with ``metadata={"null": True}`` is always written, as ``null`` when None; a key absent from the
JSON read is left out again while its field holds the default.

Standard library only (read by the NumPy-only runtime). Hand-written rather than pydantic or
dacite for that reason; it supports the annotations manifests use: plain types, ``Literal``,
``X | None``, ``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``, ``Any``, sections, and classes
with their own ``from_dict``/``to_dict`` (the prep and feature plans).

>>> from dataclasses import dataclass, field
>>> @dataclass(frozen=True, kw_only=True)
... class Rows(Section):
...     train: int
...     holdout: int | None = None
...     extra: dict[str, Any] = field(default_factory=dict)
>>> rows = Rows.from_dict({"train": 80, "folds": 5}, where="m.edgeml", key="metrics.rows")
>>> rows.train, rows.holdout, rows.extra
(80, None, {'folds': 5})
>>> rows.to_dict()
{'train': 80, 'folds': 5}
>>> Rows.from_dict({"train": "80"}, where="m.edgeml", key="metrics.rows")
Traceback (most recent call last):
edgeml.errors.BundleError: m.edgeml: manifest metrics.rows.train is '80'; expected int
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any, Self

from edgeml.errors import BundleError
from edgeml.util.fields import matches

__all__ = ["Section"]

EXTRA = "extra"
_ABSENT = "_absent_keys"


class Section:
    """Base of the manifest's dataclasses: ``from_dict`` checked by annotation, ``to_dict``."""

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "manifest", key: str = "") -> Self:
        """Read the JSON object ``data`` (the manifest's ``key``); BundleError naming the key."""
        label = key or "manifest"
        if not isinstance(data, Mapping):
            raise BundleError(f"{where}: manifest {label} is {_shown(data)}; expected an object")
        values: dict[str, Any] = {}
        hints = _hints(cls)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == EXTRA:
                continue
            path = f"{key}.{f.name}" if key else f.name
            if f.name in data:
                values[f.name] = _load(data[f.name], hints[f.name], where, path)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise BundleError(f"{where}: manifest {label} has no {f.name!r}")
        if EXTRA in hints:
            values[EXTRA] = {k: v for k, v in data.items() if k not in hints or k == EXTRA}
        section = cls(**values)
        # Keys the JSON did not have stay out of to_dict while they hold their default.
        absent = frozenset(f.name for f in dataclasses.fields(cls) if f.name not in data)  # type: ignore[arg-type]
        object.__setattr__(section, _ABSENT, absent)
        return section

    def to_dict(self) -> dict[str, Any]:
        """The JSON object this section was read from (or would be written as)."""
        out: dict[str, Any] = {}
        absent: frozenset[str] = getattr(self, _ABSENT, frozenset())
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == EXTRA:
                out.update(value)
            elif f.name in absent and value == _default(f):
                continue
            elif value is not None or f.metadata.get("null") or f.default is dataclasses.MISSING:
                out[f.name] = dump(value)
        return out


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def dump(value: Any) -> Any:
    """A section's value as plain JSON: sections and plans by ``to_dict``, tuples as lists."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    if isinstance(value, Mapping):
        return {k: dump(v) for k, v in value.items()}
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        module = sys.modules[cls.__module__].__dict__
        _HINTS[cls] = typing.get_type_hints(cls, globalns=module)
    return _HINTS[cls]


def _load(value: Any, hint: Any, where: str, key: str) -> Any:
    """``value`` checked against ``hint`` and converted (objects to sections, lists to tuples)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        arms = [a for a in args if a is not type(None)]
        for arm in arms[:-1]:
            try:
                return _load(value, arm, where, key)
            except BundleError:
                continue
        return _load(value, arms[-1], where, key)
    elif isinstance(hint, type) and issubclass(hint, Section):
        return hint.from_dict(value, where=where, key=key)
    elif isinstance(hint, type) and hasattr(hint, "from_dict"):
        if isinstance(value, Mapping):
            try:
                return hint.from_dict(value)
            except BundleError as exc:
                raise BundleError(f"{where}: {exc}") from None
    elif origin in (list, tuple) and (origin is list or args[-1:] == (Ellipsis,)):
        if isinstance(value, list):
            items = [_load(v, args[0], where, f"{key}[{k}]") for k, v in enumerate(value)]
            return items if origin is list else tuple(items)
    elif origin in (dict, Mapping) or hint in (dict, Mapping):
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            inner = args[1] if args else Any
            return {k: _load(v, inner, where, f"{key}.{k}") for k, v in value.items()}
    elif _plain(value, hint):
        return value
    raise BundleError(f"{where}: manifest {key} is {_shown(value)}; expected {_describe(hint)}")


def _plain(value: Any, hint: Any) -> bool:
    """Does a JSON scalar ``value`` match the plain type or Literal ``hint``? (The plan steps'
    checker judges it; an annotation neither covers matches nothing here.)"""
    known = typing.get_origin(hint) is typing.Literal or isinstance(hint, type)
    return known and matches(value, hint)


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (list, tuple):
        return "a list"
    if typing.get_origin(hint) in (dict, Mapping) or hint in (dict, Mapping):
        return "an object"
    if isinstance(hint, type) and (issubclass(hint, Section) or hasattr(hint, "from_dict")):
        return "an object"
    text = hint.__name__ if isinstance(hint, type) else str(hint)
    return text.replace("typing.", "")
