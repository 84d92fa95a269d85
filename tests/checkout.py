"""Whether a file a test opens lies outside what a clean clone has: the checkout, temporary
directories, the Python installation and the system.

conftest.py installs :func:`audit` as an audit hook (``sys.addaudithook``) for the whole session
and fails the run if any test opened a file elsewhere (the shared data directory, a sibling
checkout, a user's home), so the suite passes on a machine with nothing but the repository.
Python's own ``open`` is seen; files read by native code (Polars, LightGBM) are not: ``.ci/run``
runs the suite in a copy of the checkout with nothing beside it, which catches those.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _roots() -> tuple[str, ...]:
    home = Path.home()
    paths = {
        ROOT,
        Path(tempfile.gettempdir()),
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        *(Path(p) for p in sysconfig.get_paths().values()),
        *(Path(p) for p in site.getsitepackages()),
        # Caches and settings of the tools themselves (edgeml's compile cache, matplotlib's font
        # cache, numba), not data a test depends on.
        Path(os.environ.get("EDGEML_CACHE", home / ".cache" / "edgeml")),
        Path(os.environ.get("XDG_CACHE_HOME", home / ".cache")),
        Path(os.environ.get("XDG_CONFIG_HOME", home / ".config")),
        # pdb (which doctest imports) looks for its rc file in the home directory.
        home / ".pdbrc",
        *(Path(p) for p in ("/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev", "/run")),
    }
    variants = {os.path.abspath(p) for p in paths} | {os.path.realpath(p) for p in paths}
    return tuple(sorted(p.rstrip(os.sep) + os.sep for p in variants))


ALLOWED = _roots()


def outside(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> bool:
    """Whether opening ``path`` reads something a clean clone does not have.

    >>> outside(ROOT / "tests" / "conftest.py"), outside("/srv/shared/data/cells.csv")
    (False, True)
    """
    name = os.fsdecode(path)
    full = os.path.abspath(name) + os.sep
    return not full.startswith(ALLOWED)


# (path, test) pairs opened outside; conftest fails the session when this is not empty.
SEEN: list[tuple[str, str]] = []
CURRENT = ["(collection)"]


def audit(event: str, args: tuple[object, ...]) -> None:
    """Audit hook: record every ``open`` of a path outside (see the module docstring)."""
    if event != "open" or not args:
        return
    path = args[0]
    # An int is an already open descriptor; None is e.g. a pipe. Neither names a new file.
    if isinstance(path, str | bytes | os.PathLike) and outside(path):
        SEEN.append((os.fsdecode(path), CURRENT[0]))
