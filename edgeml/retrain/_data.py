"""Retraining data: the rows a challenger trains on and the holdout both models are scored on.

:func:`gather_rows` reads the new data, refuses any file the champion was already trained on
(same sha256, and same table or query of a database: the holdout must be rows neither model has
seen), keeps the labelled rows and holds out a share of them: the most recent rows when the model
has a time column, else a seeded random share. The rest is combined with the champion's rows as
``[retrain] window`` says:

* ``"all"``: the champion's rows plus the new ones;
* ``"new"``: the new rows only (the champion's data is not read at all);
* ``"sliding"``: both, sorted by time when there is a time column, keeping the last
  ``[retrain] max_rows``.

The champion's rows are re-read from the sources in its manifest's data card, each checked
against its recorded sha256. A source that is gone, was an in-memory frame, or whose sha256
changed is refused rather than skipped or read as it is now: either would silently train on a
different window than configured (and changed rows might even include the holdout), so the user
has to choose that explicitly with ``window = "new"``. The new rows are given the old data's
columns and types (extra columns are left out with a warning). The sources returned, with
absolute paths and without duplicates, become the challenger's data card, so that it can be
retrained in turn, the same way.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from edgeml.bundle import MANIFEST, sha256_file
from edgeml.config import Config, DataConfig, RetrainConfig
from edgeml.data import conform, last_watermark, logical_schema, read_data, redact
from edgeml.errors import DataError, SchemaError, SourceError
from edgeml.learn import has_label
from edgeml.spec.manifest import Manifest
from edgeml.util.progress import Reporter

__all__ = ["MIN_HOLDOUT_ROWS", "gather_rows"]

# Fewer held-out rows than this cannot show a gain beyond noise; refuse rather than pretend.
MIN_HOLDOUT_ROWS = 20
_IN_MEMORY = "<in-memory DataFrame>"
_SQLITE = "sqlite:///"
# Data-card kinds of sources fetched over the network (no file to re-read, rows re-fetched).
_FETCHED = frozenset({"postgresql", "http"})


@dataclass(frozen=True, kw_only=True)
class _Rows:
    """What the challenger trains on, what both are compared on, and where it all came from."""

    frame: pl.DataFrame
    holdout: pl.DataFrame
    counts: dict[str, int]
    sources: list[dict[str, Any]]
    warnings: list[str]


def gather_rows(
    new_data: str | Path,
    manifest: Manifest,
    trained: Config,
    settings: RetrainConfig,
    champion: Path,
    table: str | None,
    query: str | None,
    reporter: Reporter,
    since: str | None = None,
) -> _Rows:
    """Read the new rows, hold some out, and add the champion's rows as the window asks.

    With ``[data] watermark`` the new rows are those after ``since``, by default the latest
    watermark the champion's data card records: exactly the rows collected since it trained.
    """
    target = manifest.target.name
    source = str(new_data)
    old_sources = [dict(s) for s in manifest.data_card.sources]
    data = trained.data
    if data.watermark is not None and since is None:
        since = last_watermark(old_sources, data.watermark)
    if since is not None:
        data = dataclasses.replace(data, since=since)
    reporter.status(f"reading new data {redact(source)}")
    new = read_data(
        new_data, config=data, table=table, query=query, keep_raw=[target], required=[target]
    )
    _check_unseen(new.card.sources, old_sources)
    labelled = _labelled(new.frame, target, source)
    frame, holdout = _split_holdout(labelled, settings, trained, source)
    warnings: list[str] = []
    old_rows = 0
    if settings.window != "new":
        old = _read_old(old_sources, trained, target, champion, reporter)
        old_rows = old.height
        frame = pl.concat([old, _align(frame, old, source, warnings)], how="vertical")
        if settings.window == "sliding":
            if trained.train.time_col:
                frame = frame.sort(trained.train.time_col, maintain_order=True)
            frame = frame.tail(settings.max_rows)
    counts = {"old": old_rows, "new": labelled.height, "train": frame.height}
    counts["holdout"] = holdout.height
    sources = [*(old_sources if old_rows else []), *map(_absolute, new.card.sources)]
    return _Rows(
        frame=frame, holdout=holdout, counts=counts, sources=_dedupe(sources), warnings=warnings
    )


def _check_unseen(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> None:
    """The holdout must be rows neither model trained on: refuse the champion's own files."""
    seen = {_source_key(s) for s in old if s.get("sha256")}
    for entry in new:
        if _source_key(entry) in seen:
            raise DataError(
                f"{entry['uri']}: the champion was trained on this file (same sha256); "
                "retraining needs rows neither model has seen"
            )


def _labelled(frame: pl.DataFrame, target: str, source: str) -> pl.DataFrame:
    if target not in frame.columns:
        raise SchemaError(f"{source}: target column {target!r} not found; retraining needs labels")
    return frame.filter(has_label(frame[target], source=source))


