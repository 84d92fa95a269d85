"""``edgeml predict`` on one machine: scan, score and write batch by batch, in input order.

Memory is set by the batch, not by the input: one batch of raw rows, its features and matrix,
the time-series context carried per entity, and the writer's buffer.

>>> result = predict_file("churn.edgeml", "new.csv", "scores.parquet")   # doctest: +SKIP
>>> result.rows, result.backend                                        # doctest: +SKIP
(250000, 'native')
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeml.batch._ahead import ahead
from edgeml.batch._arrow import system_pool
from edgeml.batch._progress import Bar, wanted
from edgeml.batch._scan import kind, scan
from edgeml.batch._score import Scorer
from edgeml.batch._writer import Writer
from edgeml.config import DataConfig
from edgeml.errors import ConfigError

if TYPE_CHECKING:
    from edgeml import Model

__all__ = ["BatchResult", "batch_rows_for", "data_config", "open_model", "predict_file"]

# What one batch may take: raw columns, features, the prep's frame and matrix, outputs. Up to
# three batches are in flight (one predicted, one waiting, one read ahead). Measured on the
# telco CSV (1M rows, 42 columns wide): 10k-row batches peaked at 221 MB, 25k at 259 MB, 50k at
# 313 MB, 133k (a 256 MB budget) at 521 MB; below ~20k rows the per-batch overhead of Polars
# calls (about 1 ms each, tens per batch with time-series features) starts to show.
MEMORY_BUDGET = 48 * 2**20
_MIN_ROWS, _MAX_ROWS = 5_000, 100_000


@dataclass(frozen=True)
class BatchResult:
    """What a batch run did: rows written to ``out`` by ``backend`` in ``batches`` batches."""

    out: Path
    rows: int
    backend: str
    batches: int
    seconds: float
    decision: dict[str, Any] = field(default_factory=dict)


def batch_rows_for(model: Model, budget: int = MEMORY_BUDGET) -> int:
    """Rows per batch for ``budget`` bytes: about 6 float64 copies of the widest row.

    >>> class M: input_schema = {"a": "float"}; plan = type("P", (), {"features": ["a"] * 9})
    >>> batch_rows_for(M())
    74898
    """
    width = len(model.input_schema) + len(model.plan.features) + 4
    return int(min(max(budget // (width * 8 * 6), _MIN_ROWS), _MAX_ROWS))


def data_config(model: Model) -> DataConfig:
    """How the bundle's training data was read (null markers, inference window)."""
    stored = model.spec.config.get("data") or {}
    default = DataConfig()
    return DataConfig(
        null_values=stored.get("null_values", default.null_values),
        infer_schema_length=stored.get("infer_schema_length", default.infer_schema_length),
    )


def open_model(bundle: str | Path, *, backend: str = "auto", threads: int = 1) -> tuple[Model, Any]:
    """The bundle verified once: the model (plans, target, decision) and the runtime predictor
    with ``backend`` (``auto``: the backend :func:`edgeml.runtime.load` measures fastest on
    batches here)."""
    import edgeml
    import edgeml.runtime

    if threads < 1:
        raise ConfigError(f"--threads: expected at least 1, got {threads}")
    model = edgeml.load(bundle)
    predictor = edgeml.runtime.load(model.bundle, backend=backend, threads=threads, prefer="batch")
    return model, predictor


def predict_file(
    bundle: str | Path,
    data: str | Path,
    out: str | Path,
    *,
    backend: str = "auto",
    threads: int = 1,
    batch_rows: int | None = None,
    id_cols: Sequence[str] | None = None,
    explain: bool = False,
    table: str | None = None,
    query: str | None = None,
    progress: bool | None = None,
) -> BatchResult:
    """Score every row of ``data`` into ``out`` (``.parquet``, ``.csv``, ``.ndjson`` or a
    directory), ``batch_rows`` at a time (default: sized to a 48 MB budget); ``id_cols``
    replace the bundle's id columns as the columns passed through."""
    started = time.perf_counter()
    model, predictor = open_model(bundle, backend=backend, threads=threads)
    rows = batch_rows_for(model) if batch_rows is None else batch_rows
    if rows < 1:
        raise ConfigError(f"--batch-rows: expected at least 1, got {rows}")
    scorer = Scorer(model, predictor.backend, id_cols=id_cols, explain=explain)
    source = scan(
        data, **scorer.columns, batch_rows=rows, table=table, query=query, config=data_config(model)
    )
    show = wanted(progress)
    total = source.count_rows() if show else None
    batches = 0
    # The stages overlap, each on its own thread: the next batches are parsed and prepared
    # (Polars, the feature kernels) while this one is predicted (the engine) and written.
    # Decoding Parquet or IPC costs a few percent of preparing, so it runs on the preparing
    # thread: its own thread would only hold two more batches in memory (telco Parquet, 1M
    # rows: peak 254 -> 218 MB). Parsing text costs about what preparing does.
    kinds = {kind(p) for p in source.paths}
    columnar = bool(kinds) and kinds <= {"parquet", "ipc"}
    parsed = (batch for batch in source) if columnar else ahead(iter(source), depth=1)
    prepared = ahead((scorer.prepare(batch) for batch in parsed), depth=1)
    arrow = bool(kinds & {"parquet", "ipc"})
    writer = Writer(out)
    arrow |= writer.kind == ".parquet"
    with (
        system_pool(needed=arrow),
        closing(parsed),
        closing(prepared),
        writer,
        Bar(total, enabled=show) as bar,
    ):
        for ready in prepared:
            writer.write(scorer.finish(ready))
            bar.advance(ready.rows)
            batches += 1
        if batches == 0:  # a header and no rows: the output's header, not an empty file
            writer.write(scorer.empty())
    return BatchResult(
        out=Path(out),
        rows=writer.rows,
        backend=predictor.backend_name,
        batches=batches,
        seconds=time.perf_counter() - started,
        decision=model.decision_summary(),
    )
