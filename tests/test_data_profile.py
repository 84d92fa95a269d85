"""edgeml.data.profile: exact facts on handcrafted frames, target balance, leakage, real data."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from rich.console import Console

from edgeml.data import Profile, profile, read_data
from edgeml.errors import TargetError
from tests.conftest import shared

TELCO = shared("telco_churn.csv")


def _json(p: Profile) -> dict[str, object]:
    """to_dict must be strict JSON (no NaN/inf)."""
    d = p.to_dict()
    return json.loads(json.dumps(d, allow_nan=False))


# ------------------------------------------------------------------------------- column facts


def test_numeric_facts_and_iqr_outliers() -> None:
    frame = pl.DataFrame({"x": [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]})
    col = profile(frame).column("x")
    # Linear quartiles: Q1 = 3.25, Q3 = 7.75, IQR 4.5, fences -3.5 and 14.5: only 100 is out.
    assert (col.q1, col.q3, col.outliers) == (3.25, 7.75, 1)
    assert (col.mean, col.min, col.max) == (14.5, 1.0, 100.0)
    assert (col.dtype, col.distinct, col.missing, col.flags) == ("int", 10, 0, [])


def test_missing_counts_nulls_and_nan_and_skips_inf() -> None:
    frame = pl.DataFrame({"f": [1.0, None, float("nan"), float("inf"), 3.0]})
    col = profile(frame).column("f")
    assert (col.missing, col.missing_pct, col.infinite, col.distinct) == (2, 40.0, 1, 3)
    assert (col.mean, col.max) == (2.0, 3.0)  # finite values only


def test_constant_near_constant_and_id_like() -> None:
    n = 200
    frame = pl.DataFrame(
        {
            "const": ["a"] * n,
            "near": [0] * (n - 1) + [1],  # top value on 99.5% of rows
            "almost": [0] * (n - 3) + [1, 2, 3],  # 98.5%: not near-constant
            "id": list(range(n)),
            "code": [f"c{i}" for i in range(n)],
            "mostly_unique_text": [f"c{i}" for i in range(n - 5)] + ["dup"] * 5,  # 97.5% distinct
            "measure": np.linspace(0, 1, n),  # unique floats are measurements, not keys
            "when": [dt.date(2000, 1, 1) + dt.timedelta(days=i) for i in range(n)],
        }
    )
    p = profile(frame)
    flags = {c.name: c.flags for c in p.column_profiles}
    assert flags == {
        "const": ["constant"],
        "near": ["near-constant"],
        "almost": [],
        "id": ["id-like"],
        "code": ["id-like"],
        "mostly_unique_text": ["id-like"],
        "measure": [],
        "when": [],
    }
    assert p.column("near").top_share == 0.995


def test_few_unique_values_are_not_id_like() -> None:
    frame = pl.DataFrame({"name": [f"n{i}" for i in range(19)], "k": list(range(19))})
    assert not any(c.id_like for c in profile(frame).column_profiles)


def test_duplicate_rows_and_shape() -> None:
    frame = pl.DataFrame(
        {"a": [1, 1, 1, 2, 2, None, None], "b": ["x", "x", "x", "y", "z", None, None]}
    )
    p = profile(frame)
    assert (p.rows, p.columns, p.duplicate_rows) == (7, 2, 3)


def test_empty_all_null_and_columnless_frames() -> None:
    empty = profile(pl.DataFrame({"a": [], "b": []}, schema={"a": pl.Float64, "b": pl.String}))
    assert _json(empty)["column_profiles"]["a"]["missing_pct"] == 0.0  # type: ignore[index]
    assert (empty.rows, empty.duplicate_rows) == (0, 0)

    nulls = profile(
        pl.DataFrame(
            {"a": [None, None], "s": [None, None]}, schema={"a": pl.Float64, "s": pl.String}
        )
    )
    a = nulls.column("a")
    assert (a.missing, a.missing_pct, a.distinct, a.constant, a.outliers, a.mean) == (
        2, 100.0, 0, True, 0, None
    )  # fmt: skip
    assert nulls.column("s").constant
    _json(nulls)

    assert profile(pl.DataFrame()).to_dict()["column_profiles"] == {}


# ------------------------------------------------------------------------------------- target


def test_classification_balance() -> None:
    frame = pl.DataFrame({"y": ["a"] * 6 + ["b"] * 3 + [None], "x": range(10)})
    target = profile(frame, target="y").target
    assert target is not None
    assert (target.task, target.missing, target.stats) == ("classification", 1, None)
    assert target.classes == [
        {"label": "a", "count": 6, "share": 6 / 9},
        {"label": "b", "count": 3, "share": 3 / 9},
    ]


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([True, False, True], "classification"),
        ([0, 1, 2] * 5, "classification"),
        (list(range(21)), "regression"),
        ([0.5, 1.5, 2.5], "regression"),
        ([dt.date(2024, 1, 1)] * 3, None),
    ],
)
def test_task_decision(values: list[object], task: str | None) -> None:
    target = profile(pl.DataFrame({"y": values}), target="y").target
    assert target is not None and target.task == task


def test_regression_stats() -> None:
    target = profile(pl.DataFrame({"y": [1.0, 2.0, 3.0, None, 10.0]}), target="y").target
    assert target is not None and target.missing == 1
    assert target.stats == {"mean": 4.0, "std": pytest.approx(4.0825, abs=1e-4), "min": 1.0,
                            "median": 2.5, "max": 10.0}  # fmt: skip


def test_all_null_target() -> None:
    frame = pl.DataFrame(
        {"y": [None] * 4, "x": [1, 2, 3, 4]}, schema={"y": pl.String, "x": pl.Int64}
    )
    p = profile(frame, target="y")
    assert p.target is not None
    assert (p.target.task, p.target.missing, p.target.classes) == (None, 4, None)
    assert p.leakage_suspects == []
    _json(p)


def test_the_target_is_profiled_as_training_reads_it(rng: np.random.Generator) -> None:
    # "yes ", "YES" and "Yes" are one class in training and "?" no label; the profile showed
    # five classes and, against them, found no leak in a column training then named a leak.
    n = 600
    churn = rng.random(n) < 0.15
    spelt = np.where(
        churn,
        rng.choice(["Yes", "yes ", "YES"], n, p=[0.6, 0.2, 0.2]),
        rng.choice(["No", "no"], n, p=[0.8, 0.2]),
    )
    spelt[:6] = "?"
    refund = np.where(churn, "yes", "no")
    frame = pl.DataFrame({"refund": refund, "x": rng.normal(size=n), "churn": spelt})
    p = profile(frame, target="churn")
    assert p.target is not None and p.target.missing == 6
    assert [c["label"] for c in p.target.classes or []] == ["No", "Yes"]
    assert [s.column for s in p.leakage_suspects] == ["refund"]


def test_missing_target() -> None:
    with pytest.raises(TargetError, match="target column 'nope' not found; columns: a"):
        profile(pl.DataFrame({"a": [1]}), target="nope")


# ------------------------------------------------------------------------------------ leakage


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_classification_leakage(rng: np.random.Generator) -> None:
    n = 1000
    y = rng.choice(["yes", "no"], size=n, p=[0.3, 0.7])
    flipped = np.where(rng.random(n) < 0.005, y == "no", y == "yes")
    frame = pl.DataFrame(
        {
            "y": y,
            "leak_num": np.where(y == "yes", rng.uniform(10, 20, n), rng.uniform(0, 9, n)),
            "leak_cat": np.where(flipped, "A", "B"),
            "leak_missing": pl.Series(np.where(y == "yes", 1.0, np.nan)).fill_nan(None),
            "noise": rng.normal(size=n),
            "row_id": np.arange(n),  # unique: ID-like, never a suspect
            "group": rng.choice(["g1", "g2", "g3"], size=n),
        }
    )
    p = profile(frame, target="y")
    suspects = {s.column: s for s in p.leakage_suspects}
    assert set(suspects) == {"leak_num", "leak_cat", "leak_missing"}
    assert suspects["leak_num"].score >= 0.995  # one bin may straddle the class boundary
    assert 0.99 <= suspects["leak_cat"].score < 1.0
    assert suspects["leak_num"].method == "majority_accuracy"
    assert suspects["leak_num"].baseline == pytest.approx((y == "no").mean())
    assert p.column("row_id").id_like


def test_no_leakage_claimed_on_a_heavily_imbalanced_target(rng: np.random.Generator) -> None:
    n = 2000
    y = np.where(np.arange(n) < 10, "rare", "common")  # 99.5% majority
    frame = pl.DataFrame({"y": y, "noise": rng.normal(size=n), "cat": rng.choice(list("abc"), n)})
    assert profile(frame, target="y").leakage_suspects == []


def test_regression_leakage(rng: np.random.Generator) -> None:
    n = 1000
    x = rng.uniform(-1, 1, n)
    y = x**2
    frame = pl.DataFrame(
        {
            "y": y,
            "rescaled": 3 * y + 1,  # monotone: Spearman 1
            "x": x,  # not monotone, but y is a function of it: binned R² ~ 1
            "noise": rng.normal(size=n),
            "band": np.where(x > 0, "pos", "neg"),
        }
    )
    suspects = {s.column: s for s in profile(frame, target="y").leakage_suspects}
    assert set(suspects) == {"rescaled", "x"}
    assert (suspects["rescaled"].method, suspects["rescaled"].score) == ("spearman", 1.0)
    assert suspects["x"].method == "binned_r2"
    assert suspects["x"].score >= 0.99


def test_constant_target_has_no_suspects() -> None:
    frame = pl.DataFrame({"y": [1.5] * 50, "x": np.arange(50) / 7})
    assert profile(frame, target="y").leakage_suspects == []


# ------------------------------------------------------------------------------- real dataset


@pytest.fixture(scope="module")
def telco() -> pl.DataFrame:
    return read_data(TELCO, keep_raw=["churn"]).frame


def test_telco_profile(telco: pl.DataFrame) -> None:
    p = profile(telco, target="churn")
    d = _json(p)
    assert (d["rows"], d["columns"]) == (7043, 20)
    charges = d["column_profiles"]["total_charges"]  # type: ignore[index]
    assert (charges["dtype"], charges["missing"]) == ("float", 11)
    assert d["target"]["classes"] == [  # type: ignore[index]
        {"label": "No", "count": 5174, "share": 5174 / 7043},
        {"label": "Yes", "count": 1869, "share": 1869 / 7043},
    ]
    assert p.duplicate_rows == telco.height - telco.unique().height
    assert d["leakage_suspects"] == []
    assert not any(c.id_like or c.constant for c in p.column_profiles)


def test_telco_planted_leak_and_id(telco: pl.DataFrame) -> None:
    frame = telco.with_columns(
        cancelled=pl.col("churn") == "Yes",
        customer_id=pl.format("C{}", pl.int_range(pl.len())),
    )
    p = profile(frame, target="churn")
    assert [(s.column, s.score) for s in p.leakage_suspects] == [("cancelled", 1.0)]
    assert p.column("customer_id").id_like


def test_render(telco: pl.DataFrame) -> None:
    frame = telco.with_columns(cancelled=pl.col("churn") == "Yes")
    console = Console(record=True, width=140)
    profile(frame, target="churn").render(console)
    text = console.export_text()
    for expected in (
        "column", "missing %", "outliers", "flags", "total_charges", "leak?",
        "duplicate rows: 22", "No 73.5% (5,174)", "leakage suspects: cancelled",
    ):  # fmt: skip
        assert expected in text, expected


def test_binary_columns_have_no_outliers():
    frame = pl.DataFrame({"flag": [0] * 90 + [1] * 10, "x": [1.0] * 50 + [2.0] * 49 + [500.0]})
    facts = profile(frame)
    assert facts.column("flag").outliers == 0
    assert facts.column("x").outliers == 1
