"""Staging directories of the build cache, and removing the ones killed builds left behind.

:func:`edgeml.compile._toolchain.cached_build` builds an entry in ``.<key12>.<pid>-<random>``
beside it and renames it into place. A build killed before the rename (kill -9, a closed laptop)
used to leave that directory in the cache forever, each as large as a compiled model. Every
build now first removes staging directories whose process is gone (same machine), and any older
than :data:`MAX_AGE_SECONDS` (a cache shared between machines, where the pid means nothing).

>>> staging_prefix("ab" * 32).startswith(".abababababab.")
True
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from edgeml.util.process import alive

__all__ = ["MAX_AGE_SECONDS", "remove_stale", "staging_prefix"]

MAX_AGE_SECONDS = 24 * 3600  # no compile takes a day; a staging directory that old is debris
# .<key12>.<pid>-<random> (this version) or .<key12>.<random> (older ones, no pid).
_STAGING = re.compile(r"\.[0-9a-f]{12}\.(?:([0-9]+)-)?[A-Za-z0-9_]+")


def staging_prefix(key: str) -> str:
    """The name prefix of this process's staging directories for the entry ``key``."""
    return f".{key[:12]}.{os.getpid()}-"


def remove_stale(root: Path, *, now: float | None = None) -> list[Path]:
    """Delete stale staging directories in every shard of the cache ``root``; those removed."""
    now = time.time() if now is None else now
    removed = []
    try:
        shards = [p for p in root.iterdir() if len(p.name) == 2 and p.is_dir()]
    except OSError:
        return []
    for shard in shards:
        for entry in shard.iterdir():
            match = _STAGING.fullmatch(entry.name)
            if match is None or entry.is_symlink() or not entry.is_dir():
                continue
            pid = match.group(1)
            try:
                old = now - entry.stat().st_mtime > MAX_AGE_SECONDS
            except OSError:
                continue
            if old or (pid is not None and int(pid) != os.getpid() and not alive(int(pid))):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed
