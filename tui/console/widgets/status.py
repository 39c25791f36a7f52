"""The status line: who hosts, which database, scheduler state, other nodes, health, time."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from cronsole.core.durations import format_duration
from cronsole.core.snapshot import Snapshot
from cronsole.core.store import POSTGRES

from ..text import health, literal, middle, tone


def shorter(path: str) -> str:
    """The database path relative to the working directory when it lies below it; for a
    PostgreSQL address, its host, database and schema."""
    if path.startswith(POSTGRES):
        parts = urlsplit(path)
        schema = re.search(r"search_path(?:%3D|=)(\w+)", parts.query)
        return f"pg {parts.hostname}/{parts.path.lstrip('/')}" + (
            f" ({schema.group(1)})" if schema else ""
        )
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


class StatusLine(Static):
    """Repainted only when what it says changes; the time of the last read is `StatusClock`."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)

    def __init__(self, role: str, database: str, node: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.role, self.database, self.node = role, shorter(database), node
        self.host = node.rsplit("-", 2)[0]  # node ids are host-pid-random
        self.shown = Text()

    def on_resize(self) -> None:
        self.shown = Text()
        self.watch_snapshot(self.snapshot)

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        line = self.line_for(snapshot)
        if line != self.shown:
            self.shown = line
            self.update(line, layout=False)  # always one line

    def line_for(self, snapshot: Snapshot | None) -> Text:
        """What matters most comes first: a narrow terminal cuts the path (in the middle, so
        its start and its file name stay), not the health."""
        line = Text()
        line.append(" cronsole ", style="bold reverse")
        line.append(f" {self.role.upper()} ", style="bold")
        if snapshot is None:
            line.append(" loading…")
        elif self.role == "observing" and not snapshot.scheduler_up:
            line.append(" ").append(" NO SCHEDULER ", style=f"bold reverse {tone('error')}")
            if snapshot.last_host_stopped is not None:
                age = int((snapshot.at - snapshot.last_host_stopped).total_seconds())
                line.append(f" stopped {format_duration(max(age, 0))} ago", style="bold")
            elif snapshot.last_host_beat is not None:
                age = int((snapshot.at - snapshot.last_host_beat).total_seconds())
                line.append(f" last beat {format_duration(max(age, 0))} ago", style="bold")
            line.append("  health ").append_text(health(snapshot.health))
        else:
            state = ("PAUSED ALL", "alert") if snapshot.paused_all else ("RUNNING", "good")
            line.append(" ").append(state[0], style=tone(state[1]))
            line.append("  health ").append_text(health(snapshot.health))
            others = [n for n in snapshot.nodes if n.id != self.node]
            hosts = sum(1 for n in others if n.role == "host")
            if others:
                line.append(f"  +{len(others)} node(s)" + (f", {hosts} hosting" if hosts else ""))
        line.append_text(literal(f"  on {self.host}  ", 30))
        room = max(12, self.size.width - line.cell_len - 1)
        return line.append_text(middle(self.database, room, style="dim"))


class StatusClock(Static):
    """The time of the last read, ticking each second: it shows the console is live, and
    repaints eight cells instead of the whole status line."""

    def show(self, at: datetime) -> None:
        self.update(f" {at.astimezone():%H:%M:%S} ", layout=False)  # apart from a cut path
