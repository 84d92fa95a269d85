"""Which bundle the server runs, and swapping it: a reload builds and checks the new model
completely, then replaces one reference, so requests in flight finish on the model they started
with and a bundle that fails verification never serves.

With a registry the bundle is ``REGISTRY/NAME/current``; :meth:`ModelHolder.changed` tells a
poller when that pointer moved.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgeml.errors import BundleError, EdgeMLError, ServeError
from edgeml.monitor import default_log_path
from edgeml.registry import Registry
from edgeml.serve._served import ServedModel

__all__ = ["ModelHolder", "ServeSettings"]


@dataclass(frozen=True, kw_only=True)
class ServeSettings:
    """How ``edgeml serve`` runs: what to serve, where to log, limits and the admin token.

    >>> ServeSettings(bundle=Path("churn.edgeml")).log_path()
    PosixPath('churn.edgeml.log.db')
    """

    bundle: Path | None = None
    registry: Path | None = None
    name: str | None = None
    backend: str = "auto"
    log: Path | None = None
    admin_token: str | None = None
    max_body_bytes: int = 16 * 2**20
    unknown_categories: Literal["reject", "missing"] = "missing"
    poll_seconds: float = 1.0

    def __post_init__(self) -> None:
        if (self.bundle is None) == (self.registry is None):
            raise ServeError("serve either a BUNDLE or --registry DIR --name NAME, not both")
        if self.registry is not None and not self.name:
            raise ServeError("--registry needs --name: the model to follow in the registry")
        if self.admin_token is not None and len(self.admin_token) < 16:
            raise ServeError("admin token: expected at least 16 characters")
        if self.max_body_bytes < 1024:
            raise ServeError(
                f"max body size: expected at least 1024 bytes, got {self.max_body_bytes}"
            )

    def source(self) -> Path:
        """The bundle to load now (the registry's current version when following one)."""
        if self.bundle is not None:
            return self.bundle
        return Registry(self._registry()).current(self._name())

    def pointer(self) -> Path | None:
        """The registry's ``current`` link when following one."""
        if self.registry is None or self.name is None:
            return None
        return self.registry / self.name / "current"

    def log_path(self) -> Path:
        """The prediction log: ``--log``, else beside the bundle, else in the registry entry."""
        if self.log is not None:
            return self.log
        if self.bundle is not None:
            return default_log_path(self.bundle)
        return self._registry() / self._name() / "predictions.log.db"

    def _registry(self) -> Path:
        if self.registry is None:
            raise ServeError("no --registry given")
        return self.registry

    def _name(self) -> str:
        if not self.name:
            raise ServeError("--registry needs --name: the model to follow in the registry")
        return self.name


class ModelHolder:
    """The model being served; :meth:`reload` swaps in a new one only if it loads and is ready."""

    def __init__(
        self, settings: ServeSettings, *, prepare: Callable[[ServedModel], None] | None = None
    ) -> None:
        self.settings = settings
        self._prepare = prepare
        self._lock = threading.Lock()
        self._pointer = _target(settings.pointer())
        self.current = self._load()
        if not self.current.ready:
            raise BundleError(f"{self.current.path}: not ready to serve: {self.current.checks}")

    def reload(self) -> tuple[ServedModel, ServedModel]:
        """Load the source again; ``(old, new)``. Raises (and keeps the old) if it cannot serve."""
        with self._lock:
            old = self.current
            # Remembered even if the load fails: the poller then waits for the next change
            # instead of retrying a broken version every second.
            self._pointer = _target(self.settings.pointer())
            try:
                new = self._load()
            except (EdgeMLError, OSError, ValueError) as exc:
                raise BundleError(f"reload refused ({exc}); still serving {old.version}") from None
            if not new.ready:
                raise BundleError(
                    f"reload refused ({new.path} failed its checks: {new.checks}); "
                    f"still serving {old.version}"
                )
            self._ready(new)
            self.current = new
            return old, new

    def warm_up(self) -> None:
        """Run the ``prepare`` step on the model loaded at start (the server calls it once the
        prediction log exists)."""
        self._ready(self.current)

    def _ready(self, served: ServedModel) -> None:
        if self._prepare is not None:
            self._prepare(served)

    def changed(self) -> bool:
        """Whether the registry's ``current`` now points elsewhere than what is loaded."""
        pointer = self.settings.pointer()
        return pointer is not None and _target(pointer) != self._pointer

    def _load(self) -> ServedModel:
        source = self.settings.source()
        try:
            return ServedModel.load(
                source,
                backend=self.settings.backend,
                strict_categories=self.settings.unknown_categories == "reject",
            )
        except EdgeMLError:
            raise
        except (LookupError, TypeError, AttributeError, ValueError) as exc:
            # A manifest of the wrong shape ("target": 5, a key missing) fails in whichever
            # reader meets it first; it is a bundle that cannot be served, not a server fault:
            # refused (409 and counted on reload, exit 2 at start), the old model kept.
            raise BundleError(
                f"{source}: manifest.json has the wrong shape ({type(exc).__name__}: {exc})"
            ) from None


def _target(link: Path | None) -> str | None:
    if link is None:
        return None
    try:
        return os.readlink(link)
    except OSError:
        return None
