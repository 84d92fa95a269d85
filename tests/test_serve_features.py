"""Serving a model with time-series features: the server keeps each machine's history and its
predictions, reading by reading, equal the batch pipeline's on the same rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import edgeml
from edgeml.datasets import sensor_fleet
from edgeml.serve import ServeSettings, create_app

TARGET = "failure_within_24h"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    root = tmp_path_factory.mktemp("fleet")
    frame = sensor_fleet(n_machines=4, days=6, seed=2)
    data = root / "fleet.csv"
    frame.write_csv(data)
    # Readings only: the label looks 24 h ahead, so a past label is known only a day later.
    # Every candidate kept (no selection), so the server has per-machine history to keep.
    config = edgeml.Config.from_dict({"features": {"target_history": False, "select": False}})
    bundle = edgeml.train(
        data,
        target=TARGET,
        time_col="timestamp",
        entity_col="machine_id",
        out=root / "fleet.edgeml",
        cv_folds=0,
        config=config,
    ).bundle
    return bundle, edgeml.load(bundle)


@pytest.fixture
def client(fleet: tuple[Path, Any], tmp_path: Path) -> Iterator[TestClient]:
    settings = ServeSettings(bundle=fleet[0], log=tmp_path / "log.db")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def readings(frame: Any, columns: list[str]) -> list[dict[str, Any]]:
    out = []
    for row in frame.select(columns).iter_rows(named=True):
        out.append({k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()})
    return out


def test_requests_carry_raw_readings_and_get_the_batch_pipelines_answers(
    fleet: tuple[Path, Any], client: TestClient
) -> None:
    _, model = fleet
    schema = client.get("/schema").json()
    inputs = [c["name"] for c in schema["inputs"]]
    assert inputs[:2] == ["timestamp", "machine_id"]
    assert not any("_lag_" in name or "_mean_" in name for name in inputs)

    frame = sensor_fleet(n_machines=4, days=6, seed=2).sort("timestamp").head(600)
    expected = model.predict(frame)[f"proba_{model.target.classes[1]}"].to_numpy()
    rows = readings(frame, inputs)
    one_by_one = [client.post("/predict", json=row).json()["proba_1"] for row in rows[:300]]
    in_a_list = client.post("/predict", json=rows[300:450]).json()["predictions"]
    columns = {name: [row[name] for row in rows[450:]] for name in inputs}
    batch = client.post("/predict/batch", json={"columns": columns}).json()["proba_1"]
    served = np.array([*one_by_one, *(p["proba_1"] for p in in_a_list), *batch])
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-9)


def _target_history_bundle(frame: Any, tmp_path: Path, *, lags: list[int], window: str) -> Path:
    """A bundle whose features are the target's own past labels per machine, and nothing else."""
    data = tmp_path / "fleet.csv"
    frame.write_csv(data)
    config = edgeml.Config.from_dict(
        {"features": {"mode": "manual", "target_lags": lags, "target_windows": [window],
                      "select": False}}
    )  # fmt: skip
    out = tmp_path / "history.edgeml"
    return edgeml.train(data, target=TARGET, time_col="timestamp", entity_col="machine_id",
                        out=out, cv_folds=0, config=config).bundle  # fmt: skip


def test_target_history_models_are_served_with_labels_fed_back(tmp_path: Path) -> None:
    """Each prediction's true label, POSTed to /feedback, feeds its machine's target history:
    the served answers equal the batch pipeline's on the same labelled rows."""
    frame = sensor_fleet(n_machines=4, days=6, seed=2).sort("timestamp")
    bundle = _target_history_bundle(frame, tmp_path, lags=[1, 2], window="4")
    rows = frame.head(120)
    expected = edgeml.load(bundle).predict(rows)["proba_1"].to_numpy()
    settings = ServeSettings(bundle=bundle, log=tmp_path / "log.db")
    with TestClient(create_app(settings)) as client:
        inputs = [c["name"] for c in client.get("/schema").json()["inputs"]]
        assert TARGET not in inputs
        answers = []
        for record, label in zip(readings(rows, inputs), rows[TARGET].to_list(), strict=True):
            answer = client.post("/predict", json=record).json()
            answers.append(answer["proba_1"])
            fed = {"request_id": answer["request_id"], "row": 0, "label": label}
            assert client.post("/feedback", json=fed).json()["updated"] == 1
        ready = client.get("/ready").json()
        assert ready["status"] == "ready"
        assert ready["labels"]["status"] == "ok" and ready["labels"]["labelled"] == 120
        newcomer = {**readings(rows, inputs)[0], "machine_id": "M_new"}  # unseen: served
        assert client.post("/predict", json=newcomer).status_code == 200
    np.testing.assert_allclose(answers, expected, rtol=0, atol=1e-9)

    with TestClient(create_app(ServeSettings(bundle=bundle, log=tmp_path / "l2.db"))) as client:
        for record in readings(rows, inputs)[:30]:  # labels never arrive
            client.post("/predict", json=record)
        ready = client.get("/ready").json()
    assert ready["status"] == "ready"  # it still predicts, from missing target history
    assert ready["labels"]["status"] == "labels_stale"
    assert "POST /feedback" in ready["warning"]
    from edgeml.monitor import monitor_summary

    warnings = monitor_summary(bundle, log=tmp_path / "l2.db").warnings
    assert any(w.startswith("labels_stale: ") and "0 of 30" in w for w in warnings), warnings


