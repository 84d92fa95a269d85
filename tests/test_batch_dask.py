"""edgeml predict --dask on a real LocalCluster (two worker processes on loopback, no mocks):
the parts equal a single-machine run row for row, and a job that cannot finish leaves nothing
that looks complete."""

import json
import logging
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import dask
import polars as pl
import pytest
from click.testing import CliRunner

import edgeml
from edgeml.batch import predict_dask, predict_file
from edgeml.cli import cli
from edgeml.compile import export
from edgeml.config import Config
from edgeml.errors import ClusterError
from tests.conftest import churn_like

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster for the module: two worker processes with a nanny each (which restarts
    a killed worker), one thread per worker."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        ) as local,
        distributed.Client(local, set_as_default=False) as client,
    ):
        yield local, client


@pytest.fixture
def address(cluster):
    local, client = cluster
    client.wait_for_workers(2, timeout=60)
    return local.scheduler_address


@pytest.fixture(scope="module")
def churn(trained_bundle, tmp_path_factory) -> Path:
    """The churn bundle with the native engine exported."""
    bundle = tmp_path_factory.mktemp("dask") / "churn.edgeml"
    shutil.copytree(trained_bundle, bundle)
    export(bundle, format="native")
    return bundle


def parts_of(out: Path) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p) for p in sorted(out.glob("part-*.parquet"))])


def parquet_dir(root: Path, n: int, files: int, group_rows: int, seed: int = 4) -> Path:
    data = root / "data"
    data.mkdir()
    frame = churn_like(n=n, seed=seed).drop("churn")
    size = n // files
    for k in range(files):
        frame.slice(k * size, size).write_parquet(data / f"f{k}.parquet", row_group_size=group_rows)
    return data


def test_parquet_row_groups_equal_single_machine(churn, address, tmp_path):
    data = parquet_dir(tmp_path, 6000, files=3, group_rows=700)  # 3 files of 3 row groups
    single = tmp_path / "single.parquet"
    predict_file(churn, data, single, batch_rows=500)
    expected = pl.read_parquet(single)
    out = tmp_path / "scores"
    result = run("predict", churn, data, "-o", out, "--dask", address, "--batch-rows", 500)
    assert result.exit_code == 0, result.output
    assert f"wrote 6000 predictions to {out}" in result.output
    got = parts_of(out)
    assert got.columns == ["customer_id", "prediction", "proba_No", "proba_Yes"]
    assert got.equals(expected)
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert manifest["rows"] == 6000
    assert [p["row_group"] for p in manifest["parts"]] == [0, 1, 2] * 3
    assert not list(tmp_path.glob(".scores.*"))  # no staging left beside it
    # readable by others, as a single-machine run's directory (mkdtemp made it 0700)
    assert out.stat().st_mode & 0o777 == 0o755


def test_csv_glob_equals_single_machine(churn, address, tmp_path):
    frame = churn_like(n=3000, seed=7).drop("churn")
    for k in range(3):
        frame.slice(k * 1000, 1000).write_csv(tmp_path / f"new{k}.csv")
    pattern = str(tmp_path / "new*.csv")
    expected = edgeml.load(churn).predict(frame)  # the Booster path on all rows at once
    result = predict_dask(churn, pattern, tmp_path / "scores", address, batch_rows=400)
    assert result.rows == 3000 and result.batches == 3 and result.backend == "native"
    assert parts_of(tmp_path / "scores").equals(expected)


def test_a_glob_whose_first_file_lacks_a_column_equals_single_machine(churn, address, tmp_path):
    """A task reads one file: the driver tells it which columns other files hold, so the file
    that lacks 'contract' gets nulls there as on one machine (the task refused it)."""
    frame = churn_like(n=1500, seed=8).drop("churn")
    frame.slice(0, 500).drop("contract").write_csv(tmp_path / "m1.csv")
    frame.slice(500).write_csv(tmp_path / "m2.csv")
    pattern = str(tmp_path / "m*.csv")
    single = tmp_path / "single.parquet"
    predict_file(churn, pattern, single, batch_rows=400)
    result = predict_dask(churn, pattern, tmp_path / "scores", address, batch_rows=400)
    assert result.rows == 1500
    assert parts_of(tmp_path / "scores").equals(pl.read_parquet(single))


