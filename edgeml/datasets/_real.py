"""Five real public tables shipped inside the package, gzip-compressed, like scikit-learn's.

They let the tests, benchmarks and a newcomer train on real data with no download and nothing
beside the checkout: :func:`path` gives the ``.csv.gz`` file (every edgeml command reads it as
it is), :func:`load` a Polars DataFrame, :data:`REAL` what each table is for. Their sources and
licences are in ``data/README.md`` next to the files.

>>> sorted(REAL)
['cells', 'chicago_ridership', 'diamonds', 'hpc_jobs', 'telco_churn']
>>> path("hpc_jobs").name
'hpc_jobs.csv.gz'
>>> load("hpc_jobs").shape
(4331, 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from edgeml.errors import SourceError

__all__ = ["REAL", "RealDataset", "load", "path"]

_DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, kw_only=True)
class RealDataset:
    """One shipped table: its target column, task, shape and the column that is not a feature.

    ``plain`` is plain LightGBM's 5-fold CV figure (``{metric: value}``) that edgeml's defaults
    should reach; ``drop`` names columns that must not be used as features.
    """

    name: str
    target: str
    task: str
    rows: int
    columns: int
    plain: dict[str, float]
    drop: tuple[str, ...] = ()


REAL: dict[str, RealDataset] = {
    d.name: d
    for d in (
        RealDataset(name="diamonds", target="price", task="regression", rows=53_940, columns=10,
                    plain={"r2": 0.982}),
        RealDataset(name="telco_churn", target="churn", task="binary", rows=7_043, columns=20,
                    plain={"roc_auc": 0.837}),
        RealDataset(name="hpc_jobs", target="class", task="multiclass", rows=4_331, columns=8,
                    plain={"accuracy": 0.842, "macro_f1": 0.811}),
        # `case` is the original study's train/test label, not a feature.
        RealDataset(name="cells", target="class", task="binary", rows=2_019, columns=58,
                    plain={"roc_auc": 0.900}, drop=("case",)),
        RealDataset(name="chicago_ridership", target="ridership", task="regression", rows=5_698,
                    columns=50, plain={"r2": 0.834}),
    )
}  # fmt: skip


def path(name: str) -> Path:
    """The shipped ``.csv.gz`` file of dataset ``name`` (a key of :data:`REAL`).

    ``NAME.csv`` is accepted too, so a file name from the data README works as it is.

    >>> path("telco_churn.csv").suffixes
    ['.csv', '.gz']
    """
    key = name.removesuffix(".gz").removesuffix(".csv")
    if key not in REAL:
        raise SourceError(
            f"dataset {name!r}: not one of edgeml's datasets; expected one of {', '.join(REAL)}"
        )
    found = _DATA / f"{key}.csv.gz"
    if not found.is_file():
        raise SourceError(f"dataset {name!r}: {found} is missing from this installation")
    return found


def load(name: str) -> pl.DataFrame:
    """Dataset ``name`` as a Polars DataFrame (``NA`` cells are null; types inferred from all rows).

    >>> frame = load("telco_churn")
    >>> frame.height, frame["total_charges"].null_count()
    (7043, 11)
    """
    return pl.read_csv(path(name), null_values=["NA"], infer_schema_length=None)
