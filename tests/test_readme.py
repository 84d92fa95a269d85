"""The README: its configuration is a valid edgeml.toml, its commands exist with those options."""

import shlex
import tomllib
from pathlib import Path

import click
import pytest

from edgeml.cli import cli
from edgeml.config import Config

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_config_example_is_valid():
    text = README.read_text()
    block = text[text.index("```toml") + len("```toml") :]
    config = Config.from_dict(tomllib.loads(block[: block.index("```")]), source="README")
    assert config.train.target == "churn"
    assert config.search.method == "bayes"


def _readme_commands() -> list[str]:
    """Every ``edgeml ...`` line of the README's shell blocks, comments dropped."""
    text = README.read_text()
    lines: list[str] = []
    for block in text.split("```sh")[1:]:
        for line in block[: block.index("```")].splitlines():
            for command in line.split(" ; "):
                command = command.split("  #")[0].strip()
                if command.startswith("edgeml "):
                    lines.append(command)
    return lines


@pytest.mark.parametrize("line", _readme_commands())
def test_readme_commands_parse(line: str) -> None:
    """Each README command names a real command and options it takes (files need not exist)."""
    name, *rest = shlex.split(line)[1:]
    with click.Context(cli, info_name="edgeml") as ctx:
        # get_command, not .commands: a group may load its commands lazily
        command = cli.get_command(ctx, name)
        while isinstance(command, click.Group):  # e.g. `edgeml registry list`
            group = command
            name, *rest = rest
            command = group.get_command(ctx, name)
        assert command is not None, line
        try:
            command.make_context(name, rest, parent=ctx)
        except click.BadParameter as exc:
            # An example's files do not exist here; any other bad value is a README error.
            assert "does not exist" in str(exc), (line, exc)


def test_the_readme_shows_every_command() -> None:
    shown = {shlex.split(line)[1] for line in _readme_commands()}
    with click.Context(cli, info_name="edgeml") as ctx:
        commands = set(cli.list_commands(ctx))
    assert shown >= commands - {"demo"}, commands - shown
