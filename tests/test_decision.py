"""Decision thresholds and calibration: chosen out of fold, stored, applied by every executor."""

import numpy as np
import polars as pl
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import f1_score, precision_recall_curve

import edgeml
import edgeml.runtime
from edgeml.compile import export
from edgeml.config import Config, parse_decision
from edgeml.errors import ConfigError
from edgeml.learn import choose_threshold, fit_calibration
from edgeml.runtime import Post
from tests.conftest import churn_like


def _scores(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.15).astype(int)
    p = np.clip(rng.normal(0.25 + 0.35 * y, 0.15), 0.001, 0.999)
    return y, p


def test_f1_threshold_is_the_best_f1_of_all_thresholds():
    y, p = _scores()
    choice = choose_threshold(y, p, rule="f1")
    best = max(f1_score(y, p > t) for t in np.unique(p))
    assert choice.at["f1"] == pytest.approx(best)
    assert f1_score(y, p > choice.threshold) == pytest.approx(best)


def test_precision_target_gives_the_highest_recall_reaching_it():
    y, p = _scores()
    choice = choose_threshold(y, p, rule="precision", value=0.8)
    precision, recall, _ = precision_recall_curve(y, p)
    # sklearn's curve predicts p >= t; ours p > midpoint: the same sets of positives
    reachable = recall[:-1][precision[:-1] >= 0.8]
    assert choice.at["precision"] >= 0.8
    assert choice.at["recall"] == pytest.approx(reachable.max())


def test_recall_cost_balanced_and_fixed_rules():
    y, p = _scores()
    recall = choose_threshold(y, p, rule="recall", value=0.9)
    assert recall.at["recall"] >= 0.9
    assert ((p > recall.threshold) & (y == 1)).sum() / y.sum() == pytest.approx(recall.at["recall"])
    cheap_fn = choose_threshold(y, p, rule="cost", cost_fp=1.0, cost_fn=10.0)
    cheap_fp = choose_threshold(y, p, rule="cost", cost_fp=10.0, cost_fn=1.0)
    assert cheap_fn.threshold < cheap_fp.threshold
    balanced = choose_threshold(y, p, rule="balanced")
    tpr = ((p > balanced.threshold) & (y == 1)).sum() / y.sum()
    fpr = ((p > balanced.threshold) & (y == 0)).sum() / (y == 0).sum()
    for t in np.unique(p):
        other = ((p > t) & (y == 1)).sum() / y.sum() - ((p > t) & (y == 0)).sum() / (y == 0).sum()
        assert tpr - fpr >= other - 1e-12
    assert choose_threshold(y, p, rule="fixed", value=0.42).threshold == 0.42


def test_unreachable_precision_names_the_best_reachable_value():
    y = np.array([0, 1, 0, 1, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    with pytest.raises(ConfigError, match=r"precision>=0.99 .* best reachable precision is 0\.5"):
        choose_threshold(y, p, rule="precision", value=0.99)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("f1", ("f1", None)),
        ("balanced", ("balanced", None)),
        ("cost", ("cost", None)),
        ("precision>=0.9", ("precision", 0.9)),
        ("recall >= 0.75", ("recall", 0.75)),
        ("0.5", ("fixed", 0.5)),
        (0.3, ("fixed", 0.3)),
    ],
)
def test_decision_key_accepts_the_rules(value, parsed):
    config = Config.from_dict({"train": {"decision": value}})
    rule, number = parse_decision(config.train.decision)
    assert rule == parsed[0]
    assert np.isnan(number) if parsed[1] is None else number == parsed[1]


@pytest.mark.parametrize("value", ["f2", "precision>=1.5", 1.0, 0, "recall>0.5", True])
def test_decision_key_rejects_anything_else(value):
    expected = r"expected float, got True" if value is True else r"expected one of: f1, balanced"
    with pytest.raises(ConfigError, match=rf"\[train\] decision: .*{expected}"):
        Config.from_dict({"train": {"decision": value}}, source="edgeml.toml")


def test_calibration_key_is_validated():
    with pytest.raises(ConfigError, match="calibration: 'beta' is not allowed"):
        Config.from_dict({"train": {"calibration": "beta"}})


def test_isotonic_table_interpolates_like_sklearn():
    y, p = _scores(seed=3)
    post = fit_calibration("isotonic", y, p)
    fitted = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, y)
    probe = np.r_[np.linspace(-0.1, 1.1, 997), p]
    assert np.allclose(post.calibrate(probe), fitted.predict(probe), atol=1e-12)
    one = np.array([post.calibrate_one(float(v)) for v in probe])
    assert np.array_equal(one, post.calibrate(probe))


def test_platt_fixes_an_over_confident_model():
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.02, 0.98, 5000)
    y = (rng.random(5000) < truth).astype(int)
    logit = np.log(truth / (1 - truth))
    p = 1 / (1 + np.exp(-3 * logit))  # three times too sure
    post = fit_calibration("platt", y, p)
    assert post.a == pytest.approx(1 / 3, rel=0.1)
    assert np.mean((post.calibrate(p) - y) ** 2) < np.mean((p - y) ** 2)
    one = np.array([post.calibrate_one(float(v)) for v in p[:200]])
    assert np.allclose(one, post.calibrate(p[:200]), rtol=0, atol=1e-15)


def _imbalanced(n=1500, seed=0):
    frame = churn_like(n=n, seed=seed)
    # a rare positive class: 'Yes' only where churn-like logit is high
    rng = np.random.default_rng(seed)
    keep = (frame["churn"] == "No") | pl.Series(rng.random(n) < 0.3)
    return frame.filter(keep)


