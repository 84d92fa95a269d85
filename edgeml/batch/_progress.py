"""A progress bar on stderr for a batch run: rows, rows/s and, when the size is known, the ETA.

Shown only to a person (stderr is a terminal) unless asked for; ``Bar(None, enabled=False)``
does nothing.

>>> with Bar(10, enabled=False) as bar:
...     bar.advance(10)
>>> bar.rows
10
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["Bar", "wanted"]


def wanted(progress: bool | None) -> bool:
    """Whether to show the bar: as asked, or when stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else progress


class Bar:
    """Counts rows; draws them when enabled."""

    def __init__(self, total: int | None, *, enabled: bool, label: str = "scoring") -> None:
        self.rows = 0
        self._progress: Progress | None = None
        if enabled:
            columns: list[ProgressColumn | str] = [
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,.0f} rows"),
                _Rate(),
                TimeElapsedColumn(),
            ]
            if total is not None:
                columns.append(TimeRemainingColumn())
            self._progress = Progress(*columns, console=Console(stderr=True))
            self._task = self._progress.add_task(label, total=total)

    def advance(self, rows: int) -> None:
        self.rows += rows
        if self._progress is not None:
            self._progress.update(self._task, advance=rows)

    def __enter__(self) -> Bar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


class _Rate(ProgressColumn):
    """Rows per second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s")
