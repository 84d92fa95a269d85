"""Time-series features batch by batch, equal to computing them on all rows at once.

:func:`edgeml.features.apply_features` sees a whole frame; a stream sees one batch at a time.
:class:`FeatureCarry` keeps what the next batch needs from earlier ones: the last rows of each
entity (as many as the longest lag, row window or target-history reach, plus those inside the
longest time span) and, for exponentially weighted means, which reach back to an entity's first
row, the state itself. Each batch is computed behind its entities' context rows, and the EWM
columns are recomputed from the carried state (a leading row holding the state restarts the
kernel's recurrence exactly where it stopped).

This is exact when each entity's rows arrive in time order across batches (within a batch any
order is fine, ties keep arrival order, as in the one-shot sort). A row older than one of its
entity's rows in an earlier batch would change features already written, so it raises
:class:`~edgeml.errors.DataError` naming the row.

>>> from edgeml.spec.feature_plan import FeaturePlan, LagStep
>>> plan = FeaturePlan(time_col="t", entity_col="m", steps=[LagStep(columns=["x"], lags=[1])])
>>> carry = FeatureCarry(plan)
>>> one = pl.DataFrame({"t": [1, 1], "m": ["a", "b"], "x": [1.0, 5.0]})
>>> two = pl.DataFrame({"t": [2], "m": ["a"], "x": [2.0]})
>>> carry.apply(one)["x_lag_1"].to_list(), carry.apply(two)["x_lag_1"].to_list()
([nan, nan], [1.0])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from edgeml.errors import DataError
from edgeml.features import apply_features
from edgeml.kernels import ewm_alpha, ewm_mean
from edgeml.spec.feature_plan import (
    EwmStep,
    FeaturePlan,
)

__all__ = ["FeatureCarry"]

_KEY, _TIME, _ROW, _HISTORY = "__key", "__time", "__row", "__history"


class FeatureCarry:
    """Apply ``plan`` to consecutive batches of one stream (see the module docstring)."""

    def __init__(self, plan: FeaturePlan, *, larger: str = "a larger batch (--batch-rows)") -> None:
        self.plan = plan
        self.larger = larger  # what a user makes larger when rows are out of order across batches
        rows, span, labels = plan.reach()
        # a row's label history ends labels rows back; one more keeps the row before it
        self.rows, self.span = max(rows, labels + 1), span
        selected = set(plan.selected)
        # (output name, input column, halflife) of every selected EWM output
        self.ewm = [
            (f"{c}_ewm_{h:g}", c, h)
            for s in plan.steps if isinstance(s, EwmStep)
            for c in s.columns for h in s.halflives if f"{c}_ewm_{h:g}" in selected
        ]  # fmt: skip
        self._codes: dict[str, int] = {}  # entity name -> __key, the same in every batch
        self._context: pl.DataFrame | None = None  # input rows (and __history) of earlier batches
        self._state: pl.DataFrame | None = None  # __key, then per EWM output: state and "seen"

    def apply(
        self,
        frame: pl.DataFrame,
        *,
        target: np.ndarray | None = None,
        source: str = "data",
        where: Callable[[int], str] | None = None,
    ) -> pl.DataFrame:
        """``frame`` with the plan's selected features, computed as if every earlier batch
        came first. ``target`` is the encoded target (NaN where unknown) for target history;
        ``where(row)`` names a row of this batch in errors."""
        if not self.plan.selected:
            return frame
        batch = frame if target is None else frame.with_columns(pl.Series(_HISTORY, target))
        batch = batch.with_columns(self._keys(batch))
        context = self._context
        if context is not None:
            self._check_order(context, batch, where or (lambda r: f"{source} row {r + 1}"))
            combined = pl.concat([context, batch], how="vertical_relaxed")
        else:
            combined = batch
        skip = 0 if context is None else context.height
        raw = combined.drop(_KEY, _TIME, _HISTORY, strict=False)
        history = combined[_HISTORY].to_numpy() if _HISTORY in combined.columns else None
        featured = apply_features(self.plan, raw, target=history, source=source).slice(skip)
        if self.ewm:
            featured = featured.with_columns(self._ewm(batch))
        self._remember(combined)
        return featured

    # -- carried rows --------------------------------------------------------------------------

    def _check_order(self, context: pl.DataFrame, batch: pl.DataFrame, where: Callable) -> None:
        if self.plan.time_col is None or not self.plan.needs_time:
            return
        last = context.group_by(_KEY).agg(pl.col(_TIME).max().alias("__last"))
        joined = batch.select(_KEY, _TIME).with_row_index(_ROW).join(last, on=_KEY, how="left")
        late = joined.filter(pl.col(_TIME) < pl.col("__last")).sort(_ROW)
        if late.height:
            row = int(late[_ROW][0])
            name = self.plan.entity_col
            entity = f" of {name} {batch[name][row]!r}" if name else ""
            raise DataError(
                f"{where(row)}: a reading{entity} older than one in an earlier batch; "
                f"time-series input must be in time order per entity across batches: sort it "
                f"by {self.plan.time_col}, or use {self.larger}"
            )

    def _remember(self, combined: pl.DataFrame) -> None:
        """Keep each entity's last ``rows`` rows and those within ``span`` of its last time."""
        ordered = combined.with_row_index(_ROW).sort([_KEY, _TIME, _ROW])
        from_end = pl.int_range(pl.len()).reverse().over(_KEY)
        keep = from_end < self.rows
        if self.span:
            keep = keep | (pl.col(_TIME) > pl.col(_TIME).max().over(_KEY) - self.span)
        self._context = ordered.filter(keep).drop(_ROW)

    # -- exponentially weighted means ----------------------------------------------------------

    def _ewm(self, batch: pl.DataFrame) -> list[pl.Series]:
        """The EWM outputs of ``batch``'s rows, continued from each entity's carried state."""
        rows = batch.select(_KEY, _TIME, pl.int_range(pl.len(), dtype=pl.Int64).alias(_ROW))
        state = self._state
        names = [name for name, _, _ in self.ewm]
        values = batch.select(
            pl.col(c).cast(pl.Float64).fill_null(float("nan")).alias(n) for n, c, _ in self.ewm
        )
        body = pl.concat([rows, values], how="horizontal")
        if state is not None:
            lead = state.select(
                _KEY,
                pl.lit(None, dtype=pl.Int64).alias(_TIME),
                pl.lit(-1, dtype=pl.Int64).alias(_ROW),
                *names,
            )
            body = pl.concat([lead, body], how="vertical_relaxed")
        body = body.sort([_KEY, _TIME, _ROW], nulls_last=False)
        keys = body[_KEY].to_numpy()
        starts = np.flatnonzero(keys[1:] != keys[:-1]) + 1 if len(keys) else np.array([], int)
        offsets = np.concatenate(([0], starts, [len(keys)])).astype(np.int64)
        out: dict[str, np.ndarray] = {}
        for name, _, halflife in self.ewm:
            out[name] = ewm_mean(body[name].to_numpy(), offsets, halflife=halflife)
        smoothed = body.select(_KEY, _ROW).with_columns(pl.Series(n, v) for n, v in out.items())
        # An entity whose state went NaN after real values (opposite infinities) stays NaN,
        # where a restarted kernel would take the next value: keep the one-shot semantics.
        if state is not None:
            poisoned = state.select(
                _KEY,
                *[(pl.col(f"{n}__seen") & pl.col(n).is_nan()).alias(f"{n}__dead") for n in names],
            )
            smoothed = smoothed.join(poisoned, on=_KEY, how="left").with_columns(
                pl.when(pl.col(f"{n}__dead") & pl.lit(ewm_alpha(halflife=h) < 1.0))
                .then(float("nan")).otherwise(pl.col(n)).alias(n)
                for n, _, h in self.ewm
            )  # fmt: skip
        seen = body.group_by(_KEY, maintain_order=True).agg(
            pl.col(n).is_not_nan().any().alias(f"{n}__seen") for n in names
        )
        last = smoothed.group_by(_KEY, maintain_order=True).agg(pl.col(names).last())
        new_state = last.join(seen, on=_KEY)
        if state is not None:
            carried = state.select(_KEY, *[f"{n}__seen" for n in names])
            new_state = new_state.join(carried, on=_KEY, how="left", suffix="__old").with_columns(
                (pl.col(f"{n}__seen") | pl.col(f"{n}__seen__old").fill_null(False))
                .alias(f"{n}__seen") for n in names
            ).drop([f"{n}__seen__old" for n in names])  # fmt: skip
            new_state = pl.concat(
                [state.join(new_state, on=_KEY, how="anti"), new_state], how="vertical_relaxed"
            )
        self._state = new_state
        result = smoothed.filter(pl.col(_ROW) >= 0).sort(_ROW)
        return [result[n] for n in names]

    def _keys(self, batch: pl.DataFrame) -> list[pl.Series]:
        """The entity key and the time as int64, grouped as apply_features groups. The key is
        the entity's name (text, null as "") numbered in order of first appearance in the
        stream: sorting and joining integers costs a fraction of doing so on text."""
        plan, n = self.plan, batch.height
        if not plan.entity_col:
            key = pl.Series(np.zeros(n, dtype=np.int64))
        else:
            names = batch[plan.entity_col].cast(pl.String).fill_null("")
            seen = {
                name: self._codes.setdefault(name, len(self._codes))
                for name in names.unique(maintain_order=True).to_list()
            }
            key = names.replace_strict(seen, return_dtype=pl.Int64)
        return [key.alias(_KEY), _times(batch, plan).alias(_TIME)]


def _times(batch: pl.DataFrame, plan: FeaturePlan) -> pl.Series:
    """The time as int64 (ns for dates and datetimes), zeros without a time feature."""
    n = batch.height
    if plan.time_col and plan.needs_time:
        series = batch[plan.time_col]
        if series.dtype.is_temporal():
            time = series.cast(pl.Datetime("ns")).dt.epoch("ns")
        else:
            time = series.cast(pl.Int64, strict=False)
    else:
        time = pl.Series(np.zeros(n, dtype=np.int64))
    return time.cast(pl.Int64)
