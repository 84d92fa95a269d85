"""Durations in the config: ``"90s"``, ``"10m"``, ``"1h30m"`` or a bare number of seconds."""

from __future__ import annotations

import math
import re

from edgeml.errors import ConfigError

__all__ = ["parse_duration"]

_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?)h)?(?:(\d+(?:\.\d*)?)m)?(?:(\d+(?:\.\d*)?)s)?")


def parse_duration(text: str, *, where: str = "[search] time_budget") -> float:
    """Seconds in ``"90s"``, ``"10m"``, ``"1h30m"`` or a bare number of seconds.

    >>> parse_duration("1h30m"), parse_duration("90s"), parse_duration("2.5")
    (5400.0, 90.0, 2.5)
    """
    spec = str(text).strip().lower()
    try:
        seconds = float(spec)
    except ValueError:
        match = _DURATION.fullmatch(spec)
        if not spec or match is None:
            raise ConfigError(
                f"{where}: {text!r} is not a duration; expected e.g. 90s, 10m, 1h30m"
            ) from None
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if not seconds > 0 or math.isinf(seconds):
        raise ConfigError(f"{where}: {text!r} must be a positive duration")
    return seconds
