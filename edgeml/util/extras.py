"""Which extra of ``pip install edgeml[...]`` provides each optional package.

``pip install edgeml`` brings NumPy alone: enough for :mod:`edgeml.runtime` to run a bundle on a
device. Training, export and the command line need ``edgeml[train]``, the HTTP server
``edgeml[serve]``, batch prediction on a Dask cluster ``edgeml[dask]``, reading
``postgresql://`` sources ``edgeml[postgres]``; ``edgeml[all]`` is all four. When an import
fails for want of one of these packages, :func:`missing` turns the ``ModuleNotFoundError`` into a
:class:`~edgeml.errors.DependencyError` that says what to install (a test keeps this table
equal to pyproject's extras).

>>> str(missing(ModuleNotFoundError("No module named 'polars'", name="polars"), "edgeml.train"))
"edgeml.train needs polars, which is not installed; install it: pip install 'edgeml[train]'"
"""

from __future__ import annotations

from edgeml.errors import DependencyError

__all__ = ["EXTRAS", "extra_of", "missing"]

# extra -> the top-level modules its distributions provide
EXTRAS: dict[str, frozenset[str]] = {
    "train": frozenset({
        "polars", "lightgbm", "numba", "sklearn", "click", "rich", "treelite", "tl2cgen",
        "onnx", "onnxruntime", "optuna", "matplotlib", "cryptography", "pyarrow", "httpx",
    }),
    "postgres": frozenset({"adbc_driver_postgresql", "adbc_driver_manager"}),
    "dask": frozenset({"dask", "distributed"}),
    "serve": frozenset({"fastapi", "uvicorn", "prometheus_client", "httpx", "cryptography"}),
}  # fmt: skip


def extra_of(module: str) -> str | None:
    """The extra that provides top-level ``module`` (``"sklearn"`` -> ``"train"``), if any."""
    top = module.split(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if top in modules), None)


def missing(exc: ModuleNotFoundError, what: str) -> DependencyError | ModuleNotFoundError:
    """A DependencyError naming the extra to install, or ``exc`` itself when no extra provides
    the module (then it is a bug or a broken install, not a missing extra)."""
    name = exc.name or ""
    extra = extra_of(name)
    if extra is None:
        return exc
    top = name.split(".")[0]
    return DependencyError(
        f"{what} needs {top}, which is not installed; install it: pip install 'edgeml[{extra}]'"
    )
