"""``python -m edgeml`` and the ``edgeml`` script.

The command line needs the ``edgeml[train]`` extra (click, rich, Polars, ...). A device install
(``pip install edgeml``: NumPy alone) has the script too, so it says in one line what to install
instead of printing a traceback.
"""

from __future__ import annotations

import sys

from edgeml.errors import DependencyError
from edgeml.util.extras import missing


def main() -> None:
    """Run the command line, or exit 2 naming the extra it needs."""
    try:
        # Imported here, not at the top: its packages are an optional extra (see above).
        from edgeml.cli import main as cli_main
    except ModuleNotFoundError as exc:
        error = missing(exc, "the edgeml command line")
        if not isinstance(error, DependencyError):
            raise
        print(f"Error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    cli_main()


if __name__ == "__main__":
    main()
