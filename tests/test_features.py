"""The FeaturePlan: batch executor against Polars, no leakage, selection records, end to end."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgeml
from edgeml.config import Config, FeaturesConfig
from edgeml.errors import ConfigError, SchemaError
from edgeml.features import Formula, apply_features
from edgeml.features._candidates import candidate_plan
from edgeml.spec.feature_plan import (
    CreatedStep,
    EwmStep,
    FeaturePlan,
    FormulaStep,
    GapStep,
    LagStep,
    TargetHistoryStep,
    WindowStep,
    parse_window,
)


def readings(n: int = 60, seed: int = 0) -> pl.DataFrame:
    """Two machines, irregular times, shuffled arrival order, some missing readings."""
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.integers(1, 600, n)) * 1_000_000_000
    frame = pl.DataFrame(
        {
            "t": pl.Series(times).cast(pl.Datetime("ns")).cast(pl.Datetime("us")),
            "m": rng.choice(["a", "b"], n),
            "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "y": rng.normal(size=n),
        }
    )
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)


def polars_reference(frame: pl.DataFrame, expr: pl.Expr) -> list[float]:
    """Evaluate ``expr`` per machine in time order, returned in the frame's own row order."""
    indexed = frame.with_row_index("row").with_columns(pl.col("x").fill_nan(None))
    result = indexed.sort("m", "t").with_columns(expr.over("m").alias("out")).sort("row")
    return result["out"].cast(pl.Float64).fill_null(np.nan).to_list()


def test_lags_and_windows_match_polars_on_shuffled_rows():
    frame = readings()
    plan = FeaturePlan(
        time_col="t",
        entity_col="m",
        steps=[
            LagStep(columns=["x"], lags=[1, 2], diff=True),
            WindowStep(columns=["x"], windows=["3"], stats=["mean", "max"]),
            EwmStep(columns=["y"], halflives=[2.0]),
        ],
    )
    out = apply_features(plan, frame)
    x = pl.col("x")
    expected = {
        "x_lag_1": x.shift(1),
        "x_lag_2": x.shift(2),
        "x_diff_1": x - x.shift(1),
        "x_mean_3": x.rolling_mean(3, min_samples=1),
        "x_max_3": x.rolling_max(3, min_samples=1),
    }
    for name, expr in expected.items():
        np.testing.assert_allclose(out[name].to_numpy(), polars_reference(frame, expr), rtol=1e-12)
    ewm = polars_reference(frame, pl.col("y").ewm_mean(half_life=2.0, adjust=False))
    np.testing.assert_allclose(out["y_ewm_2"].to_numpy(), ewm, rtol=1e-12)


def test_time_span_windows_and_gaps():
    frame = readings()
    plan = FeaturePlan(
        time_col="t",
        entity_col="m",
        steps=[WindowStep(columns=["y"], windows=["30min"], stats=["sum"]), GapStep()],
    )
    out = apply_features(plan, frame)
    span = polars_reference(frame, pl.col("y").rolling_sum_by("t", "30m", closed="right"))
    np.testing.assert_allclose(out["y_sum_30min"].to_numpy(), span, rtol=1e-12)
    gaps = polars_reference(frame, pl.col("t").diff().dt.total_seconds(fractional=True))
    np.testing.assert_allclose(out["seconds_since_previous"].to_numpy(), gaps)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=59), st.floats(-1e6, 1e6))
def test_a_future_row_cannot_change_a_past_rows_features(row, new_value):
    frame = readings().sort("t")
    plan = FeaturePlan(
        time_col="t",
        entity_col="m",
        steps=[
            LagStep(columns=["x"], lags=[1], diff=True),
            WindowStep(columns=["x"], windows=["5", "1h"], stats=["mean", "std", "min"]),
            EwmStep(columns=["x"], halflives=[3.0]),
            TargetHistoryStep(target="y", lags=[1], windows=["4"], stats=["mean"]),
        ],
    )
    before = apply_features(plan, frame, target=frame["y"].to_numpy())
    changed = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == row).then(new_value).otherwise(pl.col(c)).alias(c)
        for c in ("x", "y")
    )
    after = apply_features(plan, changed, target=changed["y"].to_numpy())
    past = slice(0, row)  # rows strictly before the changed one, in time order
    for name in plan.outputs:
        np.testing.assert_array_equal(before[name][past].to_numpy(), after[name][past].to_numpy())


