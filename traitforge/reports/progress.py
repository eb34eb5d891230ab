"""The progress display of long commands: a bar per step, with its rate in documents per
second where the step says how many documents it covers, and the time it has left."""
from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text


class DocsRateColumn(ProgressColumn):
    """Documents per second: the step's `docs` field, times the share of it done, over the
    time it has taken."""

    def render(self, task: Task) -> Text:
        docs = task.fields.get("docs")
        took = task.finished_time if task.finished else task.elapsed
        if not docs or not task.total or not task.completed or not took:
            return Text("")
        return Text(f"{docs * task.completed / task.total / took:,.0f} docs/s",
                    style="progress.data.speed")


def step_progress(console: Console, quiet: bool) -> Progress:
    """One bar per step: done of total, docs/s, elapsed and what is left (transient)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    DocsRateColumn(), TimeElapsedColumn(), TextColumn("left"),
                    TimeRemainingColumn(), console=console, transient=True, disable=quiet)
