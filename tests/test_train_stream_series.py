"""edgeml train --stream with time-series features: each entity's history carried across chunks
(a chunk boundary inside every entity) gives exactly the one-shot features, the time split is
the single machine's, and an entity that goes back in time across chunks is named in one line."""

import dataclasses
import json

import numpy as np
import polars as pl
from click.testing import CliRunner
from polars.testing import assert_frame_equal

import edgeml
from edgeml.cli import cli
from edgeml.config import Config, load_config
from edgeml.scale._plan import fit_plan, open_run
from edgeml.scale._series import ROW_KEY
from edgeml.scale._stream import featured_chunks, summarize_source, time_split
from tests.scale_data import every_series_step

TARGET, TIME, ENTITY = "failure_within_24h", "timestamp", "machine_id"
CHUNK = 300  # rows a chunk: each machine's ~550 rows span several chunks among 12 machines
MANUAL = (
    '[features]\nmode = "manual"\ncolumns = ["vibration", "temperature"]\nlags = [1, 2]\n'
    'windows = ["6"]\nselect = false\n'
)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def fleet_csv(path):
    """The demo fleet in time order (each machine's rows in time order, machines interleaved),
    exact duplicates removed, as CSV."""
    frame = edgeml.datasets.sensor_fleet(n_machines=12, days=12, seed=3)
    frame = frame.unique(maintain_order=True).sort(TIME, maintain_order=True)
    frame.write_csv(path)
    return frame


def test_features_carried_across_chunks_equal_one_shot(tmp_path):
    fleet_csv(tmp_path / "fleet.csv")
    options = {"time_col": TIME, "entity_col": ENTITY, "chunk_rows": CHUNK}
    config, source = open_run(tmp_path / "fleet.csv", "--stream", config=Config(), target=TARGET,
                              out=tmp_path / "m.edgeml", options=options)  # fmt: skip
    timing = time_split(source, config)
    summary, tally = summarize_source(source, config, 100_000, timing)
    plan = fit_plan(summary, tally, source, config, timing=timing)
    # every kind of per-entity step, whatever the selection kept
    series = every_series_step(TARGET, TIME, ENTITY)
    plan = dataclasses.replace(plan, features=series, inputs=list(source.schema))
    chunks = [(frame, keys) for frame, keys, _ in featured_chunks(source, plan)]
    # a chunk boundary inside every entity: each machine has rows in several chunks
    spans = pl.concat([f.select(ENTITY).unique().with_columns(pl.lit(i).alias("chunk"))
                       for i, (f, _) in enumerate(chunks)]).group_by(ENTITY).len()  # fmt: skip
    assert spans.height == 12 and spans["len"].min() >= 3
    got = pl.concat([f.with_columns(pl.Series(ROW_KEY, k)) for f, k in chunks])

    whole = pl.concat([c.frame.with_columns(pl.Series(ROW_KEY, c.keys())) for c in
                       source.chunks()])  # fmt: skip
    whole = whole.filter(pl.col(TARGET).is_not_null()).sort(TIME, maintain_order=True)
    y = plan.target.encode(whole[TARGET]).astype(np.float64)
    want = edgeml.features.apply_features(series, whole, target=y)
    names = series.selected
    assert len(names) == 18 and got.height == want.height == whole.height
    got, want = got.sort(ROW_KEY), want.sort(ROW_KEY)
    assert got[ROW_KEY].to_list() == want[ROW_KEY].to_list()
    # The rolling kernel's sums regroup from where its run starts (the carried context, not
    # the entity's first row): a window's mean or spread may differ in the last bit, as
    # edgeml predict's carried batches do (tests/test_batch_carry.py); all else is exact.
    sums = [n for n in names if any(f"_{s}_" in n for s in ("mean", "std"))]
    assert len(sums) == 5
    exact = [n for n in names if n not in sums]
    assert_frame_equal(got.select(exact), want.select(exact), check_exact=True)
    for name in sums:
        np.testing.assert_allclose(got[name].to_numpy(), want[name].to_numpy(), rtol=1e-13,
                                   atol=1e-15, err_msg=name)  # fmt: skip


def test_time_series_streams_with_the_single_machine_split(tmp_path):
    frame = fleet_csv(tmp_path / "fleet.csv")
    settings = tmp_path / "edgeml.toml"
    settings.write_text(MANUAL + f"[train]\nchunk_rows = {CHUNK}\n")
    bundle = tmp_path / "s.edgeml"
    result = run("train", tmp_path / "fleet.csv", "--target", TARGET, "--time-col", TIME,
                 "--entity-col", ENTITY, "--stream", "--config", settings, "--out", bundle,
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    single = edgeml.train(tmp_path / "fleet.csv", target=TARGET, time_col=TIME,
                          entity_col=ENTITY, cv_folds=0, config=load_config(settings),
                          out=tmp_path / "one.edgeml")  # fmt: skip
    # in memory the shipped model is then refitted on every row ("final"); at scale it is not
    rows = single.to_dict()["rows"]
    assert rows.pop("final") == rows["train"] + rows["holdout"]
    assert shown["rows"] == rows  # the latest 20% by time held out
    spec = edgeml.load(bundle).spec
    assert spec.metrics.split == "time-ordered"
    assert spec.features.model == single.spec.features.model
    assert "vibration_lag_2" in spec.features.model
    # the same 1,329 holdout rows, 160 positives from a few failure episodes (noisy); a model
    # trained on features cut at chunk boundaries or misaligned labels scores near 0.5
    got = shown["metrics"]["holdout"]["roc_auc"]
    assert got > 0.65, (got, single.metrics["holdout"]["roc_auc"])
    result = run("predict", bundle, tmp_path / "fleet.csv", "-o", tmp_path / "p.parquet")
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(tmp_path / "p.parquet").height == frame.height


def test_an_entity_back_in_time_across_chunks_is_named_in_one_line(tmp_path):
    # machines a and b alternate in time order, but a's reading on row 151 is older than its
    # rows in the first chunk (rows 1-100)
    t = np.arange(300)
    t[150] = -1
    frame = pl.DataFrame({"t": t, "m": ["a", "b"] * 150, "x": np.arange(300.0),
                          "y": [0, 0, 1] * 100})  # fmt: skip
    frame.write_csv(tmp_path / "d.csv")
    settings = tmp_path / "edgeml.toml"
    settings.write_text('[features]\nmode = "manual"\ncolumns = ["x"]\nlags = [1]\n'
                        "select = false\n[train]\nchunk_rows = 100\n")  # fmt: skip
    result = run("train", tmp_path / "d.csv", "--target", "y", "--time-col", "t", "--entity-col",
                 "m", "--stream", "--config", settings, "--out", tmp_path / "m.edgeml")  # fmt: skip
    assert result.exit_code == 2, result.output
    error = result.stderr.splitlines()[-1]  # after the progress lines, one line
    assert error.startswith(f"Error: {tmp_path / 'd.csv'} row 151: a reading of m 'a' older")
    assert error.endswith(
        "time order per entity across batches: sort it by t, or use larger "
        "chunks ([train] chunk_rows)"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.edgeml").exists()
