"""Lazy package exports (PEP 562): a name is imported on first use, so importing a package does
not pull in what only some of its functions need (Polars, LightGBM, FastAPI, Optuna).

The one helper for it: ``edgeml`` itself, the search, monitoring, serving and evaluation
packages all use it. A name whose module needs a missing extra raises
:class:`~edgeml.errors.DependencyError` saying what to install.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from edgeml.util.extras import missing

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, homes: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose names live in ``homes``
    (name → module; a sub-package named like its entry is the module itself). A name found once
    is cached in the package.

    >>> getattr_, dir_ = lazy_exports("edgeml", {"sha256_file": "edgeml.bundle"})
    >>> getattr_("sha256_file").__name__, "sha256_file" in dir_()
    ('sha256_file', True)
    """

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            module = importlib.import_module(homes[name])
        except ModuleNotFoundError as exc:  # a device install without the extra it needs
            raise missing(exc, f"{package}.{name}") from None
        value = module if homes[name] == f"{package}.{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(homes))

    return __getattr__, __dir__
