"""What the manifest says about the model: its file and size (``model``), the features it reads
(``features``, ``input_schema``) and the compiled exports beside it (``backends``).

>>> f = Features.from_dict({"model": ["tenure", "contract"], "categorical": ["contract"]})
>>> f.model, f.categorical, f.plan
(('tenure', 'contract'), ('contract',), None)
>>> Backend.from_dict({"file": "model.so", "parity": {"max_abs_diff": 0.0}}).parity
{'max_abs_diff': 0.0}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeml.spec.feature_plan import FeaturePlan
from edgeml.spec.section import Section

__all__ = ["Backend", "Features", "InputColumn", "ModelEntry", "Rounds"]


@dataclass(frozen=True, kw_only=True)
class Rounds(Section):
    """How the final model's boosting rounds were chosen from the CV folds' best iterations."""

    rounds: int
    fold_best_iterations: tuple[int, ...] = ()
    fold_train_rows: tuple[int, ...] = ()
    rule: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ModelEntry(Section):
    """The LightGBM model file and its size; ``rounds`` when CV chose the number of rounds."""

    file: str
    num_trees: int | None = None
    num_iterations: int | None = None
    rounds: Rounds | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Features(Section):
    """The model's feature columns in order, those LightGBM treats as categorical, and the
    fitted feature plan that computes the engineered ones (None in bundles without one)."""

    model: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    plan: FeaturePlan | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_plan(self) -> FeaturePlan:
        """The feature plan, an empty one when the bundle has none."""
        return self.plan or FeaturePlan(time_col=None, entity_col=None, steps=[])


@dataclass(frozen=True, kw_only=True)
class InputColumn(Section):
    """One column of the input schema: name, logical dtype, role, a categorical column's
    vocabulary, and a date column's text format."""

    name: str
    dtype: str
    role: str = "feature"
    categories: tuple[Any, ...] | None = None
    #: How a date or datetime column's text is written (``"%m/%d/%Y"``); None: ISO-8601.
    format: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Backend(Section):
    """An export recorded in the bundle: its file (``lightgbm``) or files (among them a compiled
    ``library`` and the native engine's ``tables``), the target it was
    built for, its parity figures against LightGBM, the options it was built with, and, for a
    compiled library, the machine and feature count it loads on; the rest of what the export
    wrote (build facts) in ``extra``."""

    file: str | None = None
    files: tuple[str, ...] = ()
    library: str | None = None
    tables: str | None = None
    target: str | None = None
    parity: dict[str, Any] | None = None
    annotate: bool | None = None
    quantize: bool | None = None
    num_feature: int | None = None
    machine: str | None = None
    system: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def options(self) -> dict[str, Any]:
        """The export options to build it again the same way."""
        return {k: True for k in ("annotate", "quantize") if getattr(self, k)}
