"""edgeml train --dask on a real LocalCluster (two worker processes on loopback, no mocks): a
dataset larger than one worker's memory limit trains with lightgbm.dask, scores as a
single-machine model does, and its bundle evaluates, predicts and exports as any other."""

import json
import logging
import socket

import dask
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

import edgeml
from edgeml.cli import cli
from tests.scale_data import table

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

# Each worker may hold this much; the training data below takes more than that in memory.
MEMORY_LIMIT = 800e6


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def address():
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        memory_limit=MEMORY_LIMIT,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    ) as local:
        yield local.scheduler_address


def test_larger_than_a_worker_trains_and_matches_one_machine(address, tmp_path):
    parts, plain = tmp_path / "parts", tmp_path / "plain.parquet"
    parts.mkdir()
    raw, frames = 0, []
    for k in range(6):  # 6 files × 5 row groups of 10,000 rows, 3.2 KB of text a row
        frame = table(50_000, 1_000_000 * k, note_bytes=3_200)
        raw += frame.estimated_size()
        frame.write_parquet(parts / f"part-{k}.parquet", row_group_size=10_000)
        frames.append(frame.drop("note"))
    assert raw > MEMORY_LIMIT  # the raw table would not fit in one worker
    pl.concat(frames).write_parquet(plain)
    del frames
    test = tmp_path / "test.parquet"
    table(50_000, 99).write_parquet(test)

    bundle = tmp_path / "dask.edgeml"
    result = run("train", parts, "--target", "label", "--dask", address, "--out", bundle,
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["rows"]["train"] + shown["rows"]["holdout"] == 300_000
    assert any("lightgbm.dask" in note for note in shown["notes"])
    single = edgeml.train(plain, target="label", out=tmp_path / "one.edgeml", cv_folds=0)

    # Both on the same 50,000 unseen rows (AUC standard error there about 0.002). The Dask
    # model keeps its best round on the early-stopping rows within a cap set from the sample,
    # the single machine early-stops on all rows and refits: 0.01 allows that and noise, while
    # a broken job (wrong plan on a worker, labels misaligned with rows) scores near 0.5.
    got = edgeml.load(bundle).evaluate(test)["metrics"]["roc_auc"]
    want = edgeml.load(single.bundle).evaluate(test)["metrics"]["roc_auc"]
    assert got > 0.75 and abs(got - want) < 0.01, (got, want)
    spec = edgeml.load(bundle).spec
    assert set(edgeml.load(bundle).manifest) == set(edgeml.load(single.bundle).manifest)
    assert {c.name: c.role for c in spec.input_schema}["note"] == "dropped"
    assert spec.data_card.rows == 300_000

    result = run("evaluate", bundle, test, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["roc_auc"] == pytest.approx(got)
    result = run("predict", bundle, test, "-o", tmp_path / "p.parquet")
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(tmp_path / "p.parquet").height == 50_000
    result = run("export", bundle, "--format", "native")
    assert result.exit_code == 0, result.output


def test_unreachable_scheduler_is_one_line_naming_it(tmp_path):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    where = f"tcp://127.0.0.1:{port}"
    data = tmp_path / "d.parquet"
    table(200, 0).write_parquet(data)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = run("train", data, "--target", "label", "--dask", where)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: --dask {where}: no Dask scheduler answers there")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "label.edgeml").exists()


def test_dask_refuses_one_series_in_one_line(address, tmp_path):
    data = tmp_path / "d.parquet"
    table(200, 0).with_columns(t=pl.int_range(0, 200)).write_parquet(data)
    result = run("train", data, "--target", "label", "--dask", address, "--time-col", "t")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --dask: time-series training without --entity-col")
    assert result.stderr.count("\n") == 1


def test_config_n_workers_starts_a_local_cluster_for_the_run(tmp_path):
    data = tmp_path / "d.parquet"
    table(4_000, 5).write_parquet(data, row_group_size=1_000)
    config = tmp_path / "edgeml.toml"
    config.write_text("[dask]\nn_workers = 2\n")
    bundle = tmp_path / "m.edgeml"
    result = run("train", data, "--target", "label", "--config", config, "--out", bundle,
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["rows"]["train"] + shown["rows"]["holdout"] == 4_000
    assert any("2 workers, 4 partitions" in note for note in shown["notes"])


def test_dask_model_is_cut_at_its_best_round_on_the_early_stopping_rows(address, tmp_path):
    data = tmp_path / "d.parquet"
    table(20_000, 3).write_parquet(data, row_group_size=5_000)
    bundle = tmp_path / "m.edgeml"
    result = run("train", data, "--target", "label", "--dask", address, "--out", bundle,
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = edgeml.load(bundle).spec
    curve = spec.learning_curves["valid"]["binary_logloss"]  # one loss a round
    note = next(n for n in spec.metrics.notes if "lightgbm.dask" in n)
    assert f"{len(curve)} rounds (twice the" in note
    best = int(np.argmin(curve)) + 1
    assert 1 < best < len(curve)  # the loss turned: the cap let it run past its best
    assert spec.model.num_iterations == best
    assert f"cut at the best round {best} on" in note
    # the decision rule was checked on those rows' predictions (as a streamed run does)
    assert spec.decision is not None and "reliability" in spec.decision.to_dict()
