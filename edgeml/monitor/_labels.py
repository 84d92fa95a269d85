"""The logged rows that got a label back, as the arrays :func:`live_metrics` takes.

A label is matched to the bundle's classes as sent (``"Yes"``, ``1``, ``true``), then by its
text (``"1"`` for class ``1`` and the other way round); a label that matches no class, or a
regression label that is not a number, is counted in ``unknown`` and left out rather than failing
the whole summary.

>>> codes, known = label_codes(["Yes", "No", "maybe", 1], ["No", "Yes"])
>>> codes.tolist(), known.tolist()
([1, 0, -1, -1], [True, True, False, False])
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml.config import MonitorConfig
from edgeml.monitor._live import LiveAccuracy, live_accuracy
from edgeml.monitor._log import LogWindow

__all__ = ["Labelled", "label_codes", "labelled_rows"]


@dataclass(frozen=True, kw_only=True)
class Labelled:
    """Row indexes into the window with a usable label, and what the metrics need for them."""

    task: str
    rows: np.ndarray
    y: np.ndarray
    proba: np.ndarray | None
    prediction: np.ndarray | None
    unknown: int

    def accuracy(
        self,
        holdout: dict[str, float],
        config: MonitorConfig,
        primary: str | None,
        within: np.ndarray | None = None,
    ) -> LiveAccuracy:
        """Live metrics over every labelled row, or the ones whose window index is in ``within``."""
        keep = np.ones(self.rows.size, dtype=bool) if within is None else np.isin(self.rows, within)
        return live_accuracy(
            self.task,
            self.y[keep],
            proba=None if self.proba is None else self.proba[keep],
            prediction=None if self.prediction is None else self.prediction[keep],
            holdout=holdout,
            config=config,
            primary=primary,
        )


def label_codes(labels: Sequence[Any], classes: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Class code of each label (-1 when it is none of ``classes``) and which ones matched."""
    exact = {json.dumps(c): k for k, c in enumerate(classes)}
    text = {str(c): k for k, c in enumerate(classes)}
    codes = np.full(len(labels), -1, dtype=np.int64)
    for i, label in enumerate(labels):
        k = exact.get(json.dumps(label))
        if k is None:
            k = text.get(str(label))
        if k is not None:
            codes[i] = k
    return codes, codes >= 0


def labelled_rows(window: LogWindow, task: str, classes: Sequence[Any] | None) -> Labelled:
    """Every labelled row of ``window`` with a usable label and score."""
    rows = np.flatnonzero(window.labelled & ~np.isnan(window.score))
    labels = [window.label[i] for i in rows]
    if task == "regression":
        values = np.array([_number(v) for v in labels], dtype=np.float64)
        known = np.isfinite(values)
        rows, y = rows[known], values[known]
        return Labelled(
            task=task, rows=rows, y=y, proba=None, prediction=window.score[rows],
            unknown=int((~known).sum()),
        )  # fmt: skip
    codes, known = label_codes(labels, list(classes or []))
    rows, y = rows[known], codes[known]
    if task == "binary":
        return Labelled(
            task=task, rows=rows, y=y, proba=window.score[rows], prediction=None,
            unknown=int((~known).sum()),
        )  # fmt: skip
    keys = [f"proba_{c}" for c in classes or []]
    proba: np.ndarray | None = None
    if all(all(isinstance(window.outputs[i].get(k), int | float) for k in keys) for i in rows):
        proba = np.array([[window.outputs[i][k] for k in keys] for i in rows], dtype=np.float64)
        proba = proba.reshape(len(rows), len(keys))
    return Labelled(
        task=task, rows=rows, y=y, proba=proba, prediction=window.score[rows],
        unknown=int((~known).sum()),
    )  # fmt: skip


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan
