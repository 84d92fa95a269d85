"""edgeml.datasets.sensor_fleet: deterministic, realistic, faulty and learnable."""

from __future__ import annotations

from datetime import datetime, timedelta

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

from edgeml.datasets import SENSORS, sensor_fleet
from edgeml.evaluate import baseline_predictions, compute_metrics

LABEL = "failure_within_24h"


@pytest.fixture(scope="module")
def fleet() -> pl.DataFrame:
    return sensor_fleet()


@pytest.fixture(scope="module")
def clean(fleet: pl.DataFrame) -> pl.DataFrame:
    """Duplicates dropped (the first arrival is the original) and sorted per machine."""
    return fleet.unique(maintain_order=True).sort("machine_id", "timestamp")


def test_deterministic_in_seed() -> None:
    a = sensor_fleet(n_machines=5, days=3, seed=7)
    assert a.equals(sensor_fleet(n_machines=5, days=3, seed=7))
    assert not a.equals(sensor_fleet(n_machines=5, days=3, seed=8))


def test_schema(fleet: pl.DataFrame) -> None:
    expected: dict[str, pl.DataType] = {
        "timestamp": pl.Datetime("us"),
        "machine_id": pl.String(),
        "machine_type": pl.String(),
        **{s: pl.Float64() for s in SENSORS},
        LABEL: pl.Int64(),
    }
    assert fleet.schema == pl.Schema(expected)
    assert 30_000 <= fleet.height <= 60_000
    assert fleet["machine_id"].n_unique() == 40
    assert fleet["machine_id"].str.contains(r"^M\d{3}$").all()
    assert 3 <= fleet["machine_type"].n_unique() <= 4
    assert (
        fleet.select(pl.col("timestamp", "machine_id", "machine_type", LABEL).null_count())
        .sum_horizontal()
        .item()
        == 0
    )
    assert set(fleet[LABEL].unique().to_list()) == {0, 1}


def test_timestamps_on_grid_within_horizon(fleet: pl.DataFrame) -> None:
    ts = fleet["timestamp"]
    first, last = fleet.select(
        pl.col("timestamp").min().alias("lo"), pl.col("timestamp").max().alias("hi")
    ).row(0)
    assert first == datetime(2024, 1, 1)
    assert last < datetime(2024, 1, 1) + timedelta(days=30)
    assert (ts.dt.minute() % 30 == 0).all()
    assert (ts.dt.second() == 0).all()


def test_positive_rate_is_realistic(fleet: pl.DataFrame) -> None:
    assert 0.05 <= fleet[LABEL].mean() <= 0.15  # type: ignore[operator]


def test_sensor_dropouts_in_isolation_and_runs(clean: pl.DataFrame) -> None:
    for sensor in SENSORS:
        assert 0.005 <= clean[sensor].null_count() / clean.height <= 0.04, sensor
    # A run: the same sensor null on 3+ consecutive readings of one machine.
    runs = clean.select(
        pl.col("vibration")
        .is_null()
        .rle()
        .over("machine_id", mapping_strategy="explode")
        .alias("run")
    ).unnest("run")
    assert runs.filter(pl.col("value") & (pl.col("len") >= 3)).height > 0


def test_spikes(clean: pl.DataFrame) -> None:
    for sensor in SENSORS:
        typical = pl.col(sensor).median().over("machine_id")
        spikes = clean.filter(pl.col(sensor) > 8 * typical).height
        assert 1 <= spikes <= 0.005 * clean.height, sensor


def test_duplicates_and_late_arrivals(fleet: pl.DataFrame, clean: pl.DataFrame) -> None:
    duplicates = fleet.height - clean.height
    assert 0.005 * fleet.height <= duplicates <= 0.02 * fleet.height
    assert not fleet["timestamp"].is_sorted()
    # Beyond re-sent duplicates, some original rows arrive after a later reading of their machine.
    arrival = fleet.unique(maintain_order=True).with_columns(
        late=pl.col("timestamp").diff().over("machine_id") < timedelta(0)
    )
    assert 0 < arrival["late"].sum() <= 0.01 * clean.height


def test_labels_end_at_a_failure_outage(clean: pl.DataFrame) -> None:
    """A run of positives ends when the machine fails and goes offline for repair (>= 4 h)."""
    ends = clean.with_columns(
        next_label=pl.col(LABEL).shift(-1).over("machine_id"),
        gap=pl.col("timestamp").diff().shift(-1).over("machine_id"),
    ).filter((pl.col(LABEL) == 1) & (pl.col("next_label") == 0))
    assert ends.height >= 20  # failures happen
    assert (ends["gap"] >= timedelta(hours=4)).all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_machines": 0},
        {"days": 0},
        {"interval_minutes": 7},
        {"interval_minutes": 0},
    ],
)
def test_bad_arguments(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        sensor_fleet(**kwargs)


def test_other_sizes() -> None:
    hourly = sensor_fleet(n_machines=3, days=10, interval_minutes=60, seed=3)
    assert hourly["machine_id"].n_unique() == 3
    assert (hourly["timestamp"].dt.minute() == 0).all()
    assert 600 <= hourly.height <= 3 * 10 * 24 * 1.03


def _holdout_auc(frame: pl.DataFrame, features: list[str]) -> tuple[float, float]:
    """ROC-AUC of a small LightGBM on the last 9 days, and of the trivial baseline."""
    cut = datetime(2024, 1, 22)
    train = frame.filter(pl.col("timestamp") < cut)
    test = frame.filter(pl.col("timestamp") >= cut)
    params = {
        "objective": "binary",
        "num_threads": 1,
        "deterministic": True,
        "seed": 0,
        "verbose": -1,
        "num_leaves": 15,
        "min_data_in_leaf": 50,
    }
    y_train = train[LABEL].to_numpy()
    y_test = test[LABEL].to_numpy()
    booster = lgb.train(params, lgb.Dataset(train.select(features).to_numpy(), y_train), 40)
    p = np.asarray(booster.predict(test.select(features).to_numpy()))
    model = compute_metrics(
        "binary", y_test, prediction=(p > 0.5).astype(int), proba=np.column_stack([1 - p, p])
    )
    pred, proba = baseline_predictions("binary", y_train, test.height)
    baseline = compute_metrics("binary", y_test, prediction=pred, proba=proba)
    return model["roc_auc"], baseline["roc_auc"]


def test_label_is_learnable_and_history_helps(clean: pl.DataFrame) -> None:
    frame = clean.with_columns(
        type_code=pl.col("machine_type").rank("dense"),
        vibration_mean_6h=pl.col("vibration").rolling_mean(12, min_samples=1).over("machine_id"),
    )
    current = [*SENSORS, "type_code"]
    auc_current, auc_baseline = _holdout_auc(frame, current)
    auc_history, _ = _holdout_auc(frame, [*current, "vibration_mean_6h"])
    print(f"baseline {auc_baseline:.3f}  current {auc_current:.3f}  +history {auc_history:.3f}")
    assert auc_baseline == 0.5
    assert 0.72 <= auc_current <= 0.9
    assert auc_history >= auc_current + 0.03
