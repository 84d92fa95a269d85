"""Lazy package exports (PEP 562): a name is imported on first use, so importing a package does
not pull in what only some of its functions need (Polars, LightGBM, FastAPI, Optuna)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, homes: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose names live in ``homes``
    (name → module). A name found once is cached in the package.

    >>> getattr_, dir_ = lazy_exports("edgeml", {"sha256_file": "edgeml.bundle"})
    >>> getattr_("sha256_file").__name__, dir_()
    ('sha256_file', ['sha256_file'])
    """

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(homes)

    return __getattr__, __dir__
