"""Entities and the target's own history by default: the entity as a feature (or an ID), auto
target-history candidates, strict causality, and the stream fed with labels equal to the batch."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import edgeml
from edgeml.config import FeaturesConfig
from edgeml.features import apply_features
from edgeml.features._candidates import candidate_plan
from edgeml.runtime import FeatureStream
from edgeml.spec.feature_plan import FeaturePlan, LagStep, TargetHistoryStep


def regions(n_regions: int = 6, days: int = 150, seed: int = 0) -> pl.DataFrame:
    """Daily counts per region: each region its own level, a weekly cycle, AR(1) drift."""
    rng = np.random.default_rng(seed)
    start = date(2020, 1, 6)
    rows = []
    for r in range(n_regions):
        level = 50.0 * (r + 1)
        drift = 0.0
        for d in range(days):
            drift = 0.8 * drift + rng.normal(0, 0.1 * level)
            weekly = 0.3 * level * (d % 7 >= 5)
            count = max(0.0, level + weekly + drift + rng.normal(0, 2))
            rows.append((start + timedelta(days=d), f"R{r}", rng.normal(), round(count, 1)))
    return pl.DataFrame(rows, schema=["date", "region", "noise", "count"], orient="row")


@pytest.fixture(scope="module")
def regions_model(tmp_path_factory: pytest.TempPathFactory) -> edgeml.TrainResult:
    root = tmp_path_factory.mktemp("regions")
    return edgeml.train(
        regions(),
        target="count",
        time_col="date",
        entity_col="region",
        out=root / "regions.edgeml",
        cv_folds=3,
    )


def test_auto_mode_builds_the_targets_history_and_skips_calendar_columns() -> None:
    plan = candidate_plan(
        FeaturesConfig(),
        numeric=["x", "month", "date_weekday"],
        known={"x": "float", "month": "int", "date_weekday": "int"},
        time_col="t",
        entity_col="e",
        target="y",
        task="regression",
    )
    history = [s for s in plan.steps if isinstance(s, TargetHistoryStep)]
    assert len(history) == 1 and history[0].relative and history[0].lags
    lagged = {c for s in plan.steps if isinstance(s, LagStep) for c in s.columns}
    assert lagged == {"x"}  # calendar parts are known in advance: never lagged
    binary = candidate_plan(
        FeaturesConfig(), numeric=[], known={}, time_col="t", entity_col=None, target="y",
        task="binary",
    )  # fmt: skip
    assert not next(s for s in binary.steps if isinstance(s, TargetHistoryStep)).relative
    off = candidate_plan(
        FeaturesConfig(target_history=False), numeric=[], known={}, time_col="t",
        entity_col=None, target="y", task="regression",
    )  # fmt: skip
    assert not off.steps


def test_target_history_is_strictly_causal() -> None:
    """Changing a later target never changes an earlier row's features."""
    frame = regions(n_regions=3, days=40, seed=1)
    step = TargetHistoryStep(
        target="count", lags=[1, 2, 7], windows=["3", "7"], stats=["mean", "std"], relative=True
    )
    plan = FeaturePlan(time_col="date", entity_col="region", steps=[step])
    y = frame["count"].to_numpy().astype(np.float64)
    base = apply_features(plan, frame, target=y).select(step.outputs).to_numpy()
    rng = np.random.default_rng(0)
    days = frame["date"].to_numpy()
    for cut in rng.choice(np.unique(days), size=8, replace=False):
        changed = y.copy()
        later = days > cut
        changed[later] = rng.normal(0, 1000, int(later.sum()))
        out = apply_features(plan, frame, target=changed).select(step.outputs).to_numpy()
        np.testing.assert_array_equal(out[~later], base[~later])
    # A row's own label never enters its own features either.
    own = y.copy()
    own[10] = -1e9
    out = apply_features(plan, frame, target=own).select(step.outputs).to_numpy()
    np.testing.assert_array_equal(out[10], base[10])


def test_the_entity_is_a_categorical_feature_and_the_history_is_kept(
    regions_model: edgeml.TrainResult,
) -> None:
    manifest = regions_model.manifest
    assert "region" in manifest["features"]["categorical"]
    decision = next(d for d in manifest["decisions"] if d["what"] == "entity_feature")
    assert decision["choice"] is True and "6 entities" in decision["reason"]
    kept = manifest["features"]["plan"]["kept"]
    assert any(name.startswith("count_") for name in kept), kept
    assert not any(name.startswith("date_") and "_lag_" in name for name in kept)
    # An unseen region predicts (as a missing category) instead of failing.
    model = edgeml.load(regions_model.bundle)
    frame = regions(n_regions=7, days=150)
    assert model.predict(frame).height == frame.height


