"""A live log tail: batched appends, a line cap, follow that pauses when you scroll up."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import RichLog

from cronsole.core.logs import LEVELS
from cronsole.core.models import LogEntry
from cronsole.core.text import visible

from ..text import tone

LEVEL_TONE = {"WARNING": "warn", "ERROR": "bad", "CRITICAL": "bad"}


def format_entry(entry: LogEntry) -> Text:
    """One record as one Text: built from escaped strings, so nothing is taken as markup."""
    source = entry.job or "cronsole"
    if entry.job and entry.run_id:
        source = f"{entry.job}#{entry.run_id}"
    line = Text(f"{entry.at.astimezone():%H:%M:%S} ", style="dim")
    kind = LEVEL_TONE.get(entry.level)
    line.append(f"{entry.level:<7} ", style=tone(kind) if kind else "")
    line.append(visible(source, 60) + ": ", style="bold")
    line.append(visible(entry.message, 2000))
    return line


class LogPane(RichLog):
    BINDINGS = [
        Binding("f", "toggle_follow", "Follow"),
        Binding("w", "toggle_wrap", "Wrap"),
        Binding("l", "next_level", "Level"),
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    def __init__(self, keep: int = 5000, *, id: str | None = None) -> None:
        super().__init__(
            max_lines=keep, wrap=False, markup=False, highlight=False, auto_scroll=True, id=id
        )
        self.keep = keep
        self.follow = True
        self.min_level = "DEBUG"
        self.text_filter = ""
        self.runs: frozenset[int] | None = None  # only these runs' records, when set
        self.entries: list[LogEntry] = []

    def add_entries(self, entries: list[LogEntry]) -> None:
        self.entries = (self.entries + entries)[-self.keep :]
        self._write([entry for entry in entries if self._wanted(entry)])

    def _write(self, entries: list[LogEntry]) -> None:
        """One write per batch: each RichLog.write measures, scrolls and lays out again."""
        if entries:
            self.write(
                Text("\n").join(format_entry(entry) for entry in entries), scroll_end=self.follow
            )

    def _wanted(self, entry: LogEntry) -> bool:
        rank = LEVELS.index(entry.level) if entry.level in LEVELS else len(LEVELS)
        if rank < LEVELS.index(self.min_level):
            return False
        if self.runs is not None:
            return entry.run_id in self.runs
        text = f"{entry.job} #{entry.run_id} {entry.message}".lower()
        return self.text_filter.lower() in text

    def set_filter(self, text: str, runs: frozenset[int] | None = None) -> None:
        """Records containing `text`, or (when `runs` is given) the records of those runs."""
        self.text_filter, self.runs = text, runs
        self.refilter()

    def refilter(self) -> None:
        self.clear()
        self._write([entry for entry in self.entries if self._wanted(entry)])

    def _on_mouse_scroll_up(self, event: object) -> None:
        self.follow = False  # reading back: stop jumping to the end

    def action_scroll_up(self) -> None:
        self.follow = False
        super().action_scroll_up()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.auto_scroll = self.follow
        if self.follow:
            self.scroll_end(animate=False)
        self.notify(f"follow {'on' if self.follow else 'off'}")

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.refilter()
        self.notify(f"wrap {'on' if self.wrap else 'off'}")

    def action_next_level(self) -> None:
        self.min_level = LEVELS[(LEVELS.index(self.min_level) + 1) % len(LEVELS)]
        self.refilter()
        self.notify(f"showing {self.min_level} and above")
