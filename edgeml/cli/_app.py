"""The ``edgeml`` command line: each command parses options, calls one library function and prints.

User mistakes (:class:`edgeml.EdgeMLError`) become one line on stderr and exit code 2.

Each command imports the stage it calls when it runs, inside its body: the training stack
(Polars, LightGBM, scikit-learn, Numba) and the server take seconds to import, and
``edgeml --help`` / ``--version`` should not wait for them (a test checks ``sys.modules``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from edgeml.bundle import generate_keypair, sign_bundle
from edgeml.cli import _views
from edgeml.cli._common import UserError, emit_json, user_errors
from edgeml.cli._monitor import monitor
from edgeml.cli._registry import registry, retrain
from edgeml.compile import FORMATS
from edgeml.compile import export as export_bundle
from edgeml.config import Config, load_config
from edgeml.errors import ConfigError
from edgeml.spec.manifest import BACKENDS
from edgeml.util.progress import Reporter

F = TypeVar("F", bound=Callable[..., Any])


def _stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _data_options(command: F) -> F:
    databases = "for sqlite:/// and postgresql:// sources"
    command = click.option("--query", help=f"SQL query, {databases}.")(command)
    command = click.option("--table", help=f"Table name, {databases}.")(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgeml")
def cli() -> None:
    """Raw tabular data to a small, fast, verified model for CPU-only edge devices.

    \b
    Example:
        edgeml demo
        edgeml train data.csv --target churn --out churn.edgeml
    """


@cli.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default="demo-output",
    show_default=True,
    help="Directory for the demo data and bundle.",
)
@user_errors
def demo(out: Path) -> None:
    """Run the full pipeline on the embedded sensor-fleet dataset.

    \b
    Example:
        edgeml demo --out /tmp/demo
    """
    from edgeml.demo import run_demo  # the whole pipeline: imported when the command runs

    result = run_demo(out, reporter=Reporter())
    _views.show_demo(_stdout(), result)


@cli.command()
@click.argument("data")
@click.option("--target", help="Target column: adds class balance and leakage checks.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="edgeml.toml.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_data_options
@user_errors
def profile(
    data: str,
    target: str | None,
    config_path: Path | None,
    as_json: bool,
    table: str | None,
    query: str | None,
) -> None:
    """Data quality report: types, missing values, outliers, duplicates, leakage suspects.

    \b
    Example:
        edgeml profile customers.csv --target churn
    """
    from edgeml.data import profile as profile_frame  # Polars: imported when the command runs
    from edgeml.data import read_data, redact

    config = load_config(config_path)
    keep_raw = [target] if target else []
    dataset = read_data(  # the target in every file of a glob, as training needs it
        data, config=config.data, table=table, query=query, keep_raw=keep_raw, required=keep_raw
    )
    report = profile_frame(dataset.frame, target=target)
    notes = dataset.card.assumptions  # e.g. a nested column left out
    if as_json:
        emit_json({"source": redact(data), **report.to_dict(), "notes": notes})
    else:
        report.render(_stdout())
        for note in notes:
            _stdout().print(f"note: {note}", highlight=False, markup=False)


@cli.command()
@click.argument("data")
@click.option("--target", help="Column to predict.")
@click.option("--out", type=click.Path(path_type=Path), help="Bundle directory [TARGET.edgeml].")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="edgeml.toml.")
@click.option("--task", type=click.Choice(["auto", "binary", "multiclass", "regression"]))
@click.option("--time-col", help="Time column: time-ordered holdout and CV.")
@click.option("--entity-col", help="Entity column (e.g. a machine id); not a feature.")
@click.option("--group-col", help="Group column: rows of a group stay in one split.")
@click.option("--seed", type=int, help="Random seed [0].")
@click.option(
    "--features",
    "features_mode",
    type=click.Choice(["auto", "none"]),
    help="Feature engineering: auto (time-series candidates with --time-col, then selection).",
)
@click.option("--search", "method", type=click.Choice(["none", "grid", "random", "bayes"]),
              help="Hyperparameter search [none].")  # fmt: skip
@click.option("--trials", type=int, help="Search trials [30].")
@click.option("--time-budget", help="Search time limit: 90s, 10m, 1h.")
@click.option("--resume", is_flag=True, help="Continue the search stored beside the bundle.")
@click.option("--max-latency-us", type=float, help="Edge budget: µs per single-row prediction.")
@click.option("--max-model-kb", type=float, help="Edge budget: model size in KB.")
@click.option("--compare", is_flag=True, help="Leaderboard of model families on the same folds.")
@click.option("--since", help="With [data] watermark: only rows after this value.")
@click.option(
    "--stream/--no-stream",
    default=None,
    help="Read DATA in chunks into LightGBM, never whole [auto: when it would not fit].",
)
@click.option("--dask", "dask_address", help="Train on this Dask scheduler (lightgbm.dask).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_data_options
@user_errors
def train(
    data: str,
    target: str | None,
    out: Path | None,
    config_path: Path | None,
    task: str | None,
    time_col: str | None,
    entity_col: str | None,
    group_col: str | None,
    seed: int | None,
    features_mode: str | None,
    method: str | None,
    trials: int | None,
    time_budget: str | None,
    resume: bool,
    max_latency_us: float | None,
    max_model_kb: float | None,
    compare: bool,
    since: str | None,
    stream: bool | None,
    dask_address: str | None,
    as_json: bool,
    table: str | None,
    query: str | None,
) -> None:
    """Train a LightGBM model and write an evaluated bundle.

    \b
    Example:
        edgeml train customers.csv --target churn --out churn.edgeml
        edgeml train sqlite:///shop.db --table orders --target returned --json
        edgeml train customers.csv --target churn --search bayes --trials 30 --time-budget 10m
        edgeml train customers.csv --target churn --search bayes --max-model-kb 64 --compare
        edgeml train big.csv --target churn --stream
        edgeml train 'parts/*.parquet' --target churn --dask tcp://10.0.0.5:8786
    """
    # The training stack: imported when the command runs.
    from edgeml.pipeline import train as train_bundle
    from edgeml.search import show_tuning

    config: Config = load_config(config_path).with_overrides("features", mode=features_mode)
    config = config.with_overrides("data", since=since)
    config = config.with_overrides(
        "search",
        method=method,
        trials=trials,
        time_budget=time_budget,
        resume=resume or None,  # a flag left off keeps the config file's value
        max_latency_us=max_latency_us,
        max_model_kb=max_model_kb,
        compare=compare or None,
    )
    streamed = None if stream is None else "on" if stream else "off"
    config = config.with_overrides("train", stream=streamed)
    config = config.with_overrides("dask", address=dask_address)
    scaled = _train_at_scale(data, config, target=target, out=out, table=table, query=query,
                             task=task, time_col=time_col, entity_col=entity_col,
                             group_col=group_col, seed=seed)  # fmt: skip
    if scaled is not None:
        if as_json:
            emit_json(scaled.to_dict())
        else:
            _views.show_training(_stdout(), scaled.to_dict())
        return
    latency = None
    if config.search.max_latency_us is not None or config.search.compare:
        from edgeml.compile import latency_meter  # builds the engine's core once per machine

        latency = latency_meter()  # None without a C compiler: Booster.predict times the trials
    result = train_bundle(
        data,
        target=target,
        out=out,
        config=config,
        table=table,
        query=query,
        reporter=Reporter(),
        latency=latency,
        task=task,
        time_col=time_col,
        entity_col=entity_col,
        group_col=group_col,
        seed=seed,
    )
    if as_json:
        emit_json(result.to_dict())
    else:
        _views.show_training(_stdout(), result.to_dict())
        show_tuning(_stdout(), result.to_dict())


def _train_at_scale(
    data: str, config: Config, *, table: str | None, query: str | None, **options: Any
) -> Any:
    """``edgeml train`` on a Dask cluster (``--dask``/``[dask]``) or streamed (``--stream``,
    or ``[train] stream = "auto"`` on data too large to read whole); None: in memory."""
    from edgeml.scale import train_dask, train_stream, wants_stream

    given = {k: v for k, v in options.items() if v is not None}
    dask = config.dask
    if dask.address is not None or dask.n_workers is not None:
        _no_table("--dask", table, query)
        return train_dask(data, dask.address, n_workers=dask.n_workers, config=config,
                          reporter=Reporter(), **given)  # fmt: skip
    if table is None and query is None and wants_stream(data, config.train):
        return train_stream(data, config=config, reporter=Reporter(), **given)
    return None


def _no_table(how: str, table: str | None, query: str | None) -> None:
    if table is not None or query is not None:
        raise ConfigError(f"{how} trains on files; --table and --query apply to databases")


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("data")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_data_options
@user_errors
def evaluate(bundle: Path, data: str, as_json: bool, table: str | None, query: str | None) -> None:
    """Score a bundle on labelled data, beside the trivial baseline.

    \b
    Example:
        edgeml evaluate churn.edgeml holdout.csv --json
    """
    from edgeml.pipeline import load  # the training stack: imported when the command runs

    report = load(bundle).evaluate(data, table=table, query=query)
    if as_json:
        emit_json(report)
    else:
        _views.show_evaluation(_stdout(), report)


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("data")
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output: .parquet, .csv, .ndjson, or a directory (Parquet parts).",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", *BACKENDS]),
    default="auto",
    show_default=True,
    help="Inference engine; auto picks the fastest exported one.",
)
@click.option("--threads", type=int, default=1, show_default=True, help="Engine threads.")
@click.option("--batch-rows", type=int, help="Rows per batch (default: sized to 48 MB).")
@click.option("--id-cols", help="Columns passed through to the output, e.g. A,B.")
@click.option(
    "--explain",
    is_flag=True,
    help="Add each feature's contribution (contrib_<feature>, contrib_bias: exact TreeSHAP).",
)
@click.option("--dask", "dask_address", help="Score on this Dask scheduler (OUT is a directory).")
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), help="edgeml.toml ([dask])."
)
@_data_options
@user_errors
def predict(
    bundle: Path,
    data: str,
    out: Path,
    backend: str,
    threads: int,
    batch_rows: int | None,
    id_cols: str | None,
    explain: bool,
    dask_address: str | None,
    config_path: Path | None,
    table: str | None,
    query: str | None,
) -> None:
    """Predict every row of DATA and write the predictions to OUT, batch by batch.

    \b
    Example:
        edgeml predict churn.edgeml new_customers.csv -o predictions.parquet
        edgeml predict churn.edgeml new_customers.csv -o explained.parquet --explain
        edgeml predict churn.edgeml 'parts/*.parquet' -o scores/ --dask tcp://10.0.0.5:8786
        edgeml predict churn.edgeml 'parts/*.parquet' -o scores/ --config edgeml.toml
    """
    from edgeml import batch  # Polars and the model's backend: imported when the command runs

    dask = load_config(config_path).with_overrides("dask", address=dask_address).dask
    ids = None if id_cols is None else [c.strip() for c in id_cols.split(",") if c.strip()]
    options: dict[str, Any] = dict(
        backend=backend, threads=threads, batch_rows=batch_rows, id_cols=ids, explain=explain
    )
    if dask.address is not None or dask.n_workers is not None:
        result = batch.predict_dask(
            bundle,
            data,
            out,
            dask.address,
            n_workers=dask.n_workers,
            table=table,
            query=query,
            **options,
        )
    else:
        result = batch.predict_file(bundle, data, out, table=table, query=query, **options)
    click.echo(f"wrote {result.rows} predictions to {out}")
    line = _views.decision_line(result.decision)
    if line:
        click.echo(line)


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--format", "format_", type=click.Choice(FORMATS), help="Artifact to build.")
@click.option("--target", default="host", show_default=True, help="host or a GNU triple.")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), help="Copy it here.")
@click.option("--annotate", is_flag=True, help="Branch hints from the reference rows (treelite).")
@click.option("--quantize", is_flag=True, help="Thresholds as integer bins (treelite).")
@click.option(
    "--leaf-values",
    type=click.Choice(["float64", "float32"]),
    default=None,
    help="native, c: float32 leaf values, smaller tables (refused if parity fails).",
)
@click.option(
    "--sign",
    type=click.Path(path_type=Path),
    help="Sign the bundle with this Ed25519 private key (edgeml keygen).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def export(
    bundle: Path,
    format_: str | None,
    target: str,
    out: Path | None,
    annotate: bool,
    quantize: bool,
    leaf_values: str | None,
    sign: Path | None,
    as_json: bool,
) -> None:
    """Compile the bundle's model, check it equals LightGBM, and record it in the bundle.

    \b
    Example:
        edgeml export churn.edgeml --format treelite
        edgeml export churn.edgeml --format c --target aarch64-linux-gnu -o churn-c/
        edgeml export churn.edgeml --sign team.key        (sign only)
    """
    if format_ is None:
        if sign is None:
            raise UserError("export needs --format FORMAT (or --sign KEY to only sign the bundle)")
        sign_bundle(bundle, sign)
        if as_json:
            emit_json({"bundle": str(bundle), "signed": True})
        else:
            click.echo(f"signed {bundle}")
        return
    options: dict[str, Any] = {
        name: True for name, on in (("annotate", annotate), ("quantize", quantize)) if on
    }
    if leaf_values is not None:
        options["leaf_values"] = leaf_values
    result = export_bundle(
        bundle, format=format_, target=target, out=out, reporter=Reporter(), options=options,
        sign=sign,
    )  # fmt: skip
    if as_json:
        emit_json(result.to_dict())
    else:
        _views.show_export(_stdout(), result.to_dict())


@cli.command()
@click.argument("key", type=click.Path(path_type=Path))
@user_errors
def keygen(key: Path) -> None:
    """Make an Ed25519 key pair for signed bundles: KEY (private, mode 0600) and KEY.pub.

    \b
    Example:
        edgeml keygen team.key
        edgeml export churn.edgeml --format treelite --sign team.key
        python -c "import edgeml; edgeml.load('churn.edgeml', public_key='team.key.pub')"
    """
    private, public = generate_keypair(key)
    click.echo(f"wrote {private} (private: keep it off devices) and {public} (public)")


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="HTML file to write.",
)
@click.option("--data", help="Labelled rows to draw ROC, confusion, residual... plots on.")
@_data_options
@user_errors
def report(bundle: Path, out: Path, data: str | None, table: str | None, query: str | None) -> None:
    """Write one self-contained HTML report of a bundle: data, decisions, metrics and plots.

    \b
    Example:
        edgeml report churn.edgeml -o churn.html
        edgeml report churn.edgeml -o churn.html --data holdout.csv
    """
    # The training stack and matplotlib: imported when the command runs.
    from edgeml.evaluate import report as write_report

    path = write_report(bundle, out, data=data, table=table, query=query)
    click.echo(f"wrote {path}")


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path), required=False)
@click.option("--registry", type=click.Path(path_type=Path), help="Serve from a model registry.")
@click.option("--name", help="Model name in the registry; follows its current version.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to bind.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option(
    "--backend",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", *BACKENDS]),
    help="Model backend.",
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(path_type=Path),
    help="Prediction log (SQLite) [beside the bundle].",
)
@click.option(
    "--admin-token",
    envvar="EDGEML_ADMIN_TOKEN",
    show_envvar=True,
    help="Token for /admin/* (at least 16 characters); without it they are off.",
)
@click.option(
    "--max-body-mb",
    default=16.0,
    show_default=True,
    type=float,
    help="Largest request body; larger ones get 413.",
)
@click.option(
    "--unknown-categories",
    default="missing",
    show_default=True,
    type=click.Choice(["missing", "reject"]),
    help="A category unseen in training: predict it as missing (counted in /metrics), or 422.",
)
@user_errors
def serve(
    bundle: Path | None,
    registry: Path | None,
    name: str | None,
    host: str,
    port: int,
    workers: int,
    backend: str,
    log_path: Path | None,
    admin_token: str | None,
    max_body_mb: float,
    unknown_categories: str,
) -> None:
    """Serve a bundle over HTTP: /predict, /predict/batch, /feedback, /health, /ready, /schema,
    /metrics and /openapi.json; every prediction is logged for `edgeml monitor`.

    \b
    Example:
        edgeml serve churn.edgeml --port 8000
        EDGEML_ADMIN_TOKEN=... edgeml serve --registry models/ --name churn
        curl -s localhost:8000/predict -d '{"tenure": 12, "contract": "Month-to-month", ...}'
    """
    from edgeml.serve import ServeSettings, run  # FastAPI: imported when the command runs

    settings = ServeSettings(
        bundle=bundle,
        registry=registry,
        name=name,
        backend=backend,
        log=log_path,
        admin_token=admin_token or None,
        max_body_bytes=int(max_body_mb * 2**20),
        unknown_categories="missing" if unknown_categories == "missing" else "reject",
    )
    # uvicorn's own start-up lines say where it listens (stderr); requests are not logged there.
    run(settings, host=host, port=port, workers=workers, log_level="info")


cli.add_command(monitor)
cli.add_command(retrain)
cli.add_command(registry)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="edgeml")


if __name__ == "__main__":  # pragma: no cover
    main()
