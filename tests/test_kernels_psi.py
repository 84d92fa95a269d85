"""PSI, the one implementation (edgeml.metrics.drift, and the Numba binning kernel that feeds it),
against a plain-Python reference written here from the definitions: bucket by bucket, value by
value, on inputs with NaN, ±inf, nothing and a single row. tests/test_kernels_nojit.py runs this
file again with the JIT off."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edgeml import kernels
from edgeml.errors import BundleError, DataError
from edgeml.metrics.drift import (
    MAX_VALUES,
    PSI_EPSILON,
    buckets,
    category_baseline,
    feature_psi,
    numeric_baseline,
    psi_from_counts,
    quantile_baseline,
)
from tests.kernels_reference import EXAMPLES

SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0])
numbers = st.one_of(st.floats(-1e6, 1e6, allow_nan=False, width=64), SPECIAL)
columns = arrays(np.float64, st.integers(0, 120), elements=numbers)
small_ints = arrays(
    np.float64, st.integers(0, 120), elements=st.one_of(st.integers(-2, 12).map(float), SPECIAL)
)
texts = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "A", "a ", "", "zz"])))


def reference_psi(expected: list[float], actual: list[float]) -> float:
    """Σ (a - e)·ln(a / e) over shares, a share below PSI_EPSILON (empty) counting as it."""
    e_total, a_total = sum(expected), sum(actual)
    if e_total <= 0 or a_total <= 0:
        return math.nan
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        p = max(e / e_total, PSI_EPSILON)
        q = max(a / a_total, PSI_EPSILON)
        total += (q - p) * math.log(q / p)
    return total


def reference_quantile(baseline: dict, values: np.ndarray) -> tuple[list[float], list[float]]:
    """Training and live counts per bucket, one value at a time (missing last)."""
    edges, counts, missing = baseline["edges"], baseline["counts"], baseline["missing"]
    live = [0.0] * (max(len(edges) - 1, 1) + 1)
    for v in values.tolist():
        if math.isnan(v):
            live[-1] += 1
            continue
        k = 0
        for edge in edges[1:-1]:  # the bin: how many interior edges are <= v
            if edge <= v:
                k += 1
        live[k] += 1
    # no finite training value: one "any value" bucket
    train = [float(c) for c in counts] if edges else [0.0 if sum(counts) == 0 else 1.0]
    total = sum(train)
    train = [c / total * (1 - missing) if total else 0.0 for c in train] + [missing]
    return train, live


def same(ours: float, reference: float) -> None:
    if math.isnan(reference):
        assert math.isnan(ours)
    else:
        assert ours >= 0.0
        assert ours == pytest.approx(reference, rel=1e-9, abs=1e-12)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_psi_from_counts_equals_the_reference(data):
    size = data.draw(st.integers(1, 12))
    count = st.one_of(st.integers(0, 1000).map(float), st.floats(0, 1e3), st.just(0.0))
    expected = data.draw(st.lists(count, min_size=size, max_size=size))
    actual = data.draw(st.lists(count, min_size=size, max_size=size))
    same(psi_from_counts(expected, actual), reference_psi(expected, actual))
    same(kernels.psi_from_counts(expected, actual), reference_psi(expected, actual))


@settings(max_examples=EXAMPLES, deadline=None)
@given(columns, columns)
def test_quantile_psi_equals_the_reference(train, live):
    baseline = quantile_baseline(train)
    assert baseline["kind"] == "quantiles"
    reference_train, reference_live = reference_quantile(baseline, live)
    found = buckets(baseline, live)
    assert found.rows == live.size
    np.testing.assert_allclose(found.train, reference_train, rtol=1e-12, atol=1e-15)
    if live.size:
        np.testing.assert_allclose(found.live * live.size, reference_live, rtol=1e-12)
        assert found.missing == pytest.approx(np.isnan(live).mean())
    same(found.psi, reference_psi(reference_train, reference_live) if live.size else math.nan)


@settings(max_examples=EXAMPLES, deadline=None)
@given(columns, columns)
def test_the_binning_kernel_agrees(train, live):
    """kernels.psi (Numba binning on cut points, NaN its own bin) is the reference's PSI on
    the same cut points when training has no missing value."""
    train = train[~np.isnan(train)]
    cuts = kernels.quantile_edges(train, 10)
    edges = [-math.inf, *cuts.tolist(), math.inf] if cuts.size else []
    counts = kernels.bin_counts(train, cuts)[:-1].tolist() if cuts.size else [train.size]
    baseline = {"edges": edges, "counts": counts, "missing": 0.0}
    if not cuts.size:
        return
    reference_train, reference_live = reference_quantile(baseline, live)
    same(kernels.psi(train, live, cuts), reference_psi(reference_train, reference_live))


@settings(max_examples=EXAMPLES, deadline=None)
@given(small_ints, small_ints)
def test_value_psi_equals_the_reference(train, live):
    baseline = numeric_baseline(train)
    distinct = np.unique(train[~np.isnan(train)])
    if baseline["kind"] != "values":
        assert distinct.size > MAX_VALUES or np.isinf(train).any() or distinct.size == 0
        return
    known = baseline["values"]
    assert known == distinct.tolist()
    reference_train = [*(float(np.sum(train == v)) for v in known), 0.0]
    missing = float(np.isnan(train).mean())
    reference_train = [c / (sum(reference_train)) * (1 - missing) for c in reference_train]
    reference_train.append(missing)
    reference_live = [0.0] * (len(known) + 2)
    for v in live.tolist():
        if math.isnan(v):
            reference_live[-1] += 1
        elif v in known:
            reference_live[known.index(v)] += 1
        else:
            reference_live[-2] += 1  # never seen in training: "other"
    found = buckets(baseline, live)
    np.testing.assert_allclose(found.train, reference_train, rtol=1e-12, atol=1e-15)
    assert found.unseen == reference_live[-2]
    same(found.psi, reference_psi(reference_train, reference_live) if live.size else math.nan)


@settings(max_examples=EXAMPLES, deadline=None)
@given(texts, texts)
def test_category_psi_equals_the_reference(train, live):
    vocabulary = ["a", "b", "c"]
    baseline = category_baseline("x", vocabulary, train)
    reference_train = [float(train.count(c)) for c in vocabulary]
    reference_train.append(float(sum(t is not None and t not in vocabulary for t in train)))
    missing = train.count(None) / len(train) if train else 0.0
    total = sum(reference_train)
    reference_train = [c / total * (1 - missing) if total else 0.0 for c in reference_train]
    reference_train.append(missing)
    reference_live = [float(live.count(c)) for c in vocabulary]
    reference_live.append(float(sum(t is not None and t not in vocabulary for t in live)))
    reference_live.append(float(live.count(None)))
    found = buckets(baseline, live)
    np.testing.assert_allclose(found.train, reference_train, rtol=1e-12, atol=1e-15)
    assert found.unseen == reference_live[-2]  # "A" and "a " are not "a": categories never merge
    same(found.psi, reference_psi(reference_train, reference_live) if live else math.nan)


def test_empty_and_single_rows():
    base = quantile_baseline(np.arange(100.0))
    assert math.isnan(feature_psi(base, np.array([])))
    assert buckets(base, np.array([])).rows == 0
    one = buckets(base, np.array([50.0]))
    assert one.rows == 1 and one.psi > 0 and one.missing == 0.0
    assert math.isnan(feature_psi(quantile_baseline(np.array([])), np.array([1.0])))  # no training
    single = quantile_baseline(np.array([3.0]))
    assert single["edges"] == [3.0] and single["counts"] == [1]
    assert numeric_baseline(np.array([3.0]))["kind"] == "values"
    assert feature_psi(numeric_baseline(np.array([3.0])), np.array([3.0])) == 0.0
    assert feature_psi(numeric_baseline(np.array([np.nan])), np.array([np.nan])) == 0.0
    assert math.isnan(psi_from_counts([], []))


def test_identical_samples_have_zero_psi_and_bad_input_is_named():
    x = np.random.default_rng(0).normal(size=500)
    assert feature_psi(quantile_baseline(x), x) == pytest.approx(0.0, abs=1e-12)
    flags = (x > 1).astype(float)
    assert feature_psi(numeric_baseline(flags), flags) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(DataError, match="bins"):
        psi_from_counts([1, 2], [1])
    with pytest.raises(DataError, match="non-negative"):
        psi_from_counts([1, -1], [1, 1])
    with pytest.raises(DataError, match="non-negative"):
        psi_from_counts([1, math.inf], [1, 1])
    with pytest.raises(BundleError, match="kind"):
        buckets({"kind": "histogram"}, [1.0])
    with pytest.raises(BundleError, match="counts"):
        buckets({"kind": "values", "values": [0.0, 1.0], "counts": [1]}, [1.0])
    with pytest.raises(BundleError, match="not a number"):
        buckets({"edges": ["a", "b"], "counts": [1]}, [1.0])
