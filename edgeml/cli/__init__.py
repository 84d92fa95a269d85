"""The ``edgeml`` command line: each command parses options, calls one library function and prints.

The group and the pipeline commands are in :mod:`edgeml.cli._app`; ``monitor``, ``retrain`` and
``registry`` in their own modules; rich renderings for people in :mod:`edgeml.cli._views`.
"""

from edgeml.cli._app import cli, main

__all__ = ["cli", "main"]
