"""``edgeml monitor``: drift, live accuracy and latency of a served model, from its prediction log.

The command is registered by :mod:`edgeml.cli` (``cli.add_command(monitor)``); it lives here so
``cli.py`` stays a list of thin commands. Alerts are printed, never turned into a failing exit
code: a monitor that exits 1 on drift would look like a crash to a scheduler.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeml.cli._common import user_errors

__all__ = ["monitor"]


@click.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--log",
    "log",
    type=click.Path(path_type=Path),
    help="Prediction log (default: BUNDLE.log.db beside the bundle, where edgeml serve writes).",
)
@click.option(
    "--window",
    type=click.IntRange(min=1),
    help="How many of the latest logged rows to look at (default: [monitor] window).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--report",
    type=click.Path(path_type=Path),
    help="Also write a self-contained HTML report (plots of drift, latency, accuracy) here.",
)
@click.option(
    "--retrain-if-drift",
    "new_data",
    metavar="NEW_DATA",
    help="Labelled new rows to retrain on, only when drift or an accuracy alert fires.",
)
@click.option(
    "--registry",
    type=click.Path(path_type=Path),
    help="Model registry the retrained model is added to (with --retrain-if-drift).",
)
@user_errors
def monitor(
    bundle: Path,
    log: Path | None,
    window: int | None,
    as_json: bool,
    report: Path | None,
    new_data: str | None,
    registry: Path | None,
) -> None:
    """Drift, live accuracy, throughput and latency of a served bundle, from its prediction log.

    Alerts (drift past [monitor] psi_alert, missing or out-of-range values, a fall in the live
    primary metric past accuracy_drop) are printed; the exit code stays 0.

    \b
    Example:
        edgeml monitor churn.edgeml
        edgeml monitor churn.edgeml --window 5000 --json
        edgeml monitor churn.edgeml --report monitor.html --retrain-if-drift march.csv
    """
    from edgeml.monitor import monitor_summary

    summary = monitor_summary(bundle, log=log, window=window)
    payload = summary.to_dict()
    if report is not None:
        from edgeml.monitor import write_monitor_report

        payload["report"] = str(write_monitor_report(summary, report))
    retrained = None
    if new_data is not None and (summary.drifted or summary.accuracy_alert):
        # Imported only when it runs: retraining loads the whole training stack.
        from edgeml.registry import Registry
        from edgeml.retrain import retrain

        if registry is None:
            retrained = retrain(bundle, new_data)
        else:
            name = Registry(registry).name_of(bundle)
            retrained = retrain(None, new_data, registry=registry, name=name)
    if new_data is not None:
        payload["retrain"] = None if retrained is None else retrained.to_dict()
    if as_json:
        click.echo(json.dumps(payload, indent=2, allow_nan=False, default=str))
        return
    from rich.console import Console

    from edgeml.monitor import show_monitor

    console = Console(highlight=False, soft_wrap=True)
    show_monitor(console, summary)
    if report is not None:
        console.print(f"wrote {report}")
    if new_data is not None and retrained is None:
        console.print("no drift and no accuracy alert: not retraining")
    elif retrained is not None:
        # Imported here: retraining (and its training stack) is loaded only when it ran.
        from edgeml.cli._registry import retrain_lines

        for line in retrain_lines(retrained):
            console.print(line)
