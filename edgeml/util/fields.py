"""Check a plan step read from a manifest against its dataclass annotations.

A plan is data read from ``manifest.json``; ``Step(**values)`` accepts any JSON value in any
field, and a list where a number belongs fails later, deep in an executor, as a TypeError.
:func:`check_fields` refuses it where it is read, naming the field. Hand-written (dacite or
typeguard would do it) because the plan is read by the NumPy-only device runtime, which takes
no dependency for a few dozen lines; it covers the annotations plans use: plain types,
``Literal``, ``X | None``, ``list[X]``, ``tuple[X, Y]``, ``dict[str, X]`` and ``Any``.

>>> from dataclasses import dataclass
>>> @dataclass
... class Clip:
...     bounds: tuple[float, float]
>>> check_fields(Clip(bounds=(0.0, 1.0)), where="step 0")
>>> check_fields(Clip(bounds=("a", 1.0)), where="step 0")
Traceback (most recent call last):
edgeml.errors.BundleError: step 0: field 'bounds' holds ('a', 1.0); expected tuple[float, float]
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from edgeml.errors import BundleError

__all__ = ["check_fields", "matches"]


def check_fields(obj: Any, *, where: str) -> None:
    """Raise BundleError unless every field of the dataclass ``obj`` matches its annotation."""
    for name, hint in _hints(type(obj)).items():
        value = getattr(obj, name)
        if not matches(value, hint):
            shown = repr(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise BundleError(f"{where}: field {name!r} holds {shown}; expected {_describe(hint)}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return _HINTS[cls]


def matches(value: Any, hint: Any) -> bool:
    """Does the JSON-read ``value`` fit the annotation ``hint`` (an annotation this module does
    not cover fits anything)? A bool is never a number; an int is a float.

    >>> matches(3, float), matches(True, int), matches(("a", 1), tuple[str, int])
    (True, False, True)
    """
    if hint is Any:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return value in args and type(value) in {type(a) for a in args}
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is float:  # a JSON number: 3 is as good as 3.0; a bool is not a number
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        return isinstance(value, list) and all(matches(v, args[0]) for v in value)
    if origin is tuple:
        return (
            isinstance(value, tuple)
            and len(value) == len(args)
            and all(matches(v, a) for v, a in zip(value, args, strict=True))
        )
    if origin is dict:
        return isinstance(value, dict) and all(
            matches(k, args[0]) and matches(v, args[1]) for k, v in value.items()
        )
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # an annotation plans do not use: not checked here


def _describe(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")
