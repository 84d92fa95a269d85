"""Whether a process still runs: how leftovers of killed writers are told from work in progress.

>>> import os
>>> alive(os.getpid())
True
"""

from __future__ import annotations

import os

__all__ = ["alive"]


def alive(pid: int) -> bool:
    """True if a process ``pid`` exists on this machine (someone else's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a number we cannot ask about: leave it)
    return True