def test_header_only_input_writes_one_typed_empty_part_as_one_machine(churn, address, tmp_path):
    """A glob of header-only CSVs: the output directory holds the empty typed table a
    single-machine run writes (part-00000), not only _SUCCESS."""
    for k in range(2):
        churn_like(n=5).drop("churn").clear().write_csv(tmp_path / f"new{k}.csv")
    pattern = str(tmp_path / "new*.csv")
    single = tmp_path / "single"
    predict_file(churn, pattern, single, id_cols=["customer_id"])
    out = tmp_path / "scores"
    result = run("predict", churn, pattern, "-o", out, "--dask", address, "--id-cols",
                 "customer_id")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote 0 predictions to {out}" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["_SUCCESS", "part-00000.parquet"]
    got = pl.read_parquet(out / "part-00000.parquet")
    assert got.schema == pl.read_parquet(single / "part-00000.parquet").schema
    assert got.columns == ["customer_id", "prediction", "proba_No", "proba_Yes"]
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert [p["part"] for p in manifest["parts"]] == ["part-00000.parquet", None]


def test_unreachable_scheduler_is_one_line_naming_it(churn, tmp_path):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    data = tmp_path / "new.csv"
    churn_like(n=50).drop("churn").write_csv(data)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = run("predict", churn, data, "-o", tmp_path / "scores", "--dask", address)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: --dask {address}: no Dask scheduler answers there")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "scores").exists()


def test_failed_job_keeps_old_output_success_replaces_it(churn, address, tmp_path):
    data = parquet_dir(tmp_path, 3000, files=3, group_rows=1000)
    bad = churn_like(n=1000, seed=9).drop("churn").with_columns(
        pl.when(pl.int_range(1000) == 321).then(pl.lit("many")).otherwise(pl.col("total_charges"))
        .alias("total_charges")
    )  # fmt: skip
    bad.write_parquet(data / "f1.parquet")
    out = tmp_path / "scores"
    out.mkdir()
    (out / "old.txt").write_text("previous run")
    result = run("predict", churn, data, "-o", out, "--dask", address)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {data / 'f1.parquet'}: column 'total_charges' row 322: "
        "cannot convert 'many' to float\n"
    )
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert not list(tmp_path.glob(".scores.*"))
    # the same job on good data replaces the old directory
    churn_like(n=1000, seed=9).drop("churn").write_parquet(data / "f1.parquet")
    result = run("predict", churn, data, "-o", out, "--dask", address)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "_SUCCESS", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> tuple[Path, pl.DataFrame]:
    """A time-series bundle (lags, row and span windows, EWM) and new readings in time order."""
    root = tmp_path_factory.mktemp("fleet")
    history = edgeml.datasets.sensor_fleet(n_machines=4, days=5, seed=1)
    history.write_parquet(root / "history.parquet")
    config = Config.from_dict({
        "train": {"cv_folds": 2, "num_boost_round": 30, "learning_rate": 0.3},
        "features": {"mode": "manual", "columns": ["temperature", "vibration"], "lags": [1, 3],
                     "windows": ["5", "3h"], "stats": ["mean", "max"], "ewm_halflives": [4.0],
                     "select": False, "target_history": False},
    })  # fmt: skip
    bundle = edgeml.train(
        root / "history.parquet", target="failure_within_24h", time_col="timestamp",
        entity_col="machine_id", out=root / "fleet.edgeml", config=config,
    ).bundle  # fmt: skip
    export(bundle, format="native")
    new = edgeml.datasets.sensor_fleet(n_machines=4, days=2, seed=3)
    new = new.sort("timestamp", maintain_order=True).drop("failure_within_24h")
    return bundle, new


def test_time_series_partitioned_by_entity_equals_single_machine(fleet, address, tmp_path):
    bundle, new = fleet
    for k, (machine,) in enumerate(sorted(new.select("machine_id").unique().rows())):
        new.filter(pl.col("machine_id") == machine).write_parquet(
            tmp_path / f"m{k}.parquet",
            row_group_size=50,  # row groups cut each machine's rows
        )
    pattern = str(tmp_path / "m*.parquet")
    single = tmp_path / "single.parquet"
    predict_file(bundle, pattern, single, batch_rows=60)
    result = predict_dask(bundle, pattern, tmp_path / "scores", address, batch_rows=60)
    assert result.batches == 4  # one task per file, not per row group
    assert parts_of(tmp_path / "scores").equals(pl.read_parquet(single))


def test_time_series_not_partitioned_by_entity_is_refused(fleet, address, tmp_path):
    bundle, new = fleet
    half = new.height // 2  # split by time: every machine has rows in both files
    new.slice(0, half).write_csv(tmp_path / "a.csv")
    new.slice(half).write_csv(tmp_path / "b.csv")
    out = tmp_path / "scores"
    result = run("predict", bundle, tmp_path / "*.csv", "-o", out, "--dask", address)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {tmp_path / 'a.csv'} and {tmp_path / 'b.csv'}: ")
    assert "partitioned by machine_id" in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".scores.*"))


