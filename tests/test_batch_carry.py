"""Time-series features batch by batch equal the one-shot batch executor, boundary by boundary."""

import numpy as np
import polars as pl
import pytest

from edgeml.batch import FeatureCarry
from edgeml.errors import DataError
from edgeml.features import apply_features
from edgeml.spec.feature_plan import (
    CreatedStep,
    EwmStep,
    FeaturePlan,
    GapStep,
    LagStep,
    TargetHistoryStep,
    WindowStep,
)


def plan() -> FeaturePlan:
    return FeaturePlan(
        time_col="t",
        entity_col="m",
        steps=[
            LagStep(columns=["x", "y"], lags=[1, 3], diff=True),
            WindowStep(columns=["x", "y"], windows=["4", "90min"], stats=["mean", "std", "max"]),
            EwmStep(columns=["x", "y"], halflives=[1.0, 5.0]),
            GapStep(),
            CreatedStep(op="ratio", left="x", right="y"),
            TargetHistoryStep(target="label", lags=[1, 2], windows=["3"], stats=["mean"], delay=2),
        ],
    )


def readings(n: int = 900, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """Time-ordered readings of 7 machines (one with no entity), NaN, ±inf and equal times."""
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.integers(0, 4000, n))  # repeats: ties are kept in arrival order
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    x[rng.random(n) < 0.01] = np.inf
    x[rng.random(n) < 0.01] = -np.inf
    y = rng.normal(size=n)
    y[rng.random(n) < 0.3] = np.nan  # long gaps: EWM state carried through missing values
    machines = rng.choice(["a", "b", "c", "d", "e", "f", None], n)
    frame = pl.DataFrame(
        {
            "t": pl.Series(minutes * 60_000_000, dtype=pl.Int64).cast(pl.Datetime("us")),
            "m": machines,
            "x": x,
            "y": y,
        }
    )
    label = np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 2, n).astype(float))
    return frame, label


@pytest.mark.parametrize("size", [1, 7, 64, 333])
def test_streamed_features_equal_one_shot(size):
    frame, label = readings()
    expected = apply_features(plan(), frame, target=label)
    carry = FeatureCarry(plan())
    parts = [
        carry.apply(frame.slice(s, size), target=label[s : s + size])
        for s in range(0, frame.height, size)
    ]
    got = pl.concat(parts)
    # every entity has rows on both sides of many boundaries
    assert frame.height // size >= 2
    assert got.columns == expected.columns
    windowed = {*plan().steps[1].outputs, "label_past_mean_3"}
    for name in plan().selected:
        a, b = got[name].to_numpy(), expected[name].to_numpy()
        if name in windowed and name.split("_")[-2] not in ("max", "min"):
            # The rolling kernel's two-stack sums regroup from where its run starts: a window's
            # mean or spread may differ in the last bit (never more) from the one-shot value.
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=name)
        else:  # lags, differences, EWM from the carried state, gaps, created, max/min: exact
            np.testing.assert_array_equal(a, b, name)


def test_context_stays_bounded():
    frame, label = readings(n=3000, seed=1)
    carry = FeatureCarry(plan())
    for s in range(0, frame.height, 100):
        carry.apply(frame.slice(s, 100), target=label[s : s + 100])
        # 7 entities × (the 5 rows a lag of 3 and target windows need, plus a 90 min span)
        assert carry._context is not None and carry._context.height < 7 * 40


def test_a_late_reading_across_batches_names_its_row():
    frame, _ = readings(n=50, seed=2)
    plan_ = FeaturePlan(time_col="t", entity_col="m", steps=[LagStep(columns=["x"], lags=[1])])
    carry = FeatureCarry(plan_)
    carry.apply(frame.slice(0, 30))
    late = frame.slice(30).with_columns(pl.col("t") - pl.duration(days=30))
    with pytest.raises(DataError, match=r"^new.csv row 31: a reading of m .* older than one in"):
        carry.apply(late, source="new.csv", where=lambda r: f"new.csv row {31 + r}")
