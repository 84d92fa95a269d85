"""Monitoring baselines agree with numpy.histogram and cope with missing and constant features."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edgeml.pipeline._baselines import feature_histograms


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 300), st.integers(1, 3))))
def test_counts_match_numpy_histogram(matrix):
    names = [f"f{j}" for j in range(matrix.shape[1])]
    result = feature_histograms(matrix, names)
    for j, name in enumerate(names):
        column = matrix[:, j]
        finite = column[np.isfinite(column)]
        entry = result[name]
        assert entry["missing"] == (float(np.isnan(column).mean()) if len(column) else 0.0)
        if entry["kind"] == "values":  # at most ten distinct values, all finite: one bucket each
            assert len(entry["values"]) <= 10 and finite.size == np.count_nonzero(~np.isnan(column))
            assert entry["values"] == np.unique(finite).tolist()
            assert entry["counts"] == [int(np.sum(finite == v)) for v in entry["values"]]
        elif finite.size == 0:
            assert entry["edges"] == [] and entry["counts"] == []
        elif len(entry["edges"]) == 1:
            assert entry["counts"] == [finite.size]
        else:
            expected, _ = np.histogram(finite, bins=np.array(entry["edges"]))
            assert entry["counts"] == expected.tolist()


def test_large_inputs_sample_edges_but_count_every_row():
    matrix = np.random.default_rng(1).exponential(size=(60_000, 1))
    entry = feature_histograms(matrix, ["x"])["x"]
    assert sum(entry["counts"]) == 60_000
    assert entry["edges"][0] == matrix.min() and entry["edges"][-1] == matrix.max()
    assert max(entry["counts"]) < 0.12 * 60_000  # near-equal quantile bins


def test_the_prediction_baseline_is_the_holdouts_output(trained_bundle, tmp_path):
    import json

    import polars as pl

    import edgeml
    import edgeml.runtime
    from tests.conftest import churn_like

    manifest = json.loads((trained_bundle / "manifest.json").read_text())
    baseline = manifest["monitoring"]["prediction"]
    assert baseline["kind"] == "numeric"
    assert sum(baseline["counts"]) == manifest["metrics"]["rows"]["holdout"]
    assert 0.0 <= baseline["edges"][0] <= baseline["edges"][-1] <= 1.0

    frame = churn_like(300).with_columns(
        pl.Series("band", ["a", "b", "c"] * 100)  # a three-class target
    )
    data = tmp_path / "three.csv"
    frame.drop("churn").write_csv(data)
    bundle = edgeml.train(
        data,
        target="band",
        out=tmp_path / "band.edgeml",
        holdout=0.0,
        cv_folds=0,
        id_cols=["customer_id"],
    ).bundle
    classes = json.loads((bundle / "manifest.json").read_text())["monitoring"]["prediction"]
    assert classes["kind"] == "classes" and len(classes["counts"]) == 3
    assert sum(classes["counts"]) == 300  # no holdout: every training row
    predicted = edgeml.runtime.load(bundle).predict(
        {c: frame[c].to_list() for c in edgeml.runtime.load_prep(bundle).input_schema}
    )["prediction"]
    assert classes["counts"] == [int((predicted == c).sum()) for c in ["a", "b", "c"]]
