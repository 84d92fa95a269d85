"""The defaults sweep of bench_quality.py (``--sweep``): which learning rate, leaves and minimum
rows per leaf edgeml trains with by default, chosen on the shared datasets and recorded.

Every setting of :data:`GRID` goes through edgeml's default training (rounds from the 5 CV
folds' best iterations, refit on all training rows) on the quality bench's 80/20 split, and is
scored on the 20% beside plain LightGBM. A dataset with a time column (chicago_ridership) has its
auto features fitted once, at the current defaults, and every setting trains on them
(:func:`with_fixed_features`): the feature selection is what makes that dataset's run slow, and
the grid is about the booster, not the selection.

The rule (:func:`choose`): among the settings no worse than plain LightGBM − ``tolerance`` on
any dataset, the best mean rank of the primary metric over the datasets; the current default
wins ties.

>>> scores = {"a": {"plain": 0.90, "settings": {"x": 0.91, "y": 0.92}},
...           "b": {"plain": 0.80, "settings": {"x": 0.81, "y": 0.79}}}
>>> choose(scores, current="x", tolerance=0.002)
'x'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import edgeml
from edgeml.config import Config
from edgeml.features import apply_features, fit_features, history_target
from edgeml.learn import prepare

__all__ = [
    "CURRENT",
    "GRID",
    "choose",
    "eligible",
    "label",
    "ranks",
    "table",
    "train_setting",
    "with_fixed_features",
]

# learning rate × leaves, at LightGBM's 20 rows per leaf (a min-leaf axis of 20 and 40 doubled
# the run; on telco_churn it moved the AUC by less than the noise).
GRID: list[dict[str, Any]] = [
    {"learning_rate": rate, "num_leaves": leaves, "params": {"min_data_in_leaf": 20}}
    for rate in (0.05, 0.1)
    for leaves in (15, 31, 63)
]


def label(setting: dict[str, Any]) -> str:
    """``"lr 0.05, 31 leaves, min leaf 20"``."""
    rows = setting["params"].get("min_data_in_leaf", 20)
    return f"lr {setting['learning_rate']}, {setting['num_leaves']} leaves, min leaf {rows}"


def _current() -> str:
    train = Config().train
    rows = train.params.get("min_data_in_leaf", 20)
    return label(
        {
            "learning_rate": train.learning_rate,
            "num_leaves": train.num_leaves,
            "params": {"min_data_in_leaf": rows},
        }
    )


#: The label of edgeml's default setting (read from its config defaults).
CURRENT = _current()


def with_fixed_features(
    train: pl.DataFrame,
    test: pl.DataFrame,
    *,
    target: str,
    time_col: str,
    tmp: Path,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Both parts with edgeml's auto features added (fitted on ``train`` at the current
    defaults; computed over the whole series, so a test row sees the true past as in the
    one-step-ahead protocol), and how many features were kept."""
    keys = {"train": {"target": target, "time_col": time_col, "holdout": 0.0}}
    train_csv, all_csv = tmp / "sweep_train.csv", tmp / "sweep_all.csv"
    train.write_csv(train_csv)
    pl.concat([train, test]).write_csv(all_csv)
    plan = fit_features(prepare(train_csv, Config.from_dict(keys)))
    full = prepare(all_csv, Config.from_dict(keys))
    extended = apply_features(plan, full.frame, target=history_target(full))
    cut = test[time_col].min()
    return (
        extended.filter(pl.col(time_col) < cut),
        extended.filter(pl.col(time_col) >= cut),
        len(plan.selected),
    )


def ranks(scores: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Mean rank (1 = best, ties averaged) of each setting over the datasets."""
    names = list(next(iter(scores.values()))["settings"])
    total = dict.fromkeys(names, 0.0)
    for result in scores.values():
        values = np.array([result["settings"][n] for n in names])
        for name, value in zip(names, values, strict=True):
            total[name] += float((values > value).sum() + ((values == value).sum() + 1) / 2)
    return {n: total[n] / len(scores) for n in names}


def eligible(scores: dict[str, dict[str, Any]], tolerance: float) -> list[str]:
    """Settings no worse than plain LightGBM − ``tolerance`` on every dataset."""
    names = list(next(iter(scores.values()))["settings"])
    return [
        n for n in names if all(r["settings"][n] >= r["plain"] - tolerance for r in scores.values())
    ]


def choose(scores: dict[str, dict[str, Any]], *, current: str, tolerance: float) -> str:
    """The eligible setting with the best mean rank; ``current`` wins ties (and is kept when
    nothing is eligible)."""
    mean = ranks(scores)
    ok = eligible(scores, tolerance)
    if not ok:
        return current
    return min(ok, key=lambda n: (mean[n], n != current))


def table(
    scores: dict[str, dict[str, Any]],
    extra: dict[str, dict[str, dict[str, Any]]],
    *,
    current: str,
    chosen: str,
    tolerance: float,
) -> str:
    """One row per setting: each dataset's primary metric minus plain LightGBM's (rounds in
    brackets), the mean rank and the worst difference; current and chosen marked."""
    names = list(next(iter(scores.values()))["settings"])
    mean = ranks(scores)
    heads = [f"{d} {r['metric']}" for d, r in scores.items()]
    lines = [
        f"| setting | {' | '.join(heads)} | mean rank | mean Δ | worst Δ |",
        "|---" + "|---:" * (len(heads) + 3) + "|",
        "| plain LightGBM (absolute) | "
        + " | ".join(f"{r['plain']:.4f}" for r in scores.values())
        + " | — | — | — |",
    ]
    for name in sorted(names, key=lambda n: mean[n]):
        deltas = [r["settings"][name] - r["plain"] for r in scores.values()]
        cells = [
            f"{d:+.4f} ({extra[ds][name]['rounds']})" for d, ds in zip(deltas, scores, strict=True)
        ]
        marks = [m for m, on in (("current", name == current), ("chosen", name == chosen)) if on]
        worst = min(deltas)
        flag = "" if worst >= -tolerance else " ✗"
        shown = f"**{name}** ({', '.join(marks)})" if marks else name
        lines.append(
            f"| {shown} | {' | '.join(cells)} | {mean[name]:.2f} | {np.mean(deltas):+.4f} "
            f"| {worst:+.4f}{flag} |"
        )
    return "\n".join(lines)


def train_setting(
    train: pl.DataFrame,
    test: pl.DataFrame,
    *,
    target: str,
    time_col: str,
    tmp: Path,
    setting: dict[str, Any],
) -> tuple[np.ndarray, dict[str, Any]]:
    """edgeml's default training with ``setting`` on parts that already hold the features
    (``[features] mode = "none"``): regression predictions on ``test`` and the manifest."""
    result = edgeml.train(
        train,
        target=target,
        out=tmp / "sweep.edgeml",
        config=Config.from_dict({"features": {"mode": "none"}}),
        holdout=0.0,
        time_col=time_col,
        **setting,
    )
    predicted = edgeml.load(result.bundle).predict(test)
    return predicted["prediction"].to_numpy(), result.manifest
