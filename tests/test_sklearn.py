"""edgeml.sklearn: scikit-learn's own estimator checks; a fitted estimator is an edgeml bundle."""

from __future__ import annotations

import gc
import pickle
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

import edgeml.runtime
from edgeml.sklearn import Classifier, Regressor
from tests.conftest import churn_like

# Few rounds: the checks fit a few hundred small models. None is expected to fail today; a
# check that must fail is listed here with the reason, as scikit-learn asks.
ESTIMATORS = [Classifier(num_boost_round=10), Regressor(num_boost_round=10)]
EXPECTED_FAILED: dict[str, dict[str, str]] = {"Classifier": {}, "Regressor": {}}


@pytest.mark.slow
@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=lambda e: EXPECTED_FAILED[type(e).__name__]
)
def test_sklearn_checks(estimator, check):
    check(estimator)


def test_a_polars_frame_keeps_its_strings_and_labels(tmp_path):
    frame = churn_like(400)
    X, y = frame.drop("churn", "customer_id"), frame["churn"]
    clf = Classifier(num_boost_round=30, bundle=tmp_path / "churn.edgeml").fit(X, y)
    assert clf.classes_.tolist() == ["No", "Yes"]
    assert clf.feature_names_in_.tolist() == X.columns
    proba = clf.predict_proba(X)
    assert proba.shape == (400, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= {"No", "Yes"} and clf.score(X, y) > 0.7
    # The fitted estimator is a bundle the device runtime reads: same probabilities.
    runtime = edgeml.runtime.load(tmp_path / "churn.edgeml", backend="lightgbm")
    rows = X.head(5).to_dict(as_series=False)
    expected = runtime.predict(rows)["proba_Yes"]
    assert np.allclose(proba[:5, 1], expected, atol=1e-12)
    with pytest.raises(ValueError, match="fitted on"):
        clf.predict(X.drop("tenure"))


def test_labels_of_any_kind_come_back_as_given():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = np.array([10, 20, 30])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)]
    clf = Classifier(num_boost_round=40).fit(X, y)
    assert clf.classes_.tolist() == [10, 20, 30]
    assert (clf.predict(X) == y).mean() > 0.9


def test_grid_search_clones_and_sets_params():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] * 3 + rng.normal(scale=0.1, size=200)
    search = GridSearchCV(Regressor(), {"num_boost_round": [5, 60]}, cv=2).fit(X, y)
    assert search.best_params_ == {"num_boost_round": 60}
    assert clone(search.best_estimator_).get_params()["num_boost_round"] == 60


def test_a_pickled_estimator_predicts_in_another_process(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = Classifier(num_boost_round=20).fit(X, y)
    blob = tmp_path / "clf.pkl"
    blob.write_bytes(pickle.dumps(clf))
    np.save(tmp_path / "X.npy", X[:7])
    bundle = clf.bundle_
    del clf  # its temporary bundle goes with it: the pickle must carry its own
    gc.collect()
    assert not bundle.exists()
    script = (
        "import pickle, sys, numpy as np; "
        "clf = pickle.loads(open(sys.argv[1], 'rb').read()); "
        "print(clf.predict_proba(np.load(sys.argv[2]))[:, 1].round(6).tolist())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(blob), str(tmp_path / "X.npy")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    again = pickle.loads(blob.read_bytes())
    assert out.stdout.strip() == str(again.predict_proba(X[:7])[:, 1].round(6).tolist())


def test_a_regressor_on_a_frame_with_a_null():
    frame = pl.DataFrame({"a": [1.0, 2.0, None, 4.0] * 50, "b": ["x", "y", "x", "y"] * 50})
    y = np.arange(200, dtype=float)
    reg = Regressor(num_boost_round=10).fit(frame, y)
    assert reg.predict(frame).shape == (200,)
