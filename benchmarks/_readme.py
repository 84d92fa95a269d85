"""Writing a benchmark's figures into its section of benchmarks/README.md, keeping the rest."""

from __future__ import annotations

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
