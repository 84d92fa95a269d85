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


# README lines whose data lives elsewhere (a database, an API, another dataset) or that run for
# minutes (a 30-trial search) or forever (a server); everything else in the quick start runs.
_ELSEWHERE = ("sqlite://", "postgresql://", "https://", "fleet.csv", "--search", "--dask")


@pytest.mark.slow
def test_the_readme_quick_start_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's quick start and signing commands, run as written on a churn table named as
    the README names it (customers.csv, new.csv, labelled.csv): each exits 0 and leaves what it
    says it writes."""
    import polars as pl
    from click.testing import CliRunner

    from tests.conftest import shared

    churn = pl.read_csv(shared("telco_churn.csv"), null_values=["NA"])
    for name in ("customers.csv", "labelled.csv"):
        churn.write_csv(tmp_path / name)
    churn.drop("churn").head(500).write_csv(tmp_path / "new.csv")
    monkeypatch.chdir(tmp_path)
    lines = [
        line
        for line in _readme_commands()
        if not any(part in line for part in _ELSEWHERE)
        and ("serve" not in line.split()[1])
        and line.split()[1] not in ("monitor", "retrain", "registry")
    ]
    assert len(lines) >= 10, lines
    runner = CliRunner()
    for line in lines:
        result = runner.invoke(cli, shlex.split(line)[1:])
        assert result.exit_code == 0, (line, result.output)
    for written in (
        "churn.edgeml/manifest.json",
        "predictions.parquet",
        "why.parquet",
        "report.html",
        "team.key",
        "team.key.pub",
        "churn-image/Dockerfile",
    ):
        assert (tmp_path / written).exists(), written
    why = pl.read_parquet(tmp_path / "why.parquet")
    assert any(c.startswith("contrib_") for c in why.columns)
