"""Stage 2, preprocess: fit a PrepPlan on training rows, apply it anywhere.

>>> import polars as pl
>>> frame = pl.DataFrame({"x": [1.0, None, 3.0], "c": ["a", "b", "a"]})
>>> plan = fit_prep(frame)
>>> apply_prep(plan, frame)["c"].to_list()
[0.0, 1.0, 0.0]
"""

from edgeml.prep._apply import apply_prep, to_matrix
from edgeml.prep._fit import fit_prep, inside_fences
from edgeml.prep._reference import REFERENCE_ROWS, load_reference_rows, reference_rows
from edgeml.prep._screen import within_groups
from edgeml.prep._summary import MAX_COUNTED, SAMPLE_KEY, Summary, summarize
from edgeml.spec.prep_plan import (
    CategoricalStep,
    ColumnSpec,
    DatePartsStep,
    NumericStep,
    PrepPlan,
)

__all__ = [
    "MAX_COUNTED",
    "REFERENCE_ROWS",
    "SAMPLE_KEY",
    "CategoricalStep",
    "ColumnSpec",
    "DatePartsStep",
    "NumericStep",
    "PrepPlan",
    "Summary",
    "apply_prep",
    "fit_prep",
    "inside_fences",
    "load_reference_rows",
    "reference_rows",
    "summarize",
    "to_matrix",
    "within_groups",
]