def test_target_history_excludes_the_current_label():
    frame = pl.DataFrame({"t": [1, 2, 3, 4], "y": [10.0, 20.0, 30.0, 40.0]})
    plan = FeaturePlan(
        time_col="t",
        entity_col=None,
        steps=[TargetHistoryStep(target="y", lags=[1], windows=["2"], stats=["mean"])],
    )
    out = apply_features(plan, frame, target=frame["y"].to_numpy())
    assert out["y_lag_1"].to_list()[1:] == [10.0, 20.0, 30.0]
    assert out["y_past_mean_2"].to_list()[1:] == [10.0, 15.0, 25.0]


def test_created_features_and_formulas():
    frame = pl.DataFrame({"a": [6.0, 1.0, None], "b": [3.0, 0.0, 2.0]})
    plan = FeaturePlan(
        time_col=None,
        entity_col=None,
        steps=[
            CreatedStep(op="ratio", left="a", right="b"),
            CreatedStep(op="square", left="b", right="b"),
            FormulaStep(name="f", formula="log(a) + max(a, b) / 2"),
        ],
    )
    out = apply_features(plan, frame)
    assert out["a/b"].to_list()[0] == 2.0 and np.isnan(out["a/b"][1]) and np.isnan(out["a/b"][2])
    assert out["b^2"].to_list() == [9.0, 0.0, 4.0]
    assert out["f"].to_list()[0] == pytest.approx(np.log(6) + 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a +", "cannot parse"),
        ("__import__('os')", "unknown function '__import__'"),
        ("a.b", "'a.b' is not allowed"),
        ("min(a)", "min() takes 2 argument(s)"),
        ("a if b else 1", "is not allowed"),
    ],
)
def test_bad_formulas_are_named(text, message):
    with pytest.raises(ConfigError, match=r"\[features.formulas\] f: .*") as info:
        Formula.parse("f", text)
    assert message in str(info.value)


def test_parse_window():
    assert parse_window("12") == ("rows", 12)
    assert parse_window("15min") == ("span", 15 * 60 * 10**9)
    with pytest.raises(ValueError, match="expected a row count"):
        parse_window("soon")


def test_series_features_need_a_time_column():
    with pytest.raises(ConfigError, match="need a time column"):
        candidate_plan(
            FeaturesConfig(mode="manual", lags=[1], columns=["x"]),
            numeric=["x"],
            known={"x": "float"},
            time_col=None,
            entity_col=None,
            target="y",
            task="regression",
        )


def test_unknown_feature_column_is_named():
    with pytest.raises(ConfigError, match="columns: unknown column\\(s\\) 'z'"):
        candidate_plan(
            FeaturesConfig(mode="manual", lags=[1], columns=["z"]),
            numeric=["x"],
            known={"x": "float"},
            time_col="t",
            entity_col=None,
            target="y",
            task="regression",
        )


def test_missing_time_values_are_refused():
    frame = pl.DataFrame({"t": [1, None], "x": [1.0, 2.0]})
    plan = FeaturePlan(time_col="t", entity_col=None, steps=[LagStep(columns=["x"], lags=[1])])
    with pytest.raises(SchemaError, match="time column 't' is missing on 1 rows"):
        apply_features(plan, frame)


def test_a_file_with_missing_times_is_named_when_training(tmp_path):
    # the message said "data: time column ..." for the user's own file
    rng = np.random.default_rng(0)
    times = [f"2024-01-{1 + i % 28:02d} {i % 24:02d}:00" for i in range(300)]
    times[17] = ""
    frame = pl.DataFrame({"t": times, "m": ["a", "b"] * 150, "x": rng.normal(size=300),
                          "y": rng.integers(0, 2, 300)})  # fmt: skip
    frame.write_csv(tmp_path / "fleet.csv")
    with pytest.raises(SchemaError, match=r"fleet.csv: time column 't' is missing on 1 rows"):
        edgeml.train(tmp_path / "fleet.csv", target="y", time_col="t", entity_col="m",
                     out=tmp_path / "m.edgeml", cv_folds=0)  # fmt: skip


