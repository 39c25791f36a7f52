"""Batch progress: every running run with a bar and the numbers operators read first."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from cronsole.core.durations import format_duration
from cronsole.core.models import Run, RunStatus
from cronsole.core.progress import progress

from ..text import literal, tone


def progress_cells(run: Run, now: datetime) -> Text:
    done = progress(run, now)
    text = Text(f"{done.processed}" + (f"/{done.total}" if done.total is not None else ""))
    if done.failed:
        text.append(f"  {done.failed} failed", style=tone("error"))
    if run.left:
        text.append(f"  stopped early, {run.left} left", style=tone("alert"))
    elif done.rate and not run.status.finished:
        text.append(f"  {done.rate:.1f}/s")
        if done.eta_seconds is not None:
            text.append(f"  ETA {format_duration(done.eta_seconds)}")
    return text


class ProgressPanel(Static):
    """Repaints only when something moved, and lays the screen out again only when its number
    of lines changes: an idle console repaints nothing here."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(Text(" no run in progress", style="dim"), **kwargs)  # type: ignore[arg-type]
        self.showing_runs = False
        self.lines = 1

    def show(self, runs: list[Run], now: datetime) -> None:
        running = [r for r in runs if r.status is RunStatus.RUNNING]
        if not running and not self.showing_runs:
            return
        lines = min(len(running), 6) + (len(running) > 6) or 1
        self.update(self.render_runs(running, now), layout=lines != self.lines)
        self.showing_runs, self.lines = bool(running), lines

    @staticmethod
    def render_runs(running: list[Run], now: datetime) -> RenderableType:
        if not running:
            return Text(" no run in progress", style="dim")
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(ratio=2, no_wrap=True)
        grid.add_column(ratio=3)
        grid.add_column(ratio=4, no_wrap=True)
        for run in running[:6]:
            bar = ProgressBar(
                total=float(run.total or 1),
                completed=float(run.processed + run.failed) if run.total else 0.0,
                pulse=run.total is None,
            )
            grid.add_row(literal(f"#{run.id} {run.job}"), bar, progress_cells(run, now))
        extra = len(running) - 6
        return Group(grid, Text(f" … and {extra} more", style="dim")) if extra > 0 else grid
