"""Finishing a bundle replacement that was killed half-way.

A directory cannot be replaced by one rename, so :func:`edgeml.bundle.write_bundle` replaces
``NAME`` in three steps, with names that say which write they belong to
(``.NAME.<pid>-<token>.tmp`` and ``.old``):

1. write the new bundle completely into ``.NAME.T.tmp`` (files fsynced);
2. rename ``NAME`` to ``.NAME.T.old``;
3. rename ``.NAME.T.tmp`` to ``NAME``, then delete ``.NAME.T.old``.

A kill between 2 and 3 leaves no ``NAME``. :func:`recover` — run by the next write, and by the
next open that finds ``NAME`` missing — repairs every state a dead writer can leave:

- ``.tmp`` and ``.old`` of one write and no ``NAME``: step 2 happened, so step 1 had finished
  and the ``.tmp`` is complete: it becomes ``NAME`` (the write completes);
- only an ``.old`` and no ``NAME``: it goes back to ``NAME``;
- anything else left (a ``.tmp`` killed during step 1, an ``.old`` after step 3) is deleted.

A symlink swapped by one rename would need no repair, but then the bundle would be a link: a
user copying ``churn.edgeml`` (cp -r, scp, a Docker COPY) would copy the link, not the model,
and readers refuse links inside bundles. Entries of a writer that still runs are left alone.

>>> recover(Path("/nonexistent/churn.edgeml"))
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from edgeml.errors import BundleError
from edgeml.util.files import fsync_dir
from edgeml.util.process import alive

__all__ = ["ACTIVE", "leftover_name", "recover"]

#: Tokens of the writes this process has under way (its own threads are alive too).
ACTIVE: set[str] = set()


def leftover_name(path: Path, token: str, kind: str) -> Path:
    """``.NAME.<token>.<kind>`` beside ``path`` (kind: ``tmp`` or ``old``)."""
    return path.parent / f".{path.name}.{token}.{kind}"


def recover(path: Path) -> None:
    """Repair what a killed replacement of ``path`` left (see the module docstring)."""
    pattern = re.compile(re.escape(f".{path.name}.") + r"(([0-9]+)-[0-9a-f]{8})\.(tmp|old)")
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    writes: dict[str, set[str]] = {}
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and match.group(1) not in ACTIVE and not _alive(int(match.group(2))):
            writes.setdefault(match.group(1), set()).add(match.group(3))
    try:
        for token, kinds in sorted(writes.items()):
            if not os.path.lexists(path):
                if kinds == {"tmp", "old"}:
                    os.rename(leftover_name(path, token, "tmp"), path)
                elif kinds == {"old"}:
                    os.rename(leftover_name(path, token, "old"), path)
                fsync_dir(path.parent)
            for kind in kinds:
                leftover = leftover_name(path, token, kind)
                if os.path.lexists(leftover):
                    shutil.rmtree(leftover, ignore_errors=True)
    except OSError as exc:
        raise BundleError(
            f"{path}: an interrupted write left {sorted(writes)} beside it and it cannot be "
            f"repaired here ({exc.strerror}); rename the .tmp (or .old) directory to {path.name}"
        ) from None


def _alive(pid: int) -> bool:
    # This process's own writes under way are in ACTIVE; any other of its entries is a leftover.
    return pid != os.getpid() and alive(pid)