def test_pipeline_selects_records_and_predicts_with_history(tmp_path):
    fleet = edgeml.datasets.sensor_fleet(n_machines=8, days=12, seed=3)
    result = edgeml.train(
        fleet,
        target="failure_within_24h",
        time_col="timestamp",
        entity_col="machine_id",
        cv_folds=3,
        # the label looks 24 h ahead: its own history would leak the future
        config=Config.from_dict({"features": {"target_history": False}}),
        out=tmp_path / "m.edgeml",
    )
    plan = result.manifest["features"]["plan"]
    records = plan["candidates"]
    assert records and all({"name", "kept", "score", "reason"} <= set(c) for c in records)
    kept = [c["name"] for c in records if c["kept"]]
    assert kept == plan["kept"]
    assert set(kept) <= set(result.manifest["features"]["model"])
    model = edgeml.load(result.bundle)
    assert {"timestamp", "machine_id"} <= set(model.input_schema)
    batch = model.predict(fleet.drop("failure_within_24h"))
    assert batch.height == fleet.height
    # Arrival order does not matter: each row's features come from its machine's own past
    # (rows re-sent with the same timestamp are ties, broken by arrival, so leave them out).
    unique = fleet.unique(subset=["machine_id", "timestamp"], keep="none", maintain_order=True)
    expected = model.predict(unique)
    order = np.random.default_rng(0).permutation(unique.height)
    shuffled = model.predict(unique[order].drop("failure_within_24h"))
    np.testing.assert_allclose(
        shuffled["proba_1"].to_numpy(), expected["proba_1"].to_numpy()[order], rtol=1e-12
    )


def test_evaluate_keeps_unlabelled_rows_as_history(tmp_path):
    """evaluate scores the labelled rows as predict sees them: an unlabelled reading is still
    part of its machine's history for the lags and windows."""
    from sklearn.metrics import roc_auc_score

    fleet = edgeml.datasets.sensor_fleet(n_machines=6, days=8, seed=4)
    features = {"mode": "manual", "columns": ["temperature", "vibration"], "lags": [1, 2],
                "windows": ["4"], "stats": ["mean"], "select": False,
                "target_history": False}  # fmt: skip
    config = Config.from_dict({"features": features})
    result = edgeml.train(fleet, target="failure_within_24h", time_col="timestamp",
                          entity_col="machine_id", cv_folds=0, config=config,
                          out=tmp_path / "m.edgeml")  # fmt: skip
    blank = pl.int_range(pl.len()) % 3 == 0
    partly = fleet.with_columns(
        pl.when(blank)
        .then(None)
        .otherwise(pl.col("failure_within_24h"))
        .alias("failure_within_24h")
    )
    model = edgeml.load(result.bundle)
    report = model.evaluate(partly)
    labelled = partly["failure_within_24h"].is_not_null().to_numpy()
    proba = model.predict(partly.drop("failure_within_24h"))["proba_1"].to_numpy()[labelled]
    y = partly["failure_within_24h"].to_numpy()[labelled].astype(int)
    assert report["unlabelled_rows"] == int((~labelled).sum())
    assert report["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(y, proba), abs=1e-12)


def test_features_none_builds_nothing(tmp_path):
    fleet = edgeml.datasets.sensor_fleet(n_machines=4, days=6, seed=1)
    config = Config.from_dict({"features": {"mode": "none"}})
    result = edgeml.train(
        fleet,
        target="failure_within_24h",
        time_col="timestamp",
        config=config,
        cv_folds=0,
        out=tmp_path / "m.edgeml",
    )
    assert result.manifest["features"]["plan"]["steps"] == []
