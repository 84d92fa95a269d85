"""What every command module of the CLI shares: user errors as one line with exit code 2."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from edgeml.errors import EdgeMLError
from edgeml.util.redact import redact

__all__ = ["UserError", "emit_json", "user_errors"]

F = TypeVar("F", bound=Callable[..., Any])


class UserError(click.ClickException):
    """An EdgeMLError on its way to the terminal: one line, exit code 2."""

    exit_code = 2


def user_errors(command: F) -> F:
    """Turn :class:`~edgeml.errors.EdgeMLError` raised by ``command`` into :class:`UserError`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EdgeMLError as exc:
            # redact: a source's own error already hides its secrets; this is the safety net.
            raise UserError(redact(str(exc).replace("\n", " "))) from None

    return wrapper  # type: ignore[return-value]


def emit_json(payload: dict[str, Any]) -> None:
    """The one JSON object a ``--json`` command prints on stdout."""
    click.echo(json.dumps(payload, indent=2, default=str))
