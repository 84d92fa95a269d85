"""edgeml.metrics: against hand-computed values and scikit-learn, edge cases and properties."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgeml.errors import DataError
from edgeml.metrics import (
    METRIC_NAMES,
    METRICS,
    baseline_predictions,
    compute_metrics,
    higher_is_better,
    primary_metric,
    summarize_folds,
)


def _two_col(p1: list[float]) -> np.ndarray:
    p = np.asarray(p1, dtype=np.float64)
    return np.column_stack([1 - p, p])


# --- exact values on small hand-computed cases ------------------------------------------------


def test_binary_exact() -> None:
    y = np.array([0, 0, 1, 1, 1])
    pred = np.array([0, 1, 1, 1, 0])
    p1 = np.array([0.1, 0.6, 0.8, 0.7, 0.4])
    m = compute_metrics("binary", y, prediction=pred, proba=_two_col(list(p1)))
    assert list(m) == list(METRIC_NAMES["binary"])
    # TP=2 (rows 2, 3), FP=1 (row 1), FN=1 (row 4)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    # positives 0.8, 0.7, 0.4 vs negatives 0.1, 0.6: 5 of 6 pairs ranked right
    assert m["roc_auc"] == pytest.approx(5 / 6)
    # ranked 1,1,0,1,0: precision at each positive 1, 1, 3/4
    assert m["pr_auc"] == pytest.approx((1 + 1 + 3 / 4) / 3)
    p_true = np.where(y == 1, p1, 1 - p1)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log(p_true)))
    assert all(type(v) is float for v in m.values())


def test_multiclass_exact() -> None:
    y = np.array([0, 1, 2, 2, 2])
    pred = np.array([0, 2, 2, 2, 1])
    proba = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.1, 0.3, 0.6],
            [0.2, 0.2, 0.6],
            [0.0, 0.5, 0.5],
            [0.3, 0.4, 0.3],
        ]
    )
    m = compute_metrics("multiclass", y, prediction=pred, proba=proba)
    assert list(m) == list(METRIC_NAMES["multiclass"])
    # per-class F1: class 0 -> 1, class 1 -> 0 (TP 0), class 2 -> 2/3 (TP 2, FP 1, FN 1)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["macro_f1"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx((1 * 1 + 1 * 0 + 3 * 2 / 3) / 5)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log(proba[np.arange(5), y])))


def test_regression_exact() -> None:
    y = np.array([1.0, 2.0, 0.0, 4.0])
    pred = np.array([1.5, 2.0, 1.0, 3.0])
    m = compute_metrics("regression", y, prediction=pred)
    assert list(m) == list(METRIC_NAMES["regression"])
    err = pred - y
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
    assert m["mae"] == pytest.approx(np.mean(np.abs(err)))
    assert m["r2"] == pytest.approx(1 - np.sum(err**2) / np.sum((y - y.mean()) ** 2))
    # the zero target (row 2) is skipped: (0.5/1 + 0/2 + 1/4) / 3
    assert m["mape"] == pytest.approx(0.25)


# --- edge cases -------------------------------------------------------------------------------


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_gives_nan_ranking_metrics_without_warnings(label: int) -> None:
    y = np.full(4, label)
    pred = np.array([0, 1, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = compute_metrics("binary", y, prediction=pred, proba=_two_col([0.2, 0.7, 0.4, 0.9]))
    assert math.isnan(m["roc_auc"])
    assert math.isnan(m["pr_auc"])
    assert math.isfinite(m["log_loss"])
    assert m["accuracy"] == 0.5


def test_zero_division_is_zero() -> None:
    y = np.array([0, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = compute_metrics("binary", y, prediction=np.zeros(3, dtype=int))
    assert m["precision"] == 0.0
    assert m["recall"] == 0.0
    assert m["f1"] == 0.0
    assert m["accuracy"] == 1.0


def test_binary_without_proba_leaves_out_probability_metrics() -> None:
    m = compute_metrics("binary", np.array([0, 1]), prediction=np.array([1, 1]))
    assert set(m) == {"accuracy", "precision", "recall", "f1"}


def test_multiclass_log_loss_with_class_absent_from_y_true() -> None:
    y = np.array([0, 1, 0])
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.5, 0.25, 0.25]])
    m = compute_metrics("multiclass", y, prediction=np.array([0, 1, 0]), proba=proba)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.5])))
    assert m["macro_f1"] == 1.0


def test_mape_skips_zero_targets_and_is_nan_without_any() -> None:
    m = compute_metrics("regression", np.array([0.0, 10.0]), prediction=np.array([5.0, 12.0]))
    assert m["mape"] == pytest.approx(0.2)
    m = compute_metrics("regression", np.zeros(3), prediction=np.array([1.0, 2.0, 3.0]))
    assert math.isnan(m["mape"])


def test_r2_of_one_row_is_nan_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = compute_metrics("regression", np.array([3.0]), prediction=np.array([2.0]))
    assert math.isnan(m["r2"])
    assert m["rmse"] == 1.0


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_empty_input_is_data_error(task: str) -> None:
    with pytest.raises(DataError, match=r"y_true.*empty"):
        compute_metrics(task, np.array([]), prediction=np.array([]))  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_prediction_is_data_error(bad: float) -> None:
    with pytest.raises(DataError, match=r"'prediction'.*NaN"):
        compute_metrics("regression", np.array([1.0, 2.0]), prediction=np.array([1.0, bad]))


def test_nan_in_y_true_and_proba_are_data_errors() -> None:
    with pytest.raises(DataError, match="'y_true'"):
        compute_metrics("regression", np.array([np.nan, 2.0]), prediction=np.array([1.0, 2.0]))
    proba = np.array([[0.5, 0.5], [np.nan, 0.5]])
    with pytest.raises(DataError, match="'proba'"):
        compute_metrics("binary", np.array([0, 1]), prediction=np.array([0, 1]), proba=proba)


@pytest.mark.parametrize(
    ("y", "pred", "proba", "match"),
    [
        ([0, 1], [0, 1, 1], None, "3 rows"),
        ([0, 2], [0, 1], None, "codes other than 0 and 1"),
        ([0, 1], [0, 1], [[0.5, 0.5]], r"shape \(2, K\)"),
        ([0, 1], [0, 1], [[0.9, 0.9], [0.5, 0.5]], "sums to 1.8"),
        ([0, 1], [0, 1], [[1.5, -0.5], [0.5, 0.5]], "outside"),
        ([0.5, 1], [0, 1], None, "integer class codes"),
    ],
)
def test_bad_classification_input_is_data_error(
    y: list[float], pred: list[int], proba: list[list[float]] | None, match: str
) -> None:
    p = None if proba is None else np.array(proba)
    with pytest.raises(DataError, match=match):
        compute_metrics("binary", np.array(y), prediction=np.array(pred), proba=p)


def test_multiclass_code_beyond_proba_columns_is_data_error() -> None:
    with pytest.raises(DataError, match="class code 3"):
        compute_metrics(
            "multiclass",
            np.array([0, 3]),
            prediction=np.array([0, 1]),
            proba=np.full((2, 3), 1 / 3),
        )


def test_float32_proba_is_accepted_and_bool_labels_work() -> None:
    proba = _two_col([0.2, 0.9]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = compute_metrics(
            "binary", np.array([False, True]), prediction=np.array([0.0, 1.0]), proba=proba
        )
    assert m["roc_auc"] == 1.0
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.9])), rel=1e-6)


def test_unknown_task_is_value_error() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        compute_metrics("ranking", np.array([1]), prediction=np.array([1]))  # type: ignore[arg-type]


# --- baseline ---------------------------------------------------------------------------------


def test_baseline_classification() -> None:
    pred, proba = baseline_predictions("multiclass", np.array([2, 0, 2, 1]), 3, n_classes=4)
    assert pred.tolist() == [2, 2, 2]
    assert proba is not None
    assert proba.shape == (3, 4)
    np.testing.assert_allclose(proba[0], [0.25, 0.25, 0.5, 0.0])


def test_baseline_tie_takes_lowest_code_and_binary_has_two_columns() -> None:
    pred, proba = baseline_predictions("binary", np.array([1, 0]), 2)
    assert pred.tolist() == [0, 0]
    pred, proba = baseline_predictions("binary", np.array([0, 0]), 1)
    assert proba is not None
    assert proba.tolist() == [[1.0, 0.0]]


def test_baseline_regression_is_training_mean() -> None:
    pred, proba = baseline_predictions("regression", np.array([1.0, 2.0, 6.0]), 2)
    assert proba is None
    assert pred.tolist() == [3.0, 3.0]


def test_baseline_bad_input() -> None:
    with pytest.raises(DataError, match="non-empty"):
        baseline_predictions("binary", np.array([]), 3)
    with pytest.raises(DataError, match="NaN"):
        baseline_predictions("regression", np.array([1.0, np.nan]), 3)
    with pytest.raises(DataError, match="n_classes is 2"):
        baseline_predictions("multiclass", np.array([0, 2]), 3, n_classes=2)


def test_baseline_metrics_of_binary_target() -> None:
    y = np.array([0, 0, 0, 1])
    pred, proba = baseline_predictions("binary", y, y.size)
    m = compute_metrics("binary", y, prediction=pred, proba=proba)
    assert m["accuracy"] == 0.75
    assert m["roc_auc"] == 0.5  # a constant score ranks nothing
    assert m["pr_auc"] == pytest.approx(0.25)  # average precision of a constant = prevalence
    assert m["log_loss"] == pytest.approx(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)))


# --- summaries and metric metadata --------------------------------------------------------------


def test_summarize_folds() -> None:
    folds = [
        {"roc_auc": 0.8, "log_loss": 0.3},
        {"roc_auc": math.nan, "log_loss": 0.5},
        {"roc_auc": 0.6, "log_loss": 0.4},
    ]
    s = summarize_folds(folds)
    assert list(s) == ["roc_auc", "log_loss"]
    assert s["roc_auc"]["mean"] == pytest.approx(0.7)
    assert s["roc_auc"]["std"] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    assert s["log_loss"]["mean"] == pytest.approx(0.4)
    assert s["log_loss"]["std"] == pytest.approx(0.1)


def test_summarize_one_fold_and_all_nan() -> None:
    s = summarize_folds([{"r2": 0.5, "mape": math.nan}])
    assert s["r2"] == {"mean": 0.5, "std": 0.0}
    assert math.isnan(s["mape"]["mean"])
    assert math.isnan(s["mape"]["std"])
    with pytest.raises(ValueError, match="at least one fold"):
        summarize_folds([])


def test_primary_metric_and_direction() -> None:
    assert primary_metric("binary") == "roc_auc"
    assert primary_metric("multiclass") == "macro_f1"
    assert primary_metric("regression") == "r2"
    for task, names in METRIC_NAMES.items():
        assert primary_metric(task) in names
        for name in names:
            expected = name not in {"log_loss", "brier", "rmse", "mae", "mape"}
            assert higher_is_better(name) is expected
    with pytest.raises(ValueError, match="unknown metric"):
        higher_is_better("auc")


# --- properties -------------------------------------------------------------------------------

_sizes = st.integers(min_value=1, max_value=40)


@st.composite
def _classification(draw: st.DrawFn, k: int | None = None) -> tuple[np.ndarray, ...]:
    n = draw(_sizes)
    k = k if k is not None else draw(st.integers(min_value=2, max_value=5))
    codes = hnp.arrays(np.int64, n, elements=st.integers(0, k - 1))
    y, pred = draw(codes), draw(codes)
    raw = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(0.01, 1.0)))
    return y, pred, raw / raw.sum(axis=1, keepdims=True)


@settings(max_examples=60, deadline=None)
@given(_classification(k=2))
def test_binary_metrics_are_bounded(data: tuple[np.ndarray, ...]) -> None:
    y, pred, proba = data
    m = compute_metrics("binary", y, prediction=pred, proba=proba)
    for name in ("accuracy", "precision", "recall", "f1"):
        assert 0.0 <= m[name] <= 1.0
    assert m["log_loss"] >= 0.0
    if np.unique(y).size == 2:
        assert 0.0 <= m["roc_auc"] <= 1.0
        assert 0.0 <= m["pr_auc"] <= 1.0
    else:
        assert math.isnan(m["roc_auc"])


@settings(max_examples=60, deadline=None)
@given(_classification())
def test_multiclass_perfect_and_permutation_invariant(data: tuple[np.ndarray, ...]) -> None:
    y, pred, proba = data
    perfect = compute_metrics("multiclass", y, prediction=y)
    assert perfect["accuracy"] == 1.0
    assert perfect["macro_f1"] == 1.0
    m = compute_metrics("multiclass", y, prediction=pred, proba=proba)
    assert 0.0 <= m["accuracy"] <= 1.0
    order = np.arange(y.size)[::-1]
    flipped = compute_metrics("multiclass", y[order], prediction=pred[order], proba=proba[order])
    assert flipped == pytest.approx(m)


_values = hnp.arrays(np.float64, _sizes, elements=st.floats(-1e6, 1e6))


@settings(max_examples=60, deadline=None)
@given(_values)
def test_regression_perfect_prediction(y: np.ndarray) -> None:
    m = compute_metrics("regression", y, prediction=y.copy())
    assert m["rmse"] == 0.0
    assert m["mae"] == 0.0
    assert m["r2"] == 1.0 or (y.size == 1 and math.isnan(m["r2"]))
    assert m["mape"] == 0.0 or (math.isnan(m["mape"]) and not y.any())


@settings(max_examples=60, deadline=None)
@given(st.floats(-1e3, 1e3), _sizes)
def test_baseline_of_constant_target_is_perfect(value: float, n: int) -> None:
    y = np.full(n, value)
    pred, proba = baseline_predictions("regression", y, n)
    assert proba is None
    m = compute_metrics("regression", y, prediction=pred)
    assert m["rmse"] == pytest.approx(0.0, abs=1e-9)
    assert m["mae"] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(_classification())
def test_baseline_accuracy_is_majority_share(data: tuple[np.ndarray, ...]) -> None:
    y, _, proba = data
    k = proba.shape[1]
    pred, base_proba = baseline_predictions("multiclass", y, y.size, n_classes=k)
    m = compute_metrics("multiclass", y, prediction=pred, proba=base_proba)
    assert m["accuracy"] == pytest.approx(np.bincount(y).max() / y.size)
    freq = np.bincount(y, minlength=k) / y.size
    entropy = -np.sum(freq[freq > 0] * np.log(freq[freq > 0]))
    assert m["log_loss"] == pytest.approx(entropy, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=1, max_size=8))
def test_summarize_matches_numpy(values: list[float]) -> None:
    s = summarize_folds([{"rmse": v} for v in values])["rmse"]
    assert s["mean"] == pytest.approx(np.mean(values), abs=1e-9)
    expected_std = np.std(values, ddof=1) if len(values) > 1 else 0.0
    assert s["std"] == pytest.approx(expected_std, abs=1e-9)


# --- the NumPy kernels against scikit-learn ---------------------------------------------------


def _sklearn_reference(task: str, y, pred, proba, weight) -> dict[str, float]:
    """The same metrics from scikit-learn, rows counted ``weight`` times."""
    from sklearn import metrics as sk

    kw = {"sample_weight": weight}
    if task == "regression":
        nonzero = y != 0
        return {
            "rmse": sk.root_mean_squared_error(y, pred, **kw),
            "mae": sk.mean_absolute_error(y, pred, **kw),
            "r2": sk.r2_score(y, pred, **kw),
            "mape": sk.mean_absolute_percentage_error(
                y[nonzero], pred[nonzero], sample_weight=weight[nonzero]
            ),
        }
    k = proba.shape[1]
    out = {
        "accuracy": sk.accuracy_score(y, pred, **kw),
        "log_loss": sk.log_loss(y, proba, labels=list(range(k)), **kw),
    }
    if task == "binary":
        out |= {
            "precision": sk.precision_score(y, pred, zero_division=0, **kw),
            "recall": sk.recall_score(y, pred, zero_division=0, **kw),
            "f1": sk.f1_score(y, pred, zero_division=0, **kw),
            "roc_auc": sk.roc_auc_score(y, proba[:, 1], **kw),
            "pr_auc": sk.average_precision_score(y, proba[:, 1], **kw),
            "brier": sk.brier_score_loss(y, proba[:, 1], **kw),
        }
    else:
        out |= {
            "macro_f1": sk.f1_score(y, pred, average="macro", zero_division=0, **kw),
            "weighted_f1": sk.f1_score(y, pred, average="weighted", zero_division=0, **kw),
        }
    return out


def _case(task: str, seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 80))
    if task == "regression":
        y = rng.normal(size=n)
        y[rng.random(n) < 0.2] = 0.0  # zero targets: left out of mape
        return y, y + rng.normal(size=n), None
    k = 2 if task == "binary" else int(rng.integers(3, 6))
    y = np.r_[np.arange(k), rng.integers(0, k, n - k)]  # every class present
    proba = np.round(rng.dirichlet(np.ones(k), n), 1) + 1e-3  # rounded: tied scores
    proba /= proba.sum(axis=1, keepdims=True)
    pred = rng.integers(0, k, n) if task == "multiclass" else (proba[:, 1] > 0.4).astype(int)
    return y, pred, proba


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("seed", range(8))
def test_every_metric_equals_scikit_learn(task: str, seed: int) -> None:
    y, pred, proba = _case(task, seed)
    ours = compute_metrics(task, y, prediction=pred, proba=proba)  # type: ignore[arg-type]
    expected = _sklearn_reference(task, y, pred, proba, np.ones(len(y)))
    assert set(ours) == set(METRIC_NAMES[task])  # type: ignore[index]
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("seed", range(4))
def test_weighted_kernels_equal_scikit_learn_sample_weight(task: str, seed: int) -> None:
    y, pred, proba = _case(task, seed)
    weight = np.random.default_rng(seed + 100).integers(1, 4, len(y)).astype(np.float64)
    expected = _sklearn_reference(task, y, pred, proba, weight)
    for name, value in expected.items():
        metric = METRICS[name]
        output = proba if metric.needs == "proba" else pred
        ours = float(metric.score(weight.reshape(1, -1), y, output)[0])
        assert ours == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_every_reported_metric_has_a_kernel_and_a_direction() -> None:
    for names in METRIC_NAMES.values():
        for name in names:
            assert METRICS[name].higher_is_better == higher_is_better(name)
    assert {m for m in METRICS if not METRICS[m].higher_is_better} == {
        "log_loss", "brier", "rmse", "mae", "mape"
    }  # fmt: skip


def test_kernels_score_many_weightings_at_once() -> None:
    y, _, proba = _case("binary", 0)
    weights = np.random.default_rng(1).integers(0, 3, (5, len(y))).astype(np.float64)
    together = METRICS["roc_auc"].score(weights, y, proba)
    one_by_one = [METRICS["roc_auc"].score(w.reshape(1, -1), y, proba)[0] for w in weights]
    assert together.tolist() == pytest.approx(one_by_one)
