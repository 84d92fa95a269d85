"""``python -m edgeml.serve BUNDLE``: the server without the CLI's dependencies (click, rich),
as the Docker image runs it. ``edgeml serve`` is the same with the full command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from edgeml.errors import EdgeMLError
from edgeml.serve._holder import ServeSettings
from edgeml.serve._run import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeml.serve", description=__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log", type=Path, help="Prediction log [beside the bundle].")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--max-body-mb", type=float, default=16.0)
    args = parser.parse_args(argv)
    try:
        settings = ServeSettings(
            bundle=args.bundle,
            log=args.log,
            backend=args.backend,
            admin_token=os.environ.get("EDGEML_ADMIN_TOKEN") or None,
            max_body_bytes=int(args.max_body_mb * 2**20),
        )
        run(settings, host=args.host, port=args.port, workers=args.workers)
    except EdgeMLError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
