"""Writing a benchmark's figures into its section of benchmarks/README.md, keeping the rest, and
the machine line every section starts with."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

README = Path(__file__).with_name("README.md")


def write_section(heading: str, body: str, readme: Path = README) -> None:
    """Replace the ``heading`` section (up to the next ``## ``) with ``body``, or append it."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = f"{heading}\n\n{body.strip()}\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text.rstrip("\n") + "\n")


def load_average() -> str:
    """The load average now, as ``uptime`` shows it (the machine is shared with other jobs)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def machine(libraries: str) -> str:
    """The machine line of a section: cores, CPU, kernel, load at the start, and ``libraries``."""
    with open("/proc/cpuinfo") as handle:
        names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
    return (
        f"Machine: {os.cpu_count()} cores, {(names or [platform.processor()])[0]}; Linux "
        f"{platform.release()}; {load_average()} at the start (shared with other jobs: "
        f"absolute figures are noisy, compare within a table). Python "
        f"{platform.python_version()}, {libraries}."
    )