@pytest.fixture(scope="module")
def calibrated_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("decision") / "m.edgeml"
    return edgeml.train(
        _imbalanced(), target="churn", out=out, id_cols=["customer_id"], calibration="isotonic"
    ).bundle


def test_default_threshold_maximises_out_of_fold_f1_for_a_rare_class(calibrated_bundle):
    model = edgeml.load(calibrated_bundle)
    decision = model.manifest["decision"]
    assert decision["rule"] == "f1"
    assert decision["reason"].startswith("default: the minority class 'Yes' is ")
    assert decision["threshold"] != 0.5
    assert model.manifest["calibration"]["method"] == "isotonic"
    curve = decision["curve"]
    # isotonic calibration leaves as many thresholds as it has steps: a handful on 1,065 rows
    assert len(curve["threshold"]) == len(curve["precision"]) == len(curve["recall"]) >= 5
    pairs = zip(curve["precision"], curve["recall"], strict=True)
    f1 = [2 * p * r / (p + r) if p + r else 0.0 for p, r in pairs]
    assert decision["threshold"] == pytest.approx(curve["threshold"][f1.index(max(f1))], abs=1e-5)
    frame = churn_like(n=400, seed=9)
    predicted = model.predict(frame)
    positive = predicted["proba_Yes"].to_numpy() > decision["threshold"]
    assert (predicted["prediction"] == "Yes").to_numpy().tolist() == positive.tolist()


def test_every_runtime_backend_applies_the_same_calibration_and_threshold(
    calibrated_bundle, tmp_path
):
    import shutil

    bundle = tmp_path / "m.edgeml"
    shutil.copytree(calibrated_bundle, bundle)
    export(bundle, format="treelite")
    frame = churn_like(n=300, seed=11)
    expected = edgeml.load(bundle).predict(frame)
    rows = frame.drop("churn").to_dicts()
    for backend in ("treelite", "lightgbm"):
        predictor = edgeml.runtime.load(bundle, backend=backend)
        batch = predictor.predict({c: frame[c].to_list() for c in predictor.input_schema})
        assert batch["prediction"].tolist() == expected["prediction"].to_list()
        assert np.allclose(batch["proba_Yes"], expected["proba_Yes"], rtol=0, atol=1e-6)
        singles = [predictor.predict_row(row) for row in rows]
        assert [s["prediction"] for s in singles] == expected["prediction"].to_list()
        assert np.allclose([s["proba_Yes"] for s in singles], expected["proba_Yes"], atol=1e-6)


def test_evaluate_scores_at_the_threshold_and_states_it(calibrated_bundle):
    model = edgeml.load(calibrated_bundle)
    frame = churn_like(n=400, seed=12)
    report = model.evaluate(frame)
    predicted = model.predict(frame)
    y = (frame["churn"] == "Yes").to_numpy()
    expected = f1_score(y, (predicted["prediction"] == "Yes").to_numpy())
    assert report["metrics"]["f1"] == pytest.approx(expected)
    proba = predicted["proba_Yes"].to_numpy()
    assert report["metrics"]["brier"] == pytest.approx(np.mean((proba - y) ** 2))
    assert report["decision"]["threshold"] == model.manifest["decision"]["threshold"]
    assert report["calibration"] == {"method": "isotonic"}


def test_a_fixed_decision_is_used_as_given(tmp_path):
    result = edgeml.train(churn_like(n=300), target="churn", out=tmp_path / "m.edgeml",
                          decision="0.7", cv_folds=2)  # fmt: skip
    assert result.manifest["decision"]["threshold"] == 0.7
    assert result.manifest["decision"]["reason"] == "[train] decision = '0.7'"
    assert result.to_dict()["decision"]["threshold"] == 0.7


def test_unreachable_precision_target_stops_training(tmp_path):
    rng = np.random.default_rng(0)
    # labels independent of the one two-valued feature: no group of rows is all positive
    frame = pl.DataFrame(
        {"id": range(400), "x": rng.integers(0, 2, 400), "y": rng.random(400) < 0.3}
    )
    with pytest.raises(ConfigError, match=r"precision>=0.95 .* best reachable precision is 0\.\d+"):
        edgeml.train(frame, target="y", out=tmp_path / "m.edgeml", id_cols=["id"],
                     decision="precision>=0.95", cv_folds=2)  # fmt: skip


def test_decision_needs_a_binary_target_and_cv_folds(tmp_path):
    frame = churn_like(n=200).with_columns(pl.col("tenure").cast(pl.Float64).alias("t"))
    with pytest.raises(ConfigError, match="apply to binary targets; 't' is a regression target"):
        edgeml.train(frame.drop("churn"), target="t", out=tmp_path / "r.edgeml", decision="f1")
    with pytest.raises(ConfigError, match="cv_folds to 2 or more"):
        edgeml.train(churn_like(n=200), target="churn", out=tmp_path / "b.edgeml",
                     calibration="platt", cv_folds=0)  # fmt: skip


def test_post_of_a_bundle_without_decision_is_the_argmax():
    post = Post.from_dict({"method": "none"})
    output = np.array([[0.5, 0.5], [0.4, 0.6], [0.7, 0.3]])
    assert post.decide(output)[1].tolist() == [0, 1, 0]


def test_report_draws_the_threshold_curve_and_reliability(calibrated_bundle, tmp_path):
    from edgeml.evaluate import report

    out = report(calibrated_bundle, tmp_path / "r.html", data=churn_like(n=300, seed=13))
    html = out.read_text()
    assert 'id="threshold"' in html and 'id="reliability"' in html
    threshold = edgeml.load(calibrated_bundle).manifest["decision"]["threshold"]
    assert f"probability is above {threshold:.4g}" in html
    assert "calibration: isotonic" in html