def test_rounds_come_from_the_cv_folds(regions_model: edgeml.TrainResult) -> None:
    from edgeml.learn import rounds_from_folds

    model = regions_model.manifest["model"]
    rounds = model["rounds"]
    assert len(rounds["fold_best_iterations"]) == 3
    folds = list(zip(rounds["fold_best_iterations"], rounds["fold_train_rows"], strict=True))
    rows = regions_model.manifest["metrics"]["rows"]  # the shipped model's: all labelled rows
    expected = rounds_from_folds(folds, rows.get("final", rows["train"]))
    assert rounds["rounds"] == expected == model["num_iterations"]
    assert "mean validation loss" in rounds["rule"]
    assert len(set(rounds["fold_best_iterations"])) == 1  # the folds are cut at one round


def test_an_entity_with_more_values_than_half_the_rows_is_an_id(tmp_path: Path) -> None:
    frame = regions(n_regions=2, days=60).with_columns(
        pl.format("{}-{}", pl.col("region"), pl.int_range(pl.len())).alias("reading")
    )
    result = edgeml.train(
        frame.drop("region"),
        target="count",
        time_col="date",
        entity_col="reading",
        out=tmp_path / "id.edgeml",
        cv_folds=2,
    )
    decision = next(d for d in result.manifest["decisions"] if d["what"] == "entity_feature")
    assert decision["choice"] is False
    assert "more than rows/2" in decision["reason"] and "treated as an ID" in decision["reason"]
    assert "reading" not in result.manifest["features"]["model"]


def test_entity_as_feature_can_be_turned_off(tmp_path: Path) -> None:
    config = edgeml.Config.from_dict({"features": {"entity_as_feature": False, "mode": "none"}})
    result = edgeml.train(
        regions(days=40), target="count", time_col="date", entity_col="region",
        out=tmp_path / "off.edgeml", cv_folds=2, config=config,
    )  # fmt: skip
    assert "region" not in result.manifest["features"]["model"]
    with pytest.raises(edgeml.ConfigError, match="entity_as_feature"):
        edgeml.Config.from_dict({"features": {"entity_as_feature": "no"}})


def test_a_label_delay_reads_only_labels_that_old() -> None:
    """With ``delay`` d, a row's target history is the history the row d readings earlier had
    without delay (NaN for an entity's first d rows): no label younger than d rows enters."""
    frame = regions(n_regions=3, days=40, seed=2).sort("region", "date")
    y = frame["count"].to_numpy().astype(np.float64)
    kwargs = dict(target="count", lags=[1, 2], windows=["3"], stats=["mean"], relative=True)
    undelayed = TargetHistoryStep(**kwargs)  # type: ignore[arg-type]
    delayed = TargetHistoryStep(**kwargs, delay=4)  # type: ignore[arg-type]
    plans = [
        FeaturePlan(time_col="date", entity_col="region", steps=[s]) for s in (undelayed, delayed)
    ]
    base, late = (apply_features(p, frame, target=y).select(p.outputs).to_numpy() for p in plans)
    for region in frame["region"].unique():
        rows = np.flatnonzero((frame["region"] == region).to_numpy())
        assert np.isnan(late[rows[:4]]).all()
        np.testing.assert_array_equal(late[rows[4:]], base[rows[:-4]])


def test_label_delay_comes_from_the_features_config() -> None:
    plan = candidate_plan(
        FeaturesConfig(label_delay=24), numeric=[], known={}, time_col="t", entity_col="e",
        target="y", task="binary",
    )  # fmt: skip
    (step,) = [s for s in plan.steps if isinstance(s, TargetHistoryStep)]
    assert step.delay == 24
    with pytest.raises(edgeml.ConfigError, match="label_delay"):
        edgeml.Config.from_dict({"features": {"label_delay": -1}})


@pytest.mark.parametrize("delay", [0, 4])
def test_a_stream_fed_labels_equals_the_batch_pipeline(delay: int) -> None:
    frame = regions(n_regions=3, days=50, seed=3)
    step = TargetHistoryStep(
        target="count", lags=[1, 7], windows=["7", "28"], stats=["mean"], relative=True,
        delay=delay,
    )  # fmt: skip
    plan = FeaturePlan(time_col="date", entity_col="region", steps=[step])
    y = frame["count"].to_numpy().astype(np.float64)
    expected = apply_features(plan, frame, target=y).select(step.outputs).to_numpy()
    stream = FeatureStream(plan)
    got = []
    order = np.argsort(frame["date"].to_numpy(), kind="stable")  # arrival: by time
    for i in order:
        row = frame.row(int(i), named=True)
        features = stream.push(row)
        got.append((i, [features[name] for name in step.outputs]))
        # The label arrives after the prediction, as POST /feedback brings it.
        assert stream.push_label(row["region"], row["date"], row["count"])
    out = np.empty_like(expected)
    for i, values in got:
        out[i] = values
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-9)
    assert stream.labelled == stream.readings == frame.height
    assert not stream.push_label("R0", date(1999, 1, 1), 1.0)  # no such reading
