"""The search's progress on stderr: trials done of total, best value so far, time left.

A live bar on a terminal, one line per trial otherwise (logs, CI); nothing for a silent
:class:`~edgeml.util.progress.Reporter` (library use).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from edgeml.util.progress import Reporter


class TrialMonitor:
    """Told about each finished trial; shows the progress through ``reporter``.

    >>> from edgeml.util.progress import SILENT
    >>> with TrialMonitor.start(SILENT, total=3, done=0, metric="r2", deadline=None) as monitor:
    ...     monitor.finished(number=0, state="complete", value=0.5, best=0.5)
    """

    def __init__(
        self, *, total: int, done: int, metric: str, deadline: float | None, show: Any
    ) -> None:
        self.total, self.done, self.metric, self.deadline = total, done, metric, deadline
        self._show = show
        self.best: float | None = None
        self._started = time.monotonic()
        self._run_trials = 0

    @classmethod
    @contextmanager
    def start(
        cls, reporter: Reporter, *, total: int, done: int, metric: str, deadline: float | None
    ) -> Iterator[TrialMonitor]:
        if not reporter.enabled:
            yield cls(total=total, done=done, metric=metric, deadline=deadline, show=None)
            return
        if not reporter.console.is_terminal:
            monitor = cls(total=total, done=done, metric=metric, deadline=deadline, show=None)
            monitor._show = reporter.status
            yield monitor
            return
        columns = (
            TextColumn("search"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TextColumn("[dim]{task.fields[left]}"),
        )
        with Progress(*columns, console=reporter.console, transient=True) as progress:
            task = progress.add_task("search", total=total, completed=done, best="", left="")
            monitor = cls(total=total, done=done, metric=metric, deadline=deadline, show=None)

            def show(_: str) -> None:
                progress.update(
                    task,
                    completed=monitor.done,
                    best=monitor.best_text,
                    left=monitor.left_text,
                )

            monitor._show = show
            yield monitor

    def finished(self, *, number: int, state: str, value: float | None, best: float | None) -> None:
        """Record one finished trial (``value`` None when it was pruned or failed)."""
        self.done += 1
        self._run_trials += 1
        self.best = best
        if self._show is None:
            return
        shown = f"{self.metric} {value:.4f}" if value is not None else state
        self._show(
            f"trial {number} ({self.done}/{self.total}): {shown}; {self.best_text}; "
            f"{self.left_text}"
        )

    @property
    def best_text(self) -> str:
        if self.best is None or math.isnan(self.best):
            return f"best {self.metric} —"
        return f"best {self.metric} {self.best:.4f}"

    @property
    def left_text(self) -> str:
        """The mean trial time times the trials left, or the time to the deadline if sooner."""
        now = time.monotonic()
        estimates = []
        if self.deadline is not None:
            estimates.append(max(0.0, self.deadline - now))
        if self._run_trials:
            per_trial = (now - self._started) / self._run_trials
            estimates.append(per_trial * max(0, self.total - self.done))
        if not estimates:
            return "time left —"
        return f"{_duration(min(estimates))} left"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
