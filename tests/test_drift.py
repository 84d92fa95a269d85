"""Drift (PSI, missing, out of range) equals the Numba kernels; live metrics equal scikit-learn."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from edgeml import kernels
from edgeml.config import MonitorConfig
from edgeml.errors import BundleError, DataError
from edgeml.metrics.drift import buckets, quantile_baseline
from edgeml.monitor._drift import PSI_EPSILON, feature_drift, prediction_drift, psi_from_counts
from edgeml.monitor._live import MIN_LABELLED, live_accuracy, live_metrics, roc_auc
from edgeml.pipeline._baselines import feature_histograms, prediction_baseline

#: Thresholds without the minimum sample: these tests check the statuses on a few rows.
ANY = MonitorConfig(min_rows=1)

counts = st.lists(st.integers(0, 1000), min_size=1, max_size=15)
values = arrays(
    np.float64,
    st.integers(0, 200),
    elements=st.one_of(
        st.floats(-50, 50, allow_nan=False, width=64),
        st.sampled_from([math.nan, math.inf, -math.inf]),
    ),
)
training = arrays(
    np.float64,
    st.integers(1, 300),
    elements=st.one_of(st.floats(-20, 20, width=64), st.just(math.nan)),
)


def test_kernel_epsilon_is_ours():
    assert PSI_EPSILON == kernels.PSI_EPSILON


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_psi_from_counts_equals_the_kernel(data):
    expected = data.draw(counts)
    actual = data.draw(st.lists(st.integers(0, 1000), min_size=len(expected),
                                max_size=len(expected)))  # fmt: skip
    ours = psi_from_counts(expected, actual)
    reference = kernels.psi_from_counts(expected, actual)
    if math.isnan(reference):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(reference, rel=1e-12, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(training, values)
def test_feature_psi_equals_the_kernel_on_the_baselines_bins(train, live):
    baseline = quantile_baseline(train)
    assume(len(baseline["edges"]) >= 3)  # the kernel needs at least one cut point
    drift = feature_drift({"x": baseline}, live.reshape(-1, 1), ["x"], ANY)["x"]
    # The kernel bins on the cut points (edges[1:-1]), NaN in a bucket of its own, as we do.
    cuts = baseline["edges"][1:-1]
    reference = kernels.psi(train, live, cuts)
    if live.size == 0:
        assert math.isnan(drift.psi) and drift.status == "no data"
        return
    assert drift.psi == pytest.approx(reference, rel=1e-9, abs=1e-12)
    assert drift.missing == pytest.approx(np.isnan(live).mean())
    lo, hi = baseline["edges"][0], baseline["edges"][-1]
    assert drift.out_of_range == pytest.approx(np.mean((live < lo) | (live > hi)))
    assert sum(drift.shares) == pytest.approx(1.0)
    assert drift.shares[:-1] == pytest.approx(
        (kernels.bin_counts(live, cuts)[:-1] / live.size).tolist()
    )


def test_infinities_fall_in_the_outer_bins_and_out_of_range():
    baseline = {"edges": [0.0, 1.0, 2.0], "counts": [10, 10], "missing": 0.0}
    found = buckets(baseline, [-math.inf, math.inf, 1.5, math.nan])
    assert found.live.tolist() == [0.25, 0.5, 0.25] and found.missing == 0.25
    assert found.outside == 0.5 and found.train.tolist() == [0.5, 0.5, 0.0]


def test_baseline_missing_share_is_its_own_bucket():
    baseline = {"edges": [0.0, 1.0], "counts": [80], "missing": 0.2}
    found = buckets(baseline, [0.5, math.nan])
    assert found.train.tolist() == pytest.approx([0.8, 0.2]) and found.live.tolist() == [0.5, 0.5]
    assert found.missing == 0.5


def test_a_feature_without_finite_training_values():
    baseline = {"edges": [], "counts": [], "missing": 1.0}
    drift = feature_drift({"x": baseline}, np.array([[math.nan], [math.nan]]), ["x"], ANY)["x"]
    assert drift.psi == 0.0 and drift.status == "ok" and drift.out_of_range == 0.0
    drift = feature_drift({"x": baseline}, np.array([[1.0], [math.nan]]), ["x"], ANY)["x"]
    # Values where training had none: every one is outside the (empty) training range.
    assert drift.out_of_range == 0.5 and drift.status == "alert"


def test_a_constant_training_feature_has_one_value_bucket():
    baseline = feature_histograms(np.full((50, 1), 3.0), ["x"])["x"]
    assert baseline["kind"] == "values"
    assert baseline["values"] == [3.0] and baseline["counts"] == [50]
    drift = feature_drift({"x": baseline}, np.array([[3.0], [4.0]]), ["x"], ANY)["x"]
    # 4.0 is a value training never had: its own bucket, outside what training had
    assert drift.psi > 1.0 and drift.out_of_range == 0.5 and drift.unseen == 1


def test_an_empty_window_is_no_data_and_json_safe():
    baseline = {"edges": [0.0, 1.0, 2.0], "counts": [10, 10], "missing": 0.0}
    drift = feature_drift({"x": baseline}, np.empty((0, 1)), ["x"])["x"]
    assert drift.status == "no data" and drift.rows == 0
    data = drift.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["psi"] is None and data["missing"] is None and data["out_of_range"] is None
    empty = prediction_drift({"kind": "classes", "counts": [3, 1]}, [])
    assert empty.status == "no data" and empty.to_dict()["psi"] is None


@pytest.mark.parametrize(
    ("live", "status"),
    [([0.5] * 50 + [1.5] * 50, "ok"), ([0.5] * 60 + [1.5] * 40, "ok"),
     ([0.5] * 67 + [1.5] * 33, "warn"), ([0.5] * 80 + [1.5] * 20, "alert")],
)  # fmt: skip
def test_status_follows_the_psi_thresholds(live, status):
    baseline = {"edges": [0.0, 1.0, 2.0], "counts": [50, 50], "missing": 0.0}
    drift = feature_drift({"x": baseline}, np.array(live).reshape(-1, 1), ["x"], ANY)["x"]
    assert drift.status == status
    assert (drift.reasons == ()) == (status == "ok")


def test_missing_and_range_thresholds():
    baseline = {"edges": [0.0, 1.0, 2.0], "counts": [50, 50], "missing": 0.05}
    config = MonitorConfig(
        missing_alert=0.1, out_of_range_alert=0.05, psi_alert=10, psi_warn=10, min_rows=1
    )
    rows = np.array([0.5, 1.5] * 43 + [math.nan] * 14).reshape(-1, 1)  # 14% missing: +9 points
    assert feature_drift({"x": baseline}, rows, ["x"], config)["x"].status == "ok"
    rows = np.array([0.5, 1.5] * 41 + [math.nan] * 18).reshape(-1, 1)  # 18%: +13 points
    assert "missing" in feature_drift({"x": baseline}, rows, ["x"], config)["x"].reasons[0]
    rows = np.array([0.5, 1.5] * 47 + [2.5] * 6).reshape(-1, 1)  # 6% above the training max
    drift = feature_drift({"x": baseline}, rows, ["x"], config)["x"]
    assert drift.status == "alert" and "outside the training range" in drift.reasons[0]


def test_features_without_a_baseline_are_skipped_and_shapes_checked():
    baseline = {"edges": [0.0, 1.0], "counts": [1], "missing": 0.0}
    assert set(feature_drift({"a": baseline}, np.zeros((3, 2)), ["a", "b"])) == {"a"}
    with pytest.raises(DataError, match="matrix"):
        feature_drift({"a": baseline}, np.zeros((3, 2)), ["a"])
    with pytest.raises(BundleError, match="counts"):
        feature_drift({"a": {"edges": [0.0, 1.0, 2.0], "counts": [1]}}, np.zeros((1, 1)), ["a"])


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6), st.data())
def test_class_prediction_psi_equals_the_kernel(k, data):
    train = data.draw(arrays(np.int64, st.integers(1, 200), elements=st.integers(0, k - 1)))
    live = data.draw(arrays(np.int64, st.integers(1, 200), elements=st.integers(0, k - 1)))
    baseline = prediction_baseline("multiclass", np.eye(k)[train])
    drift = prediction_drift(baseline, live.astype(float), ANY)
    expected = kernels.psi_from_counts(
        np.bincount(train, minlength=k), np.bincount(live, minlength=k)
    )
    assert drift.kind == "classes" and drift.psi == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert sum(drift.shares) == pytest.approx(1.0)


def test_numeric_prediction_drift_and_bad_kinds():
    scores = np.random.default_rng(0).uniform(size=2000)
    baseline = prediction_baseline("binary", scores)
    assert prediction_drift(baseline, scores[:500]).status == "ok"
    assert prediction_drift(baseline, np.clip(scores[:199] + 0.4, 0, 1)).status == "too few rows"
    shifted = prediction_drift(baseline, np.clip(scores[:500] + 0.4, 0, 1))
    assert shifted.kind == "numeric" and shifted.status == "alert"
    with pytest.raises(BundleError, match="kind"):
        prediction_drift({"kind": "odd"}, [0.1])
    unknown = prediction_drift({"kind": "classes", "counts": [5, 5]}, [0, 1, 7, math.nan])
    assert unknown.out_of_range == 0.25 and unknown.missing == 0.25


# -- live metrics --------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 120), st.integers(0, 2**31))
def test_binary_metrics_equal_sklearn(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    # Rounded scores make ties, which roc_auc must count half.
    p = np.round(rng.uniform(size=n), int(rng.integers(1, 4)))
    ours = live_metrics("binary", y, proba=p)
    predicted = (p > 0.5).astype(int)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert ours["f1"] == pytest.approx(f1_score(y, predicted, zero_division=0))
    assert ours["log_loss"] == pytest.approx(log_loss(y, np.column_stack([1 - p, p]),
                                                      labels=[0, 1]))  # fmt: skip
    if len(set(y)) == 2:
        assert ours["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    else:
        assert math.isnan(ours["roc_auc"])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 100), st.integers(3, 6), st.integers(0, 2**31))
def test_multiclass_metrics_equal_sklearn(n, k, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    ours = live_metrics("multiclass", y, proba=proba)
    predicted = proba.argmax(axis=1)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert ours["macro_f1"] == pytest.approx(
        f1_score(y, predicted, average="macro", zero_division=0)
    )
    assert ours["log_loss"] == pytest.approx(log_loss(y, proba, labels=list(range(k))))
    from_codes = live_metrics("multiclass", y, prediction=predicted)
    assert set(from_codes) == {"accuracy", "macro_f1"}


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 100), st.integers(0, 2**31))
def test_regression_metrics_equal_sklearn(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n) * 10
    pred = y + rng.normal(size=n)
    ours = live_metrics("regression", y, prediction=pred)
    assert ours["rmse"] == pytest.approx(root_mean_squared_error(y, pred))
    assert ours["mae"] == pytest.approx(mean_absolute_error(y, pred))
    assert ours["r2"] == pytest.approx(r2_score(y, pred))


def test_metric_edge_cases():
    assert live_metrics("regression", [2.0, 2.0], prediction=[2.0, 2.0])["r2"] == 1.0
    assert live_metrics("regression", [2.0, 2.0], prediction=[2.0, 3.0])["r2"] == 0.0
    assert math.isnan(live_metrics("regression", [2.0], prediction=[2.0])["r2"])
    assert live_metrics("binary", [], proba=[]) == {}
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    with pytest.raises(DataError, match="proba has 1 values"):
        live_metrics("binary", [0, 1], proba=[0.3])
    with pytest.raises(DataError, match="unknown task"):
        live_metrics("ranking", [0], proba=[0.1])


def test_accuracy_alert_needs_a_drop_and_enough_rows():
    y = [0, 1] * MIN_LABELLED
    good = [0.2, 0.8] * MIN_LABELLED
    bad = [0.8, 0.2] * MIN_LABELLED
    assert not live_accuracy("binary", y, proba=good, holdout={"roc_auc": 0.9}).alert
    worse = live_accuracy("binary", y, proba=bad, holdout={"roc_auc": 0.9})
    assert worse.alert and worse.drop == pytest.approx(0.9) and "roc_auc" in worse.reason
    few = live_accuracy("binary", y[:10], proba=bad[:10], holdout={"roc_auc": 0.9})
    assert not few.alert and few.rows == 10
    # Within the allowed drop: no alert.
    close = live_accuracy("binary", y, proba=good, holdout={"roc_auc": 1.04},
                          config=MonitorConfig(accuracy_drop=0.05))  # fmt: skip
    assert not close.alert
    assert not live_accuracy("binary", y, proba=bad).alert  # no holdout to compare with
    data = worse.to_dict()
    assert data["holdout_metrics"] == {"roc_auc": 0.9}
    json.dumps(data, allow_nan=False)
