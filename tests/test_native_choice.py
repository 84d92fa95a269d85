"""Export's choice between the walk and QuickScorer, with the timings injected: a fake engine
whose calls advance a fake clock by a cost model, so no test depends on this machine's speed."""

from __future__ import annotations

import numpy as np
import pytest

from edgeml.compile._native_choice import PASSES, decide, measure


class FakeEngine:
    """Single rows cost ``row_us[algorithm]`` each, batches ``batch_us[algorithm]`` a row; the
    first ``cold_calls`` single rows after a batch or after the other algorithm cost
    ``cold_us[algorithm]`` more (its tables out of the caches: QuickScorer's are the larger)."""

    def __init__(self, row_us, batch_us, cold_us, cold_calls=50):
        self.row_us, self.batch_us, self.cold_us = row_us, batch_us, cold_us
        self.cold_calls = cold_calls
        self.now = 0.0
        self.algorithm = "walk"
        self.cold = 0
        self.order: list[str] = []

    def clock(self) -> float:
        return self.now / 1e6

    def set_algorithm(self, *, row: str, batch: str) -> bool:
        assert row == batch
        if row != self.algorithm:
            self.cold = self.cold_calls
        self.algorithm = row
        self.order.append(row)
        return True

    def predict_one(self, features):
        self.now += self.row_us[self.algorithm]
        if self.cold:
            self.now += self.cold_us[self.algorithm]
            self.cold -= 1
        return [0.0]

    def predict(self, inputs):
        self.now += self.batch_us[self.algorithm] * len(inputs)
        self.cold = self.cold_calls
        return np.zeros(len(inputs))


def rows(n: int = 500) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 4))


def test_single_rows_are_timed_warm_not_right_after_a_batch():
    # QuickScorer's single rows take 9 µs against the walk's 10 once warm, but its first 50
    # calls after a batch take 20 µs more (the walk's 5): timed straight after a batch over 200
    # rows it looked 14.0 against 11.25 µs and lost; timed after a warm-up it wins
    engine = FakeEngine(
        row_us={"walk": 10.0, "quickscorer": 9.0},
        batch_us={"walk": 6.0, "quickscorer": 1.5},
        cold_us={"walk": 5.0, "quickscorer": 20.0},
    )
    chosen = decide(measure(engine, rows(), clock=engine.clock))
    assert chosen["row_us"] == {"walk": 10.0, "quickscorer": 9.0}
    assert chosen["ratio"] == {"row": 0.9, "batch": 0.25}
    assert (chosen["row"], chosen["batch"]) == ("quickscorer", "quickscorer")


def test_each_algorithm_goes_first_in_half_of_the_passes():
    engine = FakeEngine({"walk": 1.0, "quickscorer": 1.0}, {"walk": 1.0, "quickscorer": 1.0},
                        {"walk": 0.0, "quickscorer": 0.0})  # fmt: skip
    times = measure(engine, rows(), clock=engine.clock)
    assert PASSES % 2 == 0
    assert all(len(v) == PASSES for kind in times.values() for v in kind.values())
    # per pass: both algorithms' single rows, then both batches, in the pass's order
    firsts = engine.order[::4]
    assert firsts.count("walk") == firsts.count("quickscorer") == PASSES // 2


@pytest.mark.parametrize(
    ("row_ratio", "batch_ratio", "expected"),
    [
        (0.96, 0.5, ("walk", "quickscorer")),  # a near tie keeps the walk
        (0.94, 1.2, ("quickscorer", "walk")),
        (1.0, 1.0, ("walk", "walk")),
    ],
)
def test_decide_needs_a_clear_margin_for_each_kind(row_ratio, batch_ratio, expected):
    times = {
        "row": {"walk": [10.0] * 4, "quickscorer": [10.0 * row_ratio] * 4},
        "batch": {"walk": [2.0] * 4, "quickscorer": [2.0 * batch_ratio] * 4},
    }
    chosen = decide(times)
    assert (chosen["row"], chosen["batch"]) == expected


def test_a_median_win_that_does_not_hold_pass_after_pass_keeps_the_walk():
    # a tie at load 5 (the real 10-class model's single rows, one run of six): the median
    # paired ratio 0.84, but QuickScorer the faster in only 6 of 8 passes
    ratios = [0.726, 0.800, 0.808, 0.826, 0.858, 0.953, 1.080, 1.207]
    times = {
        "row": {"walk": [10.0] * 8, "quickscorer": [10.0 * r for r in ratios]},
        "batch": {"walk": [2.0] * 8, "quickscorer": [0.4] * 7 + [2.2]},
    }
    chosen = decide(times)
    assert chosen["ratio"]["row"] < 0.95 and chosen["wins"] == {"row": 6, "batch": 7}
    assert (chosen["row"], chosen["batch"]) == ("walk", "quickscorer")


# -- which walk QuickScorer's single rows are timed against ------------------------------------


@pytest.fixture(scope="module")
def core():
    from edgeml.compile._native import core_library
    from edgeml.runtime._native_backend import open_core

    return open_core(core_library()[0])


@pytest.fixture(scope="module")
def shallow():
    """Trees of depth at most 3 (mean below EDGEML_FOREST_REFILL_DEPTH): a narrow forest with
    a QuickScorer section, which edgeml_forest_open keeps in groups (as it kept the real
    10-class model, mean depth 10.75, and 2,000 trees of depth 4 under the rule of 14)."""
    import lightgbm as lgb

    from edgeml.compile._forest import parse_model
    from edgeml.compile._native_tables import forest_tables

    x = rows(2000)
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(float)
    params = {"objective": "binary", "num_leaves": 8, "max_depth": 3, "verbosity": -1}
    booster = lgb.train(params, lgb.Dataset(x, y), 60)
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert tables.narrow and tables.qs is not None and tables.trees[:, 1].max() <= 3
    return booster, tables


def test_single_rows_walk_the_chains_whatever_the_depth(core, shallow):
    from edgeml.compile._native_tables import pack
    from edgeml.runtime._native_backend import NativeBackend

    booster, tables = shallow
    blob = pack(tables)
    engine = NativeBackend(core, blob, source="shallow")
    assert engine._chain is not None and engine.row_walk == "chains"
    # without the chains the depth rule keeps the groups (the refilling lanes' checkpoints
    # cost shallow trees more than they save); either can still be asked for
    assert NativeBackend(core, blob, source="shallow", chains=False).row_walk == "groups"
    x = rows(300)
    for row, walk in (("walk-groups", "groups"), ("quickscorer", "quickscorer"),
                      ("walk-refill", "chains")):  # fmt: skip
        assert engine.set_algorithm(row=row, batch="walk") and engine.row_walk == walk
        ones = np.array([engine.predict_one(r)[0] for r in x])
        assert np.array_equal(ones, booster.predict(x)), walk


def test_export_times_quickscorer_against_the_walk_a_bundle_runs(core, shallow):
    from itertools import count

    from edgeml.compile._native_choice import choose

    ticks = count()  # a clock that advances by one per reading: no time is measured
    _, info = choose(core, shallow[1], rows(400), clock=lambda: float(next(ticks)))
    assert info["walk"] == "chains"  # not the groups edgeml_forest_open's depth rule keeps
    assert info["row"] == "walk" and info["wins"]["row"] == 0  # equal ticks: a tie


def test_trees_of_mean_depth_4_and_more_refill_without_chains(core):
    # the refilling lanes lose to groups only on stumps and depth 2 (kernels/edgeml_forest_open.c)
    import lightgbm as lgb

    from edgeml.compile._forest import parse_model
    from edgeml.compile._native_tables import forest_tables, pack
    from edgeml.runtime._native_backend import NativeBackend

    x = rows(2000)
    y = x[:, 0] + x[:, 1] * x[:, 2]
    booster = lgb.train({"num_leaves": 24, "max_depth": 6, "verbosity": -1}, lgb.Dataset(x, y), 40)
    tables = forest_tables(parse_model(booster.model_to_string()))
    assert 4 <= tables.trees[:, 1].mean() < 14
    for layout in ("narrow", "compact"):
        blob = pack(replace_layout(tables, layout))
        engine = NativeBackend(core, blob, source=layout, chains=False)
        assert engine.row_walk == "refill", layout
        ones = np.array([engine.predict_one(r)[0] for r in x[:300]])
        assert np.array_equal(ones, booster.predict(x[:300])), layout


def replace_layout(tables, layout: str):
    from dataclasses import replace

    return replace(tables, narrow=layout == "narrow")
