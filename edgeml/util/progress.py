"""Progress shown to people on stderr while a run works; silent for library callers by default."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

# Called once per boosting round with (round, metric name, validation value).
RoundCallback = Callable[[int, str, float], None]


class Reporter:
    """Status lines and a live boosting bar on stderr. ``Reporter(enabled=False)`` is silent."""

    def __init__(self, *, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)

    def status(self, message: str) -> None:
        """One line of what the run is doing now."""
        if self.enabled:
            self.console.print(f"[dim]·[/dim] {message}", highlight=False)

    @contextmanager
    def boosting(self, label: str, total: int) -> Iterator[RoundCallback]:
        """A progress bar over boosting rounds showing the live validation metric."""
        if not self.enabled or not self.console.is_terminal:
            yield _ignore
            return
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metric]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as progress:
            task = progress.add_task(label, total=total, metric="")

            def update(round_: int, name: str, value: float) -> None:
                progress.update(task, completed=round_, metric=f"valid {name} {value:.5f}")

            yield update


def _ignore(round_: int, name: str, value: float) -> None:
    return None


SILENT = Reporter(enabled=False)
