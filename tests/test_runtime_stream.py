"""Streaming features at the edge equal the batch kernels, row by row (within 1e-9)."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import edgeml
from edgeml.features import apply_features
from edgeml.runtime import FeatureStream
from edgeml.runtime._stream import window_stat, window_stats
from edgeml.spec.feature_plan import (
    CreatedStep,
    EwmStep,
    FeaturePlan,
    FormulaStep,
    GapStep,
    LagStep,
    TargetHistoryStep,
    WindowStep,
)

PLAN = FeaturePlan(
    time_col="timestamp",
    entity_col="machine_id",
    steps=[
        LagStep(columns=["vibration", "temperature"], lags=[1, 3], diff=True),
        WindowStep(
            columns=["vibration", "pressure"],
            windows=["4", "12", "2h", "1d"],
            stats=["count", "sum", "mean", "std", "var", "min", "max"],
        ),
        EwmStep(columns=["temperature"], halflives=[2.0, 10.0]),
        GapStep(),
        TargetHistoryStep(target="failure_within_24h", lags=[1, 2], windows=["6"], stats=["mean"]),
        CreatedStep(op="ratio", left="vibration", right="pressure"),
        CreatedStep(op="square", left="rpm", right="rpm"),
        FormulaStep(name="heat", formula="temperature * current / max(rpm, 1)"),
    ],
)


@pytest.fixture(scope="module")
def fleet() -> pl.DataFrame:
    # A stream sees readings in time order per machine; ties keep their arrival order.
    return edgeml.datasets.sensor_fleet(n_machines=6, days=8, seed=5).sort(
        "timestamp", maintain_order=True
    )


def test_every_row_streamed_equals_the_batch(fleet):
    target = fleet["failure_within_24h"].cast(pl.Float64).to_numpy()
    batch = apply_features(PLAN, fleet, target=target)
    stream = FeatureStream(PLAN)
    rows = fleet.to_dicts()
    streamed = np.array(
        [
            list(stream.push(row, target=label).values())
            for row, label in zip(rows, target, strict=True)
        ]
    )
    expected = batch.select(PLAN.selected).to_numpy()
    assert streamed.shape == expected.shape
    np.testing.assert_allclose(streamed, expected, rtol=1e-9, atol=1e-9, equal_nan=True)


def test_stream_handles_missing_and_infinite_readings(fleet):
    odd = fleet.head(200).with_columns(
        pl.when(pl.int_range(pl.len()) % 17 == 0)
        .then(float("inf"))
        .when(pl.int_range(pl.len()) % 13 == 0)
        .then(None)
        .otherwise(pl.col("vibration"))
        .alias("vibration")
    )
    batch = apply_features(PLAN, odd, target=np.full(odd.height, np.nan))
    stream = FeatureStream(PLAN)
    streamed = np.array([list(stream.push(row).values()) for row in odd.to_dicts()])
    np.testing.assert_allclose(
        streamed, batch.select(PLAN.selected).to_numpy(), rtol=1e-9, atol=1e-9, equal_nan=True
    )


def test_stream_keeps_bounded_state(fleet):
    stream = FeatureStream(PLAN)
    for row in fleet.to_dicts():
        stream.push(row)
    longest = max(len(state.rows) for state in stream._entities.values())
    assert longest <= 12 + 48  # 12-row windows, or a day of half-hourly readings for "1d"


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(0, 14), st.integers(1, 4)),
        elements=st.one_of(
            st.floats(-1e6, 1e6), st.just(np.nan), st.just(np.inf), st.just(-np.inf)
        ),
    )
)
def test_window_stats_of_all_columns_equal_one_column_at_a_time(block):
    stats = ["count", "sum", "mean", "std", "var", "min", "max"]
    together = window_stats(block, stats)
    for stat in stats:
        alone = [window_stat(block[:, j], stat) for j in range(block.shape[1])]
        np.testing.assert_allclose(together[stat], alone, rtol=1e-12, atol=1e-9)


def test_a_bounded_stream_forgets_the_entity_seen_longest_ago():
    plan = FeaturePlan(time_col="t", entity_col="m", steps=[LagStep(columns=["x"], lags=[1])])
    stream = FeatureStream(plan, max_entities=2)
    for t, m in [(1, "a"), (2, "b"), (3, "a"), (4, "c")]:  # c pushes out b, not a (seen at 3)
        stream.push({"t": t, "m": m, "x": float(t)})
    assert stream.push({"t": 5, "m": "a", "x": 5.0})["x_lag_1"] == 3.0
    assert np.isnan(stream.push({"t": 6, "m": "b", "x": 6.0})["x_lag_1"])
