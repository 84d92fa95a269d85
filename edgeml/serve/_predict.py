"""What the prediction and feedback routes do, apart from HTTP: validate, predict, log, observe.

Validation uses the served model's request model, so every error names the record and field.
Small requests predict inline on the event loop (tens of microseconds: a thread hop would cost
more); large ones run in the thread pool so they do not hold up other clients.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from edgeml.errors import DataError
from edgeml.runtime.contract import count_unseen, ignored_columns
from edgeml.serve._bodies import BadRequest, check_categories, parse_batch
from edgeml.serve._holder import ModelHolder
from edgeml.serve._log import LogRow, PredictionLog
from edgeml.serve._metrics import ServerMetrics
from edgeml.serve._records import FeedbackItem
from edgeml.serve._served import ServedModel

__all__ = ["Predictions"]

_ROW_BY_ROW = 8  # up to this many records, predict_row each; above, one batch call
_INLINE_ROWS = 2000  # above this many rows, predict in the thread pool
_INLINE_BYTES = 256 * 1024  # above this body size, parse and predict in the thread pool
_FEEDBACK_TIMEOUT = 10.0


class Predictions:
    """The request handlers' work, over the holder's current model."""

    def __init__(self, holder: ModelHolder, log: PredictionLog, metrics: ServerMetrics) -> None:
        self.holder = holder
        self.log = log
        self.metrics = metrics

    async def records(self, body: Any, request_id: str, *, explain: bool = False) -> dict[str, Any]:
        """``POST /predict``: one record → one prediction; a list → ``predictions``.

        ``explain`` (``?explain=true``) adds each prediction's ``contrib_<feature>`` and
        ``contrib_bias`` (exact TreeSHAP, summing to the raw score); they are not logged.
        """
        start = time.perf_counter()
        served = self.holder.current  # in-flight requests keep the model they started with
        single = isinstance(body, dict)
        if not single and not isinstance(body, list):
            raise BadRequest("body: expected a JSON object (one record) or an array of records")
        items: list[Any] = [body] if single else body
        if not items:
            raise BadRequest("empty batch: send at least one record")

        def work() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            _validate(served, items)
            rows = served.with_features(items)
            return rows, _predict_records(served, rows)

        rows, outputs = work() if len(items) <= _INLINE_ROWS else await run_in_threadpool(work)
        self._count(served, items)
        latency_us = (time.perf_counter() - start) * 1e6
        self._record(served, request_id, rows, outputs, latency_us)
        if explain:
            outputs = _explained(served, rows, outputs)
        head = {"request_id": request_id, "model_version": served.version}
        return {**head, **outputs[0]} if single else {**head, "predictions": outputs}

    async def batch(self, body: bytes, content_type: str, request_id: str) -> dict[str, Any]:
        """``POST /predict/batch``: columns in, one list per output column out."""
        start = time.perf_counter()
        served = self.holder.current
        needed = served.inputs

        ignored: list[str] = []

        def work() -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
            columns, extra = parse_batch(body, content_type, needed)
            ignored.extend(extra)
            check_categories(columns, served.categories)
            if served.stream is not None:  # the features each reading adds, in row order
                names = list(columns)
                rows = [
                    dict(zip(names, v, strict=True)) for v in zip(*columns.values(), strict=True)
                ]
                rows = _guarded(lambda: served.with_features(rows))()
                columns = {name: [row[name] for row in rows] for name in rows[0]}
            result = _guarded(lambda: served.predictor.predict(columns))()
            return columns, {name: np.asarray(v).tolist() for name, v in result.items()}

        # Parsing a large body takes long enough to hold up every other client: off the loop.
        columns, answer = work() if len(body) <= _INLINE_BYTES else await run_in_threadpool(work)
        n = len(answer["prediction"])
        latency_us = (time.perf_counter() - start) * 1e6
        names = list(answer)
        for name in ignored:
            self.metrics.ignored.labels(name).inc(n)
        for name, count in count_unseen(columns, served.vocabulary).items():
            self.metrics.unseen.labels(name).inc(count)

        def rows() -> list[LogRow]:  # expanded on the log's thread, not the request's
            outputs = [
                dict(zip(names, values, strict=True))
                for values in zip(*answer.values(), strict=True)
            ]
            names_in = list(columns)
            records = [
                dict(zip(names_in, values, strict=True))
                for values in zip(*columns.values(), strict=True)
            ]
            return _log_rows(served, request_id, records, outputs, latency_us, stamp)

        stamp = time.time()
        self.log.append_lazy(rows)
        self.metrics.predictions.labels(served.version).inc(n)
        return {"request_id": request_id, "model_version": served.version, "rows": n, **answer}

    async def feedback(self, body: Any) -> dict[str, Any]:
        """``POST /feedback``: attach true labels to logged rows; says which ids were unknown."""
        items = [body] if isinstance(body, dict) else body
        if not isinstance(items, list) or not items:
            raise BadRequest("body: expected a feedback object or a non-empty array of them")
        served = self.holder.current
        parsed: list[tuple[str, int, Any]] = []
        for i, item in enumerate(items):
            try:
                entry = FeedbackItem.model_validate(item)
            except ValidationError as exc:
                raise _invalid(exc, [] if isinstance(body, dict) else [i]) from None
            parsed.append((entry.request_id, entry.row, _label(served, entry.label, i)))
        stamp = time.time()

        def attach(connection: sqlite3.Connection) -> list[tuple[str, int]]:
            unknown = []
            with connection:
                for request_id, row, label in parsed:
                    cursor = connection.execute(
                        "UPDATE predictions SET label = ?, labelled_at = ? "
                        "WHERE request_id = ? AND row = ?",
                        (_dumps(label), stamp, request_id, row),
                    )
                    if cursor.rowcount == 0:
                        unknown.append((request_id, row))
                    elif served.needs_labels:
                        # The label also feeds its entity's target history, for later readings.
                        (inputs,) = connection.execute(
                            "SELECT inputs FROM predictions WHERE request_id = ? AND row = ?",
                            (request_id, row),
                        ).fetchone()
                        served.learn_label(json.loads(inputs), label)
            return unknown

        try:
            unknown = await asyncio.wait_for(
                asyncio.wrap_future(self.log.submit(attach)), _FEEDBACK_TIMEOUT
            )
        except (sqlite3.Error, TimeoutError) as exc:
            raise BadRequest(
                f"the prediction log is unavailable ({exc}); retry later", 503
            ) from None
        updated = len(parsed) - len(unknown)
        self.metrics.feedback.inc(updated)
        return {
            "updated": updated,
            "unknown": [{"request_id": r, "row": k} for r, k in unknown],
        }

    def _count(self, served: ServedModel, items: list[dict[str, Any]]) -> None:
        """The input contract's tallies: columns ignored, categories never seen in training."""
        needed = served.inputs
        ignored: dict[str, int] = {}
        for item in items:
            for name in ignored_columns(item, dict.fromkeys(needed, "")):
                ignored[name] = ignored.get(name, 0) + 1
        for name, count in ignored.items():
            self.metrics.ignored.labels(name).inc(count)
        if served.vocabulary:
            columns = {name: [item.get(name) for item in items] for name in served.vocabulary}
            for name, count in count_unseen(columns, served.vocabulary).items():
                self.metrics.unseen.labels(name).inc(count)

    def _record(
        self,
        served: ServedModel,
        request_id: str,
        items: list[dict[str, Any]],
        outputs: list[dict[str, Any]],
        latency_us: float,
    ) -> None:
        stamp = time.time()
        # A request's own rows are encoded here (microseconds): left to the log thread, a
        # batch of them held the GIL long enough to show in every client's p99.
        self.log.append(_log_rows(served, request_id, items, outputs, latency_us, stamp))
        self.metrics.predictions.labels(served.version).inc(len(items))