def test_a_restarted_server_takes_up_each_machines_history_from_its_log(
    fleet: tuple[Path, Any], tmp_path: Path
) -> None:
    bundle, model = fleet
    frame = sensor_fleet(n_machines=4, days=6, seed=2).sort("timestamp").head(400)
    expected = model.predict(frame)["proba_1"].to_numpy()
    settings = ServeSettings(bundle=bundle, log=tmp_path / "log.db")
    answers = []
    for part in (slice(0, 200), slice(200, 400)):  # a fresh server (a restart) for each half
        with TestClient(create_app(settings)) as client:
            inputs = [c["name"] for c in client.get("/schema").json()["inputs"]]
            rows = readings(frame, inputs)[part]
            answers += [client.post("/predict", json=row).json()["proba_1"] for row in rows]
    np.testing.assert_allclose(answers, expected, rtol=0, atol=1e-9)


def test_a_restart_takes_up_the_labels_fed_back_too(tmp_path: Path) -> None:
    """The log keeps each reading's label from /feedback: a restarted server replays them into
    the target history, so its answers equal an uninterrupted server's (the batch pipeline's)."""
    frame = sensor_fleet(n_machines=3, days=4, seed=0).sort("timestamp")
    bundle = _target_history_bundle(frame, tmp_path, lags=[1, 3], window="6")
    rows = frame.tail(90)  # the last day: failures among the readings, so labels matter
    expected = edgeml.load(bundle).predict(rows)["proba_1"].to_numpy()
    settings = ServeSettings(bundle=bundle, log=tmp_path / "log.db")
    labels = rows[TARGET].to_list()
    answers: list[float] = []
    for part in (slice(0, 45), slice(45, 90)):  # a fresh server (a restart) for each half
        with TestClient(create_app(settings)) as client:
            inputs = [c["name"] for c in client.get("/schema").json()["inputs"]]
            for record, label in zip(readings(rows, inputs)[part], labels[part], strict=True):
                answer = client.post("/predict", json=record).json()
                answers.append(answer["proba_1"])
                fed = {"request_id": answer["request_id"], "row": 0, "label": label}
                assert client.post("/feedback", json=fed).json()["updated"] == 1
            if part.start:
                assert client.get("/ready").json()["labels"]["status"] == "ok"
    assert len(set(labels[:45])) == 2
    np.testing.assert_allclose(answers, expected, rtol=0, atol=1e-9)


def test_a_featured_model_is_refused_more_than_one_worker(fleet: tuple[Path, Any]) -> None:
    from click.testing import CliRunner

    from edgeml.cli import cli

    result = CliRunner().invoke(cli, ["serve", str(fleet[0]), "--workers", "2"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {fleet[0]}: a model with time-series features keeps each entity's history in "
        "one process; serve it with --workers 1\n"
    )


def test_a_feature_of_a_column_prep_drops_is_computed_from_the_sent_column(
    tmp_path: Path,
) -> None:
    """``x_copy`` duplicates ``x``, so prep drops the raw column, but its lag is a kept feature:
    the library and the server both read it, and answer alike. Columns whose features were all
    dropped are no longer read at all (the plan is pruned to what it keeps)."""
    import polars as pl

    rng = np.random.default_rng(0)
    n = 240
    x = rng.normal(size=n)
    frame = pl.DataFrame(
        {"t": np.arange(n), "m": np.repeat(["a", "b"], n // 2), "x": x, "x_copy": x,
         "noise": rng.normal(size=n), "y": 2 * np.roll(x, 1) + rng.normal(size=n) * 0.1}
    )  # fmt: skip
    config = edgeml.Config.from_dict(
        {"features": {"mode": "manual", "columns": ["x_copy", "noise"], "lags": [1],
                      "select": True, "rfe": False}}
    )  # fmt: skip
    result = edgeml.train(
        frame, target="y", time_col="t", entity_col="m", config=config, cv_folds=2,
        out=tmp_path / "m.edgeml",
    )  # fmt: skip
    roles = {c["name"]: c["role"] for c in result.manifest["input_schema"]}
    assert roles["x_copy"] == "dropped" and roles["x_copy_lag_1"] == "feature"
    plan = result.manifest["features"]["plan"]
    read = {c for step in plan["steps"] for c in step.get("columns", [])}
    assert read == {c.split("_lag_")[0].split("_diff_")[0] for c in plan["kept"]}
    model = edgeml.load(result.bundle)
    assert "x_copy" in model.input_schema
    expected = model.predict(frame)["prediction"].to_numpy()
    settings = ServeSettings(bundle=result.bundle, log=tmp_path / "log.db")
    with TestClient(create_app(settings)) as client:
        inputs = [c["name"] for c in client.get("/schema").json()["inputs"]]
        assert "x_copy" in inputs
        rows = readings(frame, inputs)
        served = [client.post("/predict", json=row).json()["prediction"] for row in rows]
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-9)
