"""The manifest's ``monitoring`` section: the training-time histograms drift is measured against.

Each baseline is a :class:`Histogram` in one of the kinds :mod:`edgeml.metrics.drift` builds:
``quantiles`` (``edges``, ``counts``), ``values`` (a few distinct ``values``), ``categories``
(raw ``categories`` of ``column``, ``other``), ``numeric`` and ``classes`` (predictions).

>>> m = Monitoring.from_dict({"features": {"x": {"kind": "quantiles", "edges": [0, 1, 2],
...                                              "counts": [3, 4], "missing": 0.0}}})
>>> m.features["x"].edges, m.prediction
((0, 1, 2), None)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeml.spec.section import Section

__all__ = ["Histogram", "Monitoring"]


@dataclass(frozen=True, kw_only=True)
class Histogram(Section):
    """One baseline: bin counts and what the bins are (see the module docstring)."""

    kind: str | None = None
    counts: tuple[float, ...] = ()
    edges: tuple[float, ...] | None = None
    values: tuple[float, ...] | None = None
    column: str | None = None
    categories: tuple[Any, ...] | None = None
    other: float | None = None
    missing: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Monitoring(Section):
    """Baselines of the model's features (by feature name) and of its predictions."""

    features: dict[str, Histogram] = field(default_factory=dict)
    prediction: Histogram | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def feature_baselines(self) -> dict[str, dict[str, Any]]:
        """The feature baselines as the JSON objects :mod:`edgeml.metrics.drift` reads."""
        return {name: histogram.to_dict() for name, histogram in self.features.items()}

    def prediction_baseline(self) -> dict[str, Any] | None:
        """The prediction baseline as :mod:`edgeml.metrics.drift` reads it, if there is one."""
        return None if self.prediction is None else self.prediction.to_dict()