def _kill_mid_job(cluster, churn, data, out, **options):
    """Run the job in a thread, SIGKILL a worker process that is scoring once the first part is
    written; return (parts written when killed, the job's result or exception)."""
    local, client = cluster
    outcome: dict = {}

    def job():
        try:
            outcome["result"] = predict_dask(churn, data, out, local.scheduler_address, **options)
        except Exception as exc:  # the test judges it
            outcome["error"] = exc

    thread = threading.Thread(target=job)
    thread.start()
    deadline = time.monotonic() + 60
    parts = []
    while time.monotonic() < deadline and not parts:
        parts = list(out.parent.glob(f".{out.name}.*/part-*.parquet"))
        time.sleep(0.01)
    busy = [w for w, keys in client.processing().items() if keys]
    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    thread.join(timeout=120)
    return len(parts), outcome


def test_killed_worker_job_is_retried_and_complete(cluster, churn, address, tmp_path):
    data = parquet_dir(tmp_path, 60_000, files=1, group_rows=1500)  # 40 tasks
    single = tmp_path / "single.parquet"
    predict_file(churn, data, single, batch_rows=150)
    out = tmp_path / "scores"
    written, outcome = _kill_mid_job(cluster, churn, data, out, batch_rows=150)
    assert written < 40, "the job ended before the kill: make the tasks longer"
    assert "error" not in outcome, outcome
    assert parts_of(out).equals(pl.read_parquet(single))
    assert json.loads((out / "_SUCCESS").read_text())["rows"] == 60_000
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_killed_worker_without_retries_fails_cleanly(cluster, churn, address, tmp_path):
    local, _ = cluster
    data = parquet_dir(tmp_path, 60_000, files=1, group_rows=1500)
    out = tmp_path / "scores"
    out.mkdir()
    (out / "old.txt").write_text("previous run")
    allowed = local.scheduler.allowed_failures
    local.scheduler.allowed_failures = 0  # the first death of a worker fails its task
    try:
        written, outcome = _kill_mid_job(cluster, churn, data, out, batch_rows=150)
    finally:
        local.scheduler.allowed_failures = allowed
    assert written < 40
    error = outcome.get("error")
    assert isinstance(error, ClusterError), outcome
    where = f"--dask {local.scheduler_address}: {data / 'f0.parquet'} row group"
    assert str(error).startswith(where)
    assert "died 1 time(s)" in str(error)
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    time.sleep(1)  # a task still running on the other worker cannot bring the staging back
    assert not list(tmp_path.glob(".scores.*"))


def test_dask_config_section_gives_the_address(churn, address, tmp_path):
    data = parquet_dir(tmp_path, 2000, files=2, group_rows=500)
    expected = tmp_path / "single.parquet"
    predict_file(churn, data, expected, batch_rows=300)
    config = tmp_path / "edgeml.toml"
    config.write_text(f'[dask]\naddress = "{address}"\n')
    out = tmp_path / "scores"
    result = run("predict", churn, data, "-o", out, "--config", config, "--batch-rows", 300)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "_SUCCESS").read_text())["scheduler"] == address
    assert parts_of(out).equals(pl.read_parquet(expected))
    # --dask on the command line wins over the file
    config.write_text('[dask]\naddress = "tcp://127.0.0.1:1"\n')
    result = run("predict", churn, data, "-o", out, "--config", config, "--dask", address)
    assert result.exit_code == 0, result.output


def test_dask_config_n_workers_runs_on_a_local_cluster_of_its_own(churn, tmp_path):
    data = parquet_dir(tmp_path, 2000, files=2, group_rows=500)
    expected = tmp_path / "single.parquet"
    predict_file(churn, data, expected, batch_rows=300)
    config = tmp_path / "edgeml.toml"
    config.write_text("[dask]\nn_workers = 2\n")
    out = tmp_path / "scores"
    result = run("predict", churn, data, "-o", out, "--config", config, "--batch-rows", 300)
    assert result.exit_code == 0, result.output
    scheduler = json.loads((out / "_SUCCESS").read_text())["scheduler"]
    assert scheduler.startswith("tcp://127.0.0.1:")
    assert parts_of(out).equals(pl.read_parquet(expected))
    with socket.socket() as sock:  # the cluster was closed with the run
        assert sock.connect_ex(("127.0.0.1", int(scheduler.rsplit(":", 1)[1]))) != 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[dask]\nworkers = 2\n",
            "[dask]: unknown key 'workers'; expected one of: address, n_workers",
        ),
        ("[dask]\nn_workers = 0\n", "[dask] n_workers: 0 is out of range; expected 1..1024"),
    ],
)
def test_dask_config_errors_are_one_line(churn, tmp_path, text, message):
    config = tmp_path / "edgeml.toml"
    config.write_text(text)
    data = tmp_path / "new.csv"
    churn_like(n=20).drop("churn").write_csv(data)
    result = run("predict", churn, data, "-o", tmp_path / "scores", "--config", config)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: {config}: {message}\n"
    assert not (tmp_path / "scores").exists()
