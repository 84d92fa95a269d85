"""The manifest's ``data_card``: where the training data came from and what it looked like.

>>> card = DataCardInfo.from_dict({"sources": [{"uri": "a.csv", "sha256": "ab"}], "rows": 3,
...                                "columns": 2, "schema": {"x": "float", "y": "int"}})
>>> card.sources[0]["uri"], card.rows, card.rows_used
('a.csv', 3, None)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeml.spec.section import Section

__all__ = ["DataCardInfo"]


@dataclass(frozen=True, kw_only=True)
class DataCardInfo(Section):
    """Sources (each a JSON object: ``uri``, ``sha256``, ``bytes``, ...), rows and columns read,
    the inferred schema, when it was read, the assumptions made, and the rows used to train."""

    sources: tuple[dict[str, Any], ...] = ()
    rows: int | None = None
    columns: int | None = None
    schema: dict[str, str] = field(default_factory=dict)
    read_at: str | None = None
    assumptions: tuple[str, ...] = ()
    rows_used: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
