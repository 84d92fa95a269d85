"""What a bundle declares: its manifest, the fitted prep and feature plans, and the formulas.

Plain, JSON-serialisable dataclasses, read by every executor (Polars for training and batch,
the NumPy runtime for single rows, generated C and ONNX on devices). Standard library only,
except :mod:`edgeml.spec.formula` (NumPy), which is therefore not re-exported here.

- :mod:`edgeml.spec.manifest`: the :class:`Manifest` (``manifest.json``), typed and versioned
- :mod:`edgeml.spec.section`: how a section is read from and written back to JSON
- :mod:`edgeml.spec.metrics`: ``metrics``, ``decision`` and ``leaderboard``
- :mod:`edgeml.spec.monitoring`: ``monitoring``, the drift baselines
- :mod:`edgeml.spec.model_entry`: ``model``, ``features``, ``input_schema`` and ``backends``
- :mod:`edgeml.spec.data_card`: ``data_card``
- :mod:`edgeml.spec.prep_plan`: the PrepPlan (cleaning, transformation, reduction)
- :mod:`edgeml.spec.feature_plan`: the FeaturePlan (extraction, creation, selection)
- :mod:`edgeml.spec.formula`: user-defined features as safe formulas
"""

from edgeml.spec.data_card import DataCardInfo
from edgeml.spec.feature_plan import FeaturePlan
from edgeml.spec.manifest import BACKENDS, SCHEMA_VERSION, TASKS, Manifest, Target, check_version
from edgeml.spec.metrics import Decision, LeaderboardRecord, MetricRows, Metrics
from edgeml.spec.model_entry import Backend, Features, InputColumn, ModelEntry, Rounds
from edgeml.spec.monitoring import Histogram, Monitoring
from edgeml.spec.prep_plan import PrepPlan
from edgeml.spec.section import Section

__all__ = [
    "BACKENDS",
    "SCHEMA_VERSION",
    "TASKS",
    "Backend",
    "DataCardInfo",
    "Decision",
    "FeaturePlan",
    "Features",
    "Histogram",
    "InputColumn",
    "LeaderboardRecord",
    "Manifest",
    "MetricRows",
    "Metrics",
    "ModelEntry",
    "Monitoring",
    "PrepPlan",
    "Rounds",
    "Section",
    "Target",
    "check_version",
]
