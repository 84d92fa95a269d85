"""The manifest's results: ``metrics`` (holdout, CV, baseline) and a binary model's ``decision``.

>>> m = Metrics.from_dict({"primary": "rmse", "holdout": {"rmse": 1.5}, "baseline": {"rmse": 2.0},
...                        "cv": {"rmse": {"mean": 1.6, "std": 0.1}}, "rows": {"train": 80}})
>>> m.holdout["rmse"], m.cv["rmse"]["mean"], m.rows.train, m.rows.holdout
(1.5, 1.6, 80, 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from edgeml.spec.section import Section

__all__ = ["Decision", "LeaderboardRecord", "MetricRows", "Metrics"]

#: A metric's value; null where it is undefined (a class absent from the holdout).
Score = float | None


@dataclass(frozen=True, kw_only=True)
class MetricRows(Section):
    """How many rows the holdout's model trained on and was scored on, and ``final``, the rows
    the shipped model was then refitted on (training and holdout; None: the training rows)."""

    train: int = 0
    holdout: int = 0
    final: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Metrics(Section):
    """Scores of the shipped model: ``holdout`` and ``baseline`` by metric name, ``cv`` as
    ``{name: {"mean": x, "std": y}}``; empty where there was no holdout or no CV."""

    primary: str | None = None
    holdout: dict[str, Score] = field(default_factory=dict)
    baseline: dict[str, Score] = field(default_factory=dict)
    cv: dict[str, dict[str, Score]] = field(default_factory=dict)
    split: str | None = None
    cv_folds: int | None = None
    rows: MetricRows = field(default_factory=MetricRows)
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def holdout_values(self) -> dict[str, float]:
        """The holdout metrics as floats, an undefined one (null) as NaN.

        >>> Metrics(holdout={"f1": 0.5, "roc_auc": None}).holdout_values()
        {'f1': 0.5, 'roc_auc': nan}
        """
        return {k: math.nan if v is None else float(v) for k, v in self.holdout.items()}


@dataclass(frozen=True, kw_only=True)
class Decision(Section):
    """A binary model's threshold on the calibrated positive-class probability, the rule that
    chose it and why; ``out_of_fold`` and ``curve`` are the figures the choice was made on."""

    threshold: float = 0.5
    rule: str = "fixed"
    reason: str = ""
    out_of_fold: dict[str, float] | None = None
    curve: dict[str, list[float]] | None = None
    reliability: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class LeaderboardRecord(Section):
    """The model families compared on the same CV folds (``edgeml.search``): each candidate a
    JSON object (name, CV score, latency, within noise, ...), the best and the one shipped."""

    metric: str | None = None
    higher_is_better: bool | None = None
    split: str | None = None
    folds: int | None = None
    noise_rule: str | None = None
    best: str | None = None
    shipped: str | None = None
    ship_reason: str | None = None
    candidates: tuple[dict[str, Any], ...] = ()
    errors: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
