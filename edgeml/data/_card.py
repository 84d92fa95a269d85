"""The data card: where a dataset came from, stored in the bundle manifest."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from edgeml.errors import BundleError

__all__ = ["DataCard", "Dataset", "RowDigest", "fetched_facts", "file_facts"]


@dataclass(frozen=True, kw_only=True)
class DataCard:
    """Provenance of a dataset: its files (with sha256), shape, logical schema and assumptions.

    >>> card = DataCard(sources=[{"uri": "a.csv", "sha256": None, "bytes": None}], rows=2,
    ...                 columns=1, schema={"x": "int"}, read_at="2024-01-01T00:00:00+00:00",
    ...                 assumptions=[])
    >>> DataCard.from_dict(card.to_dict()) == card
    True
    """

    sources: list[dict[str, Any]]
    rows: int
    columns: int
    schema: dict[str, str]
    read_at: str
    assumptions: list[str]
    #: The date format of each column of non-ISO date text (absent from older cards).
    date_formats: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (copies, so the card cannot be changed through it)."""
        formats = {"date_formats": dict(self.date_formats)} if self.date_formats else {}
        return {
            "sources": [dict(s) for s in self.sources],
            "rows": self.rows,
            "columns": self.columns,
            "schema": dict(self.schema),
            "read_at": self.read_at,
            "assumptions": list(self.assumptions),
            **formats,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataCard:
        """Rebuild a card from :meth:`to_dict` output; a missing or unknown key is a BundleError."""
        if not isinstance(d, dict):
            raise BundleError(f"data card: expected a JSON object, got {type(d).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in d and n != "date_formats"]
        unknown = [k for k in d if k not in names]
        if missing or unknown:
            raise BundleError(
                f"data card: missing keys {missing} / unknown keys {unknown}; "
                f"expected exactly: {', '.join(names)}"
            )
        return cls(
            sources=[dict(s) for s in d["sources"]],
            rows=int(d["rows"]),
            columns=int(d["columns"]),
            schema={str(k): str(v) for k, v in d["schema"].items()},
            read_at=str(d["read_at"]),
            assumptions=[str(a) for a in d["assumptions"]],
            date_formats={str(k): str(v) for k, v in d.get("date_formats", {}).items()},
        )


@dataclass(frozen=True)
class Dataset:
    """A frame (one dtype per logical type) and the card describing where it came from."""

    frame: pl.DataFrame
    card: DataCard


def file_facts(path: Path, uri: str) -> dict[str, Any]:
    """The card entry of one input file: its uri as given, its resolved path, sha256 and size.

    ``path`` is absolute so the file is found again (by ``edgeml retrain``) from any working
    directory; ``uri`` stays as the user wrote it, for display.
    """
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return {
        "uri": uri,
        "path": str(path.resolve()),
        "sha256": digest,
        "bytes": path.stat().st_size,
    }


class RowDigest:
    """sha256 of rows as fetched from a database or an API: the rows written as CSV (header
    once, then every batch in order), so the same rows give the same digest however they were
    batched.

    >>> a, b = RowDigest(), RowDigest()
    >>> a.update(pl.DataFrame({"x": [1, 2, 3]}))
    >>> b.update(pl.DataFrame({"x": [1]})); b.update(pl.DataFrame({"x": [2, 3]}))
    >>> a.hexdigest() == b.hexdigest(), a.rows
    (True, 3)
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._header = True
        self.rows = 0

    def update(self, frame: pl.DataFrame) -> None:
        """Add the rows of ``frame`` (the first frame also adds the header)."""
        if frame.width == 0:
            return
        self._hash.update(frame.write_csv(include_header=self._header).encode())
        self._header = False
        self.rows += frame.height

    def hexdigest(self) -> str:
        """The sha256 so far, as hex."""
        return self._hash.hexdigest()


def fetched_facts(
    kind: str, uri: str, what: dict[str, Any], digest: RowDigest, **extra: Any
) -> dict[str, Any]:
    """The card entry of a database or API source: ``uri`` (already without credentials),
    the table, query or endpoint in ``what``, the row count, the sha256 of the rows as fetched
    (:class:`RowDigest`) and when they were fetched.

    >>> facts = fetched_facts("postgresql", "postgresql://ann@h/db", {"table": "t"}, RowDigest())
    >>> sorted(facts)
    ['fetched_at', 'kind', 'rows', 'sha256', 'table', 'uri']
    """
    return {
        "kind": kind,
        "uri": uri,
        **what,
        "rows": digest.rows,
        "sha256": digest.hexdigest(),
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
