"""The ``edgeml.toml`` schema: typed sections, validated, unknown keys rejected by name.

:class:`Config` holds one dataclass per section (``[data]``, ``[prep]``, ``[train]``,
``[features]``, ``[search]``, ``[monitor]``, ``[retrain]``, ``[dask]``); :func:`load_config`
reads a file.
The search space of ``[search.space]`` and the durations of ``time_budget`` are part of the
schema, so a bad value is refused when the config is read, not halfway through a search.

>>> Config().train.seed
0
"""

from edgeml.config._duration import parse_duration
from edgeml.config._schema import (
    DECISION_RULES,
    SMALL_DATA_LEARNING_RATE,
    SMALL_DATA_ROWS,
    Config,
    DaskConfig,
    DataConfig,
    DType,
    FeaturesConfig,
    MonitorConfig,
    PrepConfig,
    RetrainConfig,
    SearchConfig,
    Task,
    TrainConfig,
    load_config,
    parse_decision,
)
from edgeml.config._space import (
    DEFAULT_SPACE,
    Param,
    Space,
    apply_params,
    check_search_config,
    parse_space,
)

__all__ = [
    "DECISION_RULES",
    "DEFAULT_SPACE",
    "SMALL_DATA_LEARNING_RATE",
    "SMALL_DATA_ROWS",
    "Config",
    "DType",
    "DaskConfig",
    "DataConfig",
    "FeaturesConfig",
    "MonitorConfig",
    "Param",
    "PrepConfig",
    "RetrainConfig",
    "SearchConfig",
    "Space",
    "Task",
    "TrainConfig",
    "apply_params",
    "check_search_config",
    "load_config",
    "parse_decision",
    "parse_duration",
    "parse_space",
]
