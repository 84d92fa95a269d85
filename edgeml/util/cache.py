"""Where edgeml keeps what it computed once per machine: ``$EDGEML_CACHE`` or ``~/.cache/edgeml``.

Compiled cores and libraries (``edgeml.compile``) and the backend ``auto`` measured fastest for a
bundle (``edgeml.runtime``) live there; deleting it only costs the time to make them again.

>>> import os
>>> os.environ["EDGEML_CACHE"] = "/tmp/edgeml-cache"; str(cache_dir())
'/tmp/edgeml-cache'
>>> del os.environ["EDGEML_CACHE"]
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """Where compiled artifacts and measurements are cached: ``$EDGEML_CACHE`` or
    ``~/.cache/edgeml``."""
    configured = os.environ.get("EDGEML_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "edgeml"
