"""The status line: who hosts, which database, scheduler state, other nodes, health, time."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from cronsole.core.snapshot import Snapshot

from ..text import health, literal


def shorter(path: str) -> str:
    """The database path relative to the working directory when it lies below it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


class StatusLine(Static):
    snapshot: reactive[Snapshot | None] = reactive(None, layout=False)

    def __init__(self, role: str, database: str, node: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.role, self.database, self.node = role, shorter(database), node
        self.host = node.rsplit("-", 2)[0]  # node ids are host-pid-random

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        self.update(self.line_for(snapshot))

    def line_for(self, snapshot: Snapshot | None) -> Text:
        line = Text()
        line.append(" cronsole ", style="bold reverse")
        line.append(f" {self.role.upper()} ", style="bold")
        line.append_text(literal(f"on {self.host}  ", 30))
        path = self.database if len(self.database) <= 28 else "…" + self.database[-27:]
        line.append_text(literal(path, 40, style="dim"))
        if snapshot is None:
            return line.append("  loading…")
        state = ("PAUSED ALL", "bold yellow") if snapshot.paused_all else ("RUNNING", "green")
        line.append("  ").append(state[0], style=state[1])
        others = [n for n in snapshot.nodes if n.id != self.node]
        hosts = sum(1 for n in others if n.role == "host")
        if others:
            line.append(f"  +{len(others)} node(s)" + (f", {hosts} hosting" if hosts else ""))
        line.append("  health ").append_text(health(snapshot.health))
        line.append(f"  {snapshot.at.astimezone():%H:%M:%S}")
        return line
