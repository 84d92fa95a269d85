"""The exceptions edgeml raises for mistakes a user can fix.

Every error a user can cause is an :class:`EdgeMLError`; the CLI prints its message on one line
and exits with code 2. Anything else escaping edgeml is a bug (exit code 1).

Exception tree::

    EdgeMLError
    ├── ConfigError           edgeml.toml or an option: unknown key, bad value
    ├── DataError             input data that cannot be used as given
    │   ├── SourceError       a file, glob or database that cannot be read
    │   ├── SchemaError       a missing/extra column or a value of the wrong type
    │   └── TargetError       a target that cannot be learned (missing, all null, one class)
    ├── BundleError           a bundle that cannot be written or trusted
    │   ├── ChecksumError     a file in the bundle changed after it was written
    │   └── VersionError      a bundle from an unknown schema version or a newer edgeml
    ├── ExportError           a model that cannot be compiled or loaded as compiled
    │   ├── ToolchainError    a compiler or emulator that is missing (names the package)
    │   └── ParityError       a compiled artifact that does not equal LightGBM
    ├── RegistryError         a model registry name or version that does not exist
    ├── ServeError            a server that cannot start (port, token, log database)
    ├── ClusterError          a Dask scheduler that cannot be reached or a job it lost
    ├── DependencyError       an optional package is not installed (names the extra to install)
    └── NotFittedError        a plan or model used before ``fit``

Each message names the file, column, row or key at fault and what was expected.
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "ChecksumError",
    "ClusterError",
    "ConfigError",
    "DataError",
    "DependencyError",
    "EdgeMLError",
    "ExportError",
    "NotFittedError",
    "ParityError",
    "RegistryError",
    "SchemaError",
    "ServeError",
    "SourceError",
    "TargetError",
    "ToolchainError",
    "VersionError",
]


class EdgeMLError(Exception):
    """Base class of every error a user can fix by changing their input or configuration."""


class ConfigError(EdgeMLError):
    """A configuration key or option value is unknown or out of range."""


class DataError(EdgeMLError):
    """Input data cannot be used as given."""


class SourceError(DataError):
    """A file, glob or database cannot be read."""


class SchemaError(DataError):
    """A column is missing, or holds values of a type that cannot be converted."""


class TargetError(DataError):
    """The target column cannot be learned from."""


class BundleError(EdgeMLError):
    """A bundle cannot be written, read or trusted."""


class ChecksumError(BundleError):
    """A bundle file's sha256 differs from the one recorded in its manifest."""


class VersionError(BundleError):
    """A bundle was written by an unknown schema version or a newer edgeml."""


class ExportError(EdgeMLError):
    """A model cannot be compiled, or a compiled artifact cannot be loaded."""


class ToolchainError(ExportError):
    """A compiler or emulator is missing; the message names the package that provides it."""


class ParityError(ExportError):
    """A compiled artifact's output differs from LightGBM's beyond the tolerance."""


class RegistryError(EdgeMLError):
    """A registry, model name or version that does not exist or cannot be changed."""


class ServeError(EdgeMLError):
    """A server that cannot start as asked: address, admin token or log database."""


class ClusterError(EdgeMLError):
    """A Dask scheduler that cannot be reached, or a job it lost (its workers died); names the
    scheduler's address and the partition."""


class DependencyError(EdgeMLError):
    """An optional package is not installed; the message names the extra that provides it."""


class NotFittedError(EdgeMLError):
    """A plan or model was used before it was fitted."""