def _split_holdout(
    frame: pl.DataFrame, settings: RetrainConfig, trained: Config, source: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows to train on, rows to compare on): the latest share by time, else a seeded share."""
    n = frame.height
    size = math.ceil(settings.holdout * n)
    if size < MIN_HOLDOUT_ROWS or size >= n:
        raise DataError(
            f"{source}: {n} labelled new rows; a {settings.holdout:g} holdout needs at least "
            f"{MIN_HOLDOUT_ROWS} of them and some left to train on (add rows or raise "
            "[retrain] holdout)"
        )
    time_col = trained.train.time_col
    if time_col:
        ordered = frame.sort(time_col, maintain_order=True)
        return ordered.head(n - size), ordered.tail(size)
    picked = np.zeros(n, dtype=bool)
    picked[np.random.default_rng(trained.train.seed).permutation(n)[:size]] = True
    mask = pl.Series(picked)
    return frame.filter(~mask), frame.filter(mask)


def _read_old(
    sources: list[dict[str, Any]], trained: Config, target: str, champion: Path, reporter: Reporter
) -> pl.DataFrame:
    """The champion's training rows, re-read from its data card after checking each sha256.

    A missing or changed source is an error, not a silent fall-back to the new rows: that would
    train on a different window than configured, and the user should choose it (window "new").
    """
    advice = 'restore it, or set [retrain] window = "new" to train on the new rows only'
    frames = []
    for entry in sources:
        uri = str(entry.get("uri"))
        if uri == _IN_MEMORY or not entry.get("sha256"):
            raise SourceError(
                f"{champion}: the champion was trained on {uri}, which cannot be read again; "
                'set [retrain] window = "new" to train on the new rows only'
            )
        if entry.get("snapshot"):
            frames.append(_snapshot(entry, trained, target, champion, advice))
            continue
        if entry.get("kind") in _FETCHED:
            frames.append(_refetch(entry, trained, target, champion, advice, reporter))
            continue
        # The resolved path the card records (a card written before it had one: the uri,
        # relative to where training ran), so any working directory finds the same file.
        given = uri[len(_SQLITE) :] if uri.startswith(_SQLITE) else uri
        path = Path(str(entry.get("path") or given))
        if not path.is_file():
            raise SourceError(f"{uri}: the champion's training data is gone; {advice}")
        if sha256_file(path) != entry["sha256"]:
            raise SourceError(
                f"{uri}: changed since the champion was trained (sha256 differs from the data "
                f"card in {champion / MANIFEST}); {advice}"
            )
        reporter.status(f"re-reading the champion's data {uri}")
        dataset = read_data(
            _SQLITE + str(path) if uri.startswith(_SQLITE) else str(path),
            config=_reread(trained, entry),
            table=entry.get("table"),
            query=entry.get("query"),
            keep_raw=[target],
        )
        frames.append(dataset.frame)
    schema = logical_schema(frames[0])
    return pl.concat(
        [conform(f, schema, source=s["uri"]) for f, s in zip(frames, sources, strict=True)]
    )


def _reread(trained: Config, entry: dict[str, Any]) -> DataConfig:
    """How to read a champion's source again: the same watermark bound, no new snapshot."""
    after = (entry.get("watermark") or {}).get("after")
    return dataclasses.replace(trained.data, snapshot=None, since=after)


def _snapshot(
    entry: dict[str, Any], trained: Config, target: str, champion: Path, advice: str
) -> pl.DataFrame:
    """The rows a source gave the champion, from the Parquet snapshot the card names."""
    path = Path(str(entry["snapshot"]))
    uri = str(entry.get("uri"))
    if not path.is_file():
        raise SourceError(f"{uri}: the snapshot {path} of the champion's rows is gone; {advice}")
    if sha256_file(path) != entry.get("snapshot_sha256"):
        raise SourceError(f"{uri}: the snapshot {path} changed since the champion was trained")
    # Stored after [data] drop and dtypes, and already past the watermark: read as it is.
    config = dataclasses.replace(
        trained.data, snapshot=None, since=None, watermark=None, drop=[], dtypes={}
    )
    return read_data(str(path), config=config, keep_raw=[target]).frame


def _refetch(
    entry: dict[str, Any],
    trained: Config,
    target: str,
    champion: Path,
    advice: str,
    reporter: Reporter,
) -> pl.DataFrame:
    """A database's or an API's rows fetched again; they must be the rows the card hashed."""
    uri = str(entry["uri"])
    reporter.status(f"fetching the champion's data again from {uri}")
    dataset = read_data(
        uri, config=_reread(trained, entry), table=entry.get("table"), query=entry.get("query"),
        keep_raw=[target],
    )  # fmt: skip
    if dataset.card.sources[0].get("sha256") != entry["sha256"]:
        raise SourceError(
            f"{uri}: its rows changed since the champion was trained (sha256 differs from the "
            f"data card in {champion / MANIFEST}); {advice}"
        )
    return dataset.frame


def _align(new: pl.DataFrame, old: pl.DataFrame, source: str, warnings: list[str]) -> pl.DataFrame:
    """The new rows with the old data's columns and types (extra columns left out, noted)."""
    missing = [c for c in old.columns if c not in new.columns]
    if missing:
        raise SchemaError(
            f"{source}: missing column(s) {', '.join(repr(c) for c in missing)} that the "
            "champion's training data has"
        )
    extra = [c for c in new.columns if c not in old.columns]
    if extra:
        warnings.append(f"{source}: column(s) not in the champion's data left out: {extra}")
    return conform(new, logical_schema(old), source=source)


def _absolute(entry: dict[str, Any]) -> dict[str, Any]:
    """A data-card source with an absolute path, so a later retrain finds it from anywhere."""
    uri = str(entry["uri"])
    if entry.get("kind") in _FETCHED:
        return entry
    if uri.startswith(_SQLITE):
        return {**entry, "uri": _SQLITE + str(Path(uri[len(_SQLITE) :]).absolute())}
    return {**entry, "uri": str(Path(uri).absolute())}


def _dedupe(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for s in sources:
        key = _source_key(s)
        if key not in seen:
            seen.add(key)
            kept.append(s)
    return kept


def _source_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    """Same rows: same file content, and the same table or query of a database."""
    return (entry.get("sha256"), entry.get("table"), entry.get("query"))