def _predict_records(served: ServedModel, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outputs for validated records (with their features, for a model that has them)."""
    predictor = served.predictor
    if len(items) <= _ROW_BY_ROW:
        return [_guarded(functools.partial(predictor.predict_row, item))() for item in items]
    needed = list(predictor.input_schema)
    columns = {name: [item[name] for item in items] for name in needed}
    result = _guarded(lambda: predictor.predict(columns))()
    lists = {name: np.asarray(values).tolist() for name, values in result.items()}
    return [dict(zip(lists, values, strict=True)) for values in zip(*lists.values(), strict=True)]


def _explained(
    served: ServedModel, rows: list[dict[str, Any]], outputs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``outputs`` with each row's contributions added (after logging: the log keeps outputs)."""
    columns = {name: [row[name] for row in rows] for name in served.predictor.input_schema}
    reasons = _guarded(lambda: served.predictor.explain(columns))()
    lists = {name: np.asarray(values).tolist() for name, values in reasons.items()}
    return [
        {**output, **dict(zip(lists, values, strict=True))}
        for output, values in zip(outputs, zip(*lists.values(), strict=True), strict=True)
    ]


def _log_rows(
    served: ServedModel,
    request_id: str,
    records: Sequence[Mapping[str, Any]],
    outputs: Sequence[dict[str, Any]],
    latency_us: float,
    stamp: float,
) -> list[LogRow]:
    n = len(records)
    return [
        (
            request_id,
            i,
            stamp,
            served.version,
            served.backend,
            latency_us,
            n,
            _dumps(records[i]),
            _dumps(outputs[i]),
            served.score_of(outputs[i]),
        )
        for i in range(n)
    ]


def _validate(served: ServedModel, items: list[Any]) -> None:
    for i, item in enumerate(items):
        try:
            served.record.model_validate(item)
        except ValidationError as exc:
            raise _invalid(
                exc, [i] if len(items) > 1 or not isinstance(item, dict) else []
            ) from None


def _invalid(exc: ValidationError, prefix: list[int]) -> BadRequest:
    errors = [
        {"loc": ["body", *prefix, *e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    shown = "; ".join(
        f"{'.'.join(str(part) for part in e['loc'][1:]) or 'body'}: {e['msg']}" for e in errors[:5]
    )
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return BadRequest(shown + more, 422, errors)


def _label(served: ServedModel, label: Any, index: int) -> Any:
    classes = served.predictor.classes
    if classes is None:
        if (
            isinstance(label, bool)
            or not isinstance(label, int | float)
            or not math.isfinite(label)
        ):
            raise BadRequest(f"feedback {index}: label: expected a finite number, got {label!r}")
        return float(label)
    for known in classes:
        if str(known) == str(label):
            return known
    raise BadRequest(
        f"feedback {index}: label {label!r} is not a class; expected one of: "
        f"{', '.join(map(str, classes))}"
    )


def _guarded(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return call()
        except DataError as exc:  # a value prep cannot read, named by column and row
            raise BadRequest(str(exc)) from None

    return run


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, default=str, allow_nan=False)
    except ValueError:  # NaN from an Arrow or CSV body: the log's JSON says null, as clients do
        return json.dumps(_finite(value), default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
