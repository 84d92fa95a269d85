"""The ``edgeml.toml`` schema: typed sections, validated, unknown keys rejected by name.

Example ``edgeml.toml``::

    [data]
    dtypes = { total_charges = "float" }
    date_formats = { signup = "%d/%m/%Y" }
    drop = ["case"]
    assumptions = ["rows are independent customers"]

    [train]
    target = "churn"
    seed = 7

    [prep]
    impute = "median"
    encoding = "onehot"

Every command-line option of ``edgeml train`` has a key here; an option given on the command line
wins over the file (see :meth:`Config.with_overrides`).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from edgeml.config._space import check_search_config
from edgeml.errors import ConfigError
from edgeml.util.dateformat import check_format
from edgeml.util.numberformat import is_number_format

__all__ = [
    "Config",
    "DaskConfig",
    "DataConfig",
    "FeaturesConfig",
    "PrepConfig",
    "SearchConfig",
    "TrainConfig",
    "load_config",
    "parse_decision",
]

Task = Literal["auto", "binary", "multiclass", "regression"]
DType = Literal["float", "int", "str", "category", "bool", "date", "datetime"]


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """How to read the input: ``[data]``."""

    table: str | None = None
    query: str | None = None
    null_values: list[str] = field(default_factory=lambda: ["", "NA", "N/A", "NaN", "null", "NULL"])
    # Rows Polars looks at to guess CSV types; a later value that does not fit makes the reader
    # scan the whole file instead, so a short window costs nothing in correctness.
    infer_schema_length: int = 10_000
    # CSV field separator and decimal commas ("1234,5"): "auto" sniffs them from the file's
    # first 64 KB (edgeml.data._dialect); a comma-separated file always reads as one.
    separator: Literal["auto", ",", ";", "\t", "|"] = "auto"
    decimal_comma: Literal["auto", True, False] = "auto"
    dtypes: dict[str, DType] = field(default_factory=dict)
    # Date columns written in a shape of their own: column -> format such as "%d/%m/%Y" (the
    # directives of edgeml.util.dateformat); replaces detection of the day/month order. A
    # number column written with signs or separators takes its number format here too
    # ("$1,234.5": 1234.5 in the column's shape, edgeml.util.numberformat).
    date_formats: dict[str, str] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    # http(s):// sources (edgeml.data._http): the page format ("auto": by Content-Type), where
    # the records sit in a JSON page (dotted path; "auto": the page itself if it is a list, else
    # its only list of objects), and how to reach the next page besides a Link rel="next" header.
    format: Literal["auto", "json", "ndjson", "csv"] = "auto"
    records: str | None = None
    next_field: str | None = None
    cursor_field: str | None = None
    cursor_param: str = "cursor"
    page_param: str | None = None
    offset_param: str | None = None
    limit_param: str | None = None
    page_size: int = 100
    # The environment variable holding the API token (never the token itself), sent as
    # "<auth_header>: <auth_scheme> <token>" (auth_scheme "" sends the token alone).
    auth_env: str | None = None
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    http_timeout: float = 30.0
    http_retries: int = 3
    max_pages: int = 10_000
    # Incremental collection (edgeml.data._watermark): the column that grows with new rows, the
    # value to read after (--since; edgeml retrain: the champion's latest), the API's query
    # parameter that takes it, and a directory that keeps the rows fetched as Parquet.
    watermark: str | None = None
    since: str | None = None
    since_param: str | None = None
    snapshot: str | None = None


@dataclass(frozen=True, kw_only=True)
class PrepConfig:
    """How to clean and transform columns: ``[prep]``."""

    dedupe: bool = True
    drop_id_like: bool = True
    drop_constant: bool = True
    max_missing: float = 0.95
    correlation_threshold: float = 0.995
    impute: Literal["none", "mean", "median", "mode", "constant"] = "none"
    impute_value: float = 0.0
    missing_indicators: bool = False
    # Trees split on order, so clipping only merges an informative tail (it cost hpc_jobs 0.004
    # accuracy); clipping is there for scaled/linear use and for wild inputs at the edge.
    outliers: Literal["none", "clip", "drop"] = "none"
    outlier_k: float = 3.0
    encoding: Literal["native", "onehot", "frequency"] = "native"
    max_categories: int = 256
    scaling: Literal["none", "standard", "minmax", "robust"] = "none"


# Training rows under which an unset [train] learning_rate is SMALL_DATA_LEARNING_RATE (see
# TrainConfig.learning_rate_for), and 0.05 from there on.
SMALL_DATA_ROWS = 1000
SMALL_DATA_LEARNING_RATE = 0.1


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """What to learn and how: ``[train]``."""

    target: str | None = None
    out: str | None = None
    task: Task = "auto"
    time_col: str | None = None
    entity_col: str | None = None
    group_col: str | None = None
    id_cols: list[str] = field(default_factory=list)
    seed: int = 0
    cv_folds: int = 5
    holdout: float = 0.2
    num_boost_round: int = 2000
    early_stopping_rounds: int = 50
    refit: bool = True
    # Binary targets: the class to find (whose probability is thresholded, and whose precision,
    # recall and F1 are reported); None: the yes-like label of a yes/no pair, else the rarer one.
    positive_class: str | None = None
    # Binary targets: how the decision threshold is chosen on out-of-fold predictions (see
    # parse_decision); None is F1 when the minority class is under 30% of rows, else 0.5.
    decision: str | float | None = None
    cost_fp: float = 1.0
    cost_fn: float = 1.0
    # Binary targets: probability calibration fitted on out-of-fold predictions.
    calibration: Literal["none", "isotonic", "platt"] = "none"
    # Chosen by benchmarks/bench_quality.py --sweep over the five shared datasets (lr 0.05 and
    # 0.1 × 15, 31, 63 leaves; benchmarks/README.md "Defaults sweep"): 15 leaves had the best
    # mean rank and was the only setting above plain LightGBM on all five. Unset, the rate
    # depends on the training rows (see learning_rate_for).
    learning_rate: float | None = None
    num_leaves: int = 15
    params: dict[str, Any] = field(default_factory=dict)
    # Raw training rows kept in the bundle so every export is checked against LightGBM on real
    # inputs (0 keeps none; the parity gate then uses adversarial rows only).
    reference_rows: int = 1000
    # Larger-than-memory training (edgeml.scale.train_stream): "on" streams the data in chunks
    # of ``chunk_rows`` into LightGBM's binned Dataset, "off" reads it whole, "auto" streams when
    # the raw table would take more than a seventh of ``memory_budget_mb`` (default: half the
    # machine's RAM); the whole-table path grows by about seven times the raw table.
    stream: Literal["auto", "on", "off"] = "auto"
    chunk_rows: int = 100_000
    memory_budget_mb: float | None = None

    def learning_rate_for(self, rows: int | None) -> float:
        """The rate to boost at: ``learning_rate`` when set, else 0.1 on fewer than
        ``SMALL_DATA_ROWS`` training rows and 0.05 on more (or when ``rows`` is not known).

        On 120-1,347 rows (benchmarks/bench_small.py) 0.05 trailed plain LightGBM's 0.1 at
        every number of rounds on wide data (300 rows x 200 columns: r2 0.640 at 200-800
        rounds against 0.676 at 0.1); from 1,514 rows (the shared cells table) 0.1 fell below
        plain LightGBM where 0.05 did not (benchmarks/README.md "Defaults sweep").

        >>> TrainConfig().learning_rate_for(500), TrainConfig().learning_rate_for(5000)
        (0.1, 0.05)
        """
        if self.learning_rate is not None:
            return self.learning_rate
        return SMALL_DATA_LEARNING_RATE if rows is not None and rows < SMALL_DATA_ROWS else 0.05


@dataclass(frozen=True, kw_only=True)
class FeaturesConfig:
    """Feature engineering: ``[features]``.

    ``auto`` builds per-entity time-series candidates (lags, differences, rolling windows, EWM)
    when ``[train] time_col`` is set, adds ``interactions`` and ``formulas`` when asked, then
    selects; ``none`` builds nothing; ``manual`` builds exactly what the keys below list.
    Windows are row counts (``"12"``) or time spans (``"15min"``, ``"6h"``, ``"7d"``).
    """

    mode: Literal["auto", "none", "manual"] = "auto"
    columns: list[str] = field(default_factory=list)
    lags: list[int] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    stats: list[Literal["count", "sum", "mean", "std", "var", "min", "max"]] = field(
        default_factory=lambda: ["mean", "std", "min", "max"]
    )
    ewm_halflives: list[float] = field(default_factory=list)
    time_since_previous: bool = False
    # The entity (--entity-col) as a native categorical feature; an entity column with more
    # distinct values than half the rows is an identifier and is never used.
    entity_as_feature: bool = True
    # ``auto`` with a time column also builds the target's own history per entity (past labels:
    # a server needs them fed back through POST /feedback); false leaves it out.
    target_history: bool = True
    # Readings of an entity between a reading and the moment its label is known (a label that
    # looks 24 readings ahead is known 24 readings later): target history uses only labels at
    # least this old, so a forward-looking label does not leak the future into training.
    label_delay: int = 0
    target_lags: list[int] = field(default_factory=list)
    target_windows: list[str] = field(default_factory=list)
    interactions: Literal["none", "auto"] = "none"
    formulas: dict[str, str] = field(default_factory=dict)
    select: bool = True
    max_candidates: int = 60
    correlation_threshold: float = 0.98
    rfe: bool = True


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """Hyperparameter search, model comparison and edge budgets: ``[search]``.

    ``space`` (``[search.space]``) overrides the default LightGBM space of
    :mod:`edgeml.search`; it, ``time_budget`` (``"90s"``, ``"10m"``, ``"1h"``) and the budgets
    are checked when the config is built. Budgets make the search multi-objective (NSGA-II).
    """

    method: Literal["none", "grid", "random", "bayes"] = "none"
    trials: int = 30
    time_budget: str | None = None
    resume: bool = False
    prune: bool = True
    # Trials boost at this rate (when the space does not search the rate): fewer rounds each;
    # the final model is refitted at [train] learning_rate, its rounds found again.
    learning_rate: float = 0.15
    grid_points: int = 3
    max_latency_us: float | None = None
    max_model_kb: float | None = None
    compare: bool = False
    default_space: bool = True
    space: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_search_config(self)


@dataclass(frozen=True, kw_only=True)
class MonitorConfig:
    """Live monitoring of a served model: ``[monitor]``.

    Drift compares the last ``window`` logged rows with the training baselines in the manifest:
    PSI per model feature and of the prediction (``psi_warn`` / ``psi_alert``), the rise in the
    share of missing values and the share outside the training range. No feature, prediction or
    window is called drifted (warning, alert, ``--retrain-if-drift``) on fewer than ``min_rows``
    rows: its status is then "too few rows". ``accuracy_drop`` is how
    far the live primary metric may fall below the holdout one before it is an alert.
    ``log_max_rows`` and ``log_max_mb`` bound the prediction log (oldest rows go first).
    """

    window: int = 10_000
    min_rows: int = 200
    psi_warn: float = 0.1
    psi_alert: float = 0.25
    missing_alert: float = 0.1
    out_of_range_alert: float = 0.05
    accuracy_drop: float = 0.05
    log_max_rows: int = 1_000_000
    log_max_mb: float = 1024.0


@dataclass(frozen=True, kw_only=True)
class RetrainConfig:
    """Retraining on new data: ``[retrain]``.

    ``window = "all"`` trains the challenger on the champion's data plus the new rows,
    ``"new"`` on the new rows only, ``"sliding"`` on the last ``max_rows`` of old + new.
    Both models are scored on the same ``holdout`` share of the new rows (the most recent ones
    when the model has a time column); the challenger is promoted only if the paired bootstrap
    gain of the primary metric stays above zero at ``confidence``.
    """

    window: Literal["all", "new", "sliding"] = "all"
    max_rows: int = 100_000
    holdout: float = 0.2
    confidence: float = 0.95
    bootstrap: int = 1000


@dataclass(frozen=True, kw_only=True)
class DaskConfig:
    """Batch prediction and training on Dask: ``[dask]``.

    ``address`` is an existing scheduler (``tcp://HOST:PORT``), as ``edgeml predict --dask``
    and ``edgeml train --dask`` give it (the option wins). Without an address, ``n_workers``
    starts a local cluster of that many worker processes (one thread each) for the run and
    stops it afterwards. Neither: the run stays in this process.
    """

    address: str | None = None
    n_workers: int | None = None


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration. ``Config()`` is the default."""

    data: DataConfig = field(default_factory=DataConfig)
    prep: PrepConfig = field(default_factory=PrepConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    dask: DaskConfig = field(default_factory=DaskConfig)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "config") -> Config:
        """Build and validate a config from nested dicts (as parsed from TOML).

        >>> Config.from_dict({"train": {"seed": 3}}).train.seed
        3
        """
        _reject_unknown(raw, cls, source)
        sections = {}
        for f in dataclasses.fields(cls):
            section_cls = _SECTIONS[f.name]
            values = raw.get(f.name, {})
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: [{f.name}] must be a table, got {values!r}")
            sections[f.name] = _build(section_cls, values, f"{source}: [{f.name}]")
        return cls(**sections)

    def with_overrides(self, section: str, **values: Any) -> Config:
        """Return a copy with the non-None ``values`` set in ``section`` (command-line options).

        >>> Config().with_overrides("train", seed=5, task=None).train.seed
        5
        """
        given = {k: v for k, v in values.items() if v is not None}
        current = dataclasses.asdict(getattr(self, section))
        current.update(given)
        built = _build(_SECTIONS[section], current, f"option for [{section}]")
        return dataclasses.replace(self, **{section: built})

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts, JSON- and TOML-compatible."""
        return dataclasses.asdict(self)


_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "prep": PrepConfig,
    "features": FeaturesConfig,
    "train": TrainConfig,
    "search": SearchConfig,
    "monitor": MonitorConfig,
    "retrain": RetrainConfig,
    "dask": DaskConfig,
}


def load_config(path: str | Path | None) -> Config:
    """Read and validate ``edgeml.toml``; ``None`` gives the defaults.

    >>> load_config(None) == Config()
    True
    """
    if path is None:
        return Config()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return Config.from_dict(raw, source=str(path))


def _reject_unknown(raw: dict[str, Any], cls: type, where: str) -> None:
    allowed = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {key!r}; expected one of: {', '.join(allowed)}"
            )


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    _reject_unknown(values, cls, where)
    hints = typing.get_type_hints(cls)
    checked = {key: _check(value, hints[key], f"{where} {key}") for key, value in values.items()}
    _check_ranges(cls, checked, where)
    return cls(**checked)


def _check(value: Any, hint: Any, where: str) -> Any:
    """Return ``value`` if it fits ``hint`` (ints widen to floats), else raise ConfigError."""
    origin = get_origin(hint)
    args = get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        for option in inner[:-1]:  # the first type the value fits; the last one's error if none
            try:
                return _check(value, option, where)
            except ConfigError:
                continue
        return _check(value, inner[-1], where)
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{where}: {value!r} is not allowed; expected one of: {allowed}")
        return value
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_check(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return {str(k): _check(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


_RANGES: dict[str, tuple[float, float]] = {
    "max_missing": (0.0, 1.0),
    "correlation_threshold": (0.0, 1.0),
    "outlier_k": (0.0, float("inf")),
    "max_categories": (2, float("inf")),
    "holdout": (0.0, 0.9),
    "num_boost_round": (1, float("inf")),
    "early_stopping_rounds": (0, float("inf")),
    "learning_rate": (1e-6, 1.0),
    "num_leaves": (2, 131072),
    "infer_schema_length": (1, float("inf")),
    "page_size": (1, 1_000_000),
    "chunk_rows": (100, float("inf")),
    "memory_budget_mb": (1.0, float("inf")),
    "http_timeout": (0.001, 3600.0),
    "http_retries": (0, 100),
    "max_pages": (1, 10_000_000),
    "reference_rows": (0, 100_000),
    "max_candidates": (1, 10_000),
    "label_delay": (0, 100_000),
    "window": (10, float("inf")),
    "min_rows": (1, float("inf")),
    "psi_warn": (0.0, float("inf")),
    "psi_alert": (0.0, float("inf")),
    "missing_alert": (0.0, 1.0),
    "out_of_range_alert": (0.0, 1.0),
    "accuracy_drop": (0.0, float("inf")),
    "log_max_rows": (100, float("inf")),
    "log_max_mb": (0.1, float("inf")),
    "max_rows": (10, float("inf")),
    "confidence": (0.5, 0.9999),
    "bootstrap": (100, 100_000),
    "n_workers": (1, 1024),
    "cost_fp": (0.0, float("inf")),
    "cost_fn": (0.0, float("inf")),
}

DECISION_RULES = ("f1", "balanced", "cost", "precision>=P", "recall>=R", "a number in (0, 1)")


def parse_decision(value: str | float | None, where: str = "[train] decision") -> tuple[str, float]:
    """``[train] decision`` as ``(rule, value)``: rule is ``default``, ``f1``, ``balanced``,
    ``cost``, ``precision``, ``recall`` (value: the target) or ``fixed`` (value: the threshold).

    >>> parse_decision("precision>=0.8"), parse_decision(0.3), parse_decision("0.5")
    (('precision', 0.8), ('fixed', 0.3), ('fixed', 0.5))
    """
    if value is None:
        return "default", math.nan
    text = str(value).strip().replace(" ", "")
    if text in ("f1", "balanced", "cost"):
        return text, math.nan
    rule = "fixed"
    for name in ("precision", "recall"):
        if text.startswith(f"{name}>="):
            rule, text = name, text[len(name) + 2 :]
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not 0.0 < number < 1.0 or isinstance(value, bool):
        raise ConfigError(
            f"{where}: {value!r} is not allowed; expected one of: {', '.join(DECISION_RULES)}"
        )
    return rule, number


def _check_ranges(cls: type, values: dict[str, Any], where: str) -> None:
    for key, value in values.items():
        if key in _RANGES and isinstance(value, int | float):
            lo, hi = _RANGES[key]
            if not lo <= value <= hi:
                raise ConfigError(f"{where} {key}: {value!r} is out of range; expected {lo}..{hi}")
    if "decision" in values:
        parse_decision(values["decision"], f"{where} decision")
    for column, fmt in (values.get("date_formats") or {}).items():
        if isinstance(fmt, str) and is_number_format(fmt):
            continue  # a number column's format ("$1,234.5"), detected or given
        try:
            check_format(fmt)
        except ValueError as exc:
            raise ConfigError(f"{where} date_formats.{column}: {exc}") from None
    folds = values.get("cv_folds")
    if folds is not None and folds != 0 and folds < 2:
        raise ConfigError(f"{where} cv_folds: {folds!r}; expected 0 (no CV) or at least 2")
