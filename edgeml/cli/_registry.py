"""``edgeml retrain`` and ``edgeml registry ...``: thin click commands over edgeml.retrain and
edgeml.registry.

Registered on the main group by ``edgeml.cli``. User mistakes (:class:`EdgeMLError`) become one
line on stderr and exit code 2 (``edgeml.cli._common``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from edgeml.cli._common import emit_json, user_errors
from edgeml.config import load_config
from edgeml.registry import Registry, VersionInfo
from edgeml.util.progress import Reporter

if TYPE_CHECKING:
    from edgeml.retrain import RetrainResult

__all__ = ["registry", "retrain"]

F = TypeVar("F", bound=Callable[..., Any])

REGISTRY_ENV = "EDGEML_REGISTRY"


def _registry_option(command: F) -> F:
    return click.option(
        "--registry",
        "root",
        type=click.Path(path_type=Path, file_okay=False),
        envvar=REGISTRY_ENV,
        required=True,
        help=f"Registry directory (or set {REGISTRY_ENV}).",
    )(command)


@click.command()
@click.argument("bundle")
@click.argument("new_data")
@click.option(
    "--registry",
    "root",
    type=click.Path(path_type=Path, file_okay=False),
    help="Registry directory: BUNDLE is then the model NAME, and a winner is promoted.",
)
@click.option("--name", help="Model name in the registry (instead of BUNDLE).")
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), help="edgeml.toml ([retrain])."
)
@click.option("--out", type=click.Path(path_type=Path), help="Challenger bundle (no registry).")
@click.option("--table", help="Table name, for sqlite:/// and postgresql:// sources.")
@click.option("--query", help="SQL query, for sqlite:/// and postgresql:// sources.")
@click.option(
    "--since", help="With [data] watermark: new rows after this value [the champion's latest]."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def retrain(
    bundle: str,
    new_data: str,
    root: Path | None,
    name: str | None,
    config_path: Path | None,
    out: Path | None,
    table: str | None,
    query: str | None,
    since: str | None,
    as_json: bool,
) -> None:
    """Train a challenger on NEW_DATA and keep it only if it beats the champion beyond noise.

    \b
    Example:
        edgeml retrain churn.edgeml march.csv
        edgeml retrain churn march.csv --registry models/ --json
        edgeml retrain models/churn/current march.csv --registry models/
    """
    # Imported when the command runs: retraining loads the whole training stack.
    from edgeml.retrain import retrain as retrain_model

    champion: str | None = bundle
    if root is not None and name is None and Path(bundle).exists():
        name, champion = Registry(root).name_of(bundle), None  # a version's path: its model
    result = retrain_model(
        champion,
        new_data,
        registry=root,
        name=name,
        config=load_config(config_path) if config_path else None,
        table=table,
        query=query,
        out=out,
        reporter=Reporter(),
        since=since,
    )
    if as_json:
        emit_json(result.to_dict())
    else:
        for line in retrain_lines(result):
            click.echo(line)


def retrain_lines(result: RetrainResult) -> list[str]:
    """What ``edgeml retrain`` prints for people."""
    c = result.comparison
    if result.promoted:
        decision = f"promoted: {result.name} v{result.version} is current"
    elif result.accepted:
        decision = "accepted: the challenger is better (no registry to promote it in)"
    else:
        decision = "kept the champion"
    return [
        f"champion: {result.champion}",
        f"challenger: {result.challenger}",
        f"{c.metric} on {c.rows} held-out rows: champion {c.champion:.4f}, challenger "
        f"{c.challenger:.4f}, gain {c.gain:+.4f} ({c.confidence:.0%} interval "
        f"{c.low:+.4f} .. {c.high:+.4f})",
        f"decision: {decision}",
        *(f"reason: {reason}" for reason in result.reasons),
        *(f"warning: {warning}" for warning in result.warnings),
    ]


@click.group()
def registry() -> None:
    """Versions of named models: list, add, promote, roll back.

    \b
    Example:
        edgeml registry add churn churn.edgeml --promote --registry models/
        edgeml registry list --registry models/
    """


@registry.command("list")
@_registry_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def list_versions(root: Path, as_json: bool) -> None:
    """List every model and version; the current one is marked with *.

    \b
    Example:
        EDGEML_REGISTRY=models/ edgeml registry list --json
    """
    store = Registry(root)
    models = {name: store.versions(name) for name in store.names()}
    if as_json:
        emit_json(
            {
                "registry": str(store.root),
                "models": {name: [v.to_dict() for v in found] for name, found in models.items()},
            }
        )
        return
    if not models:
        click.echo(f"no models in {store.root}")
    for found in models.values():
        for info in found:
            click.echo(_version_line(info))


def _version_line(info: VersionInfo) -> str:
    mark = "*" if info.is_current else " "
    score = "—" if info.value is None else f"{info.value:.4f}"
    return (
        f"{mark} {info.name} v{info.version}  {info.task}  {info.metric} {score}  {info.created_at}"
    )


@registry.command()
@click.argument("name")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--promote", is_flag=True, help="Make it the current version.")
@_registry_option
@user_errors
def add(name: str, bundle: Path, promote: bool, root: Path) -> None:
    """Copy a verified BUNDLE into the registry as the next version of NAME.

    \b
    Example:
        edgeml registry add churn churn.edgeml --promote --registry models/
    """
    info = Registry(root).add(name, bundle, promote=promote)
    click.echo(f"added {info.name} v{info.version}" + (" (current)" if info.is_current else ""))


@registry.command()
@click.argument("name")
@click.argument("version")
@_registry_option
@user_errors
def promote(name: str, version: str, root: Path) -> None:
    """Make VERSION (3 or v3) the current version of NAME.

    \b
    Example:
        edgeml registry promote churn v2 --registry models/
    """
    info = Registry(root).promote(name, version)
    click.echo(f"{info.name}: current is v{info.version}")


@registry.command()
@click.argument("name")
@_registry_option
@user_errors
def rollback(name: str, root: Path) -> None:
    """Return NAME to the version that was current before the last promotion.

    \b
    Example:
        edgeml registry rollback churn --registry models/
    """
    info = Registry(root).rollback(name)
    click.echo(f"{info.name}: rolled back to v{info.version}")
