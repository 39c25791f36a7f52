"""Turning data into things the console shows: always `Text`, never markup."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from cronsole.core.text import visible

HEALTH_STYLE = {"OK": ("✔ OK", "green"), "WARN": ("▲ WARN", "yellow"), "CRIT": ("✖ CRIT", "red")}
STATUS_STYLE = {
    "succeeded": "green",
    "running": "cyan",
    "queued": "cyan",
    "partial": "yellow",
    "stopped_early": "yellow",
    "failed": "red",
    "abandoned": "red",
    "timed_out": "red",
    "interrupted": "magenta",
    "cancelled": "magenta",
    "skipped": "dim",
    "missed": "dim",
}


def literal(value: object, limit: int = 200, style: str = "") -> Text:
    """Untrusted text shown as it is: control characters visible, no markup interpreted."""
    return Text(
        "-" if value is None else visible(str(value), limit),
        style=style,
        no_wrap=True,
        overflow="ellipsis",
    )


def health(status: str) -> Text:
    """Health as a word and a glyph, with colour only as a third cue."""
    label, colour = HEALTH_STYLE.get(status, (status, ""))
    return Text(label, style=f"bold {colour}")


def status(value: str) -> Text:
    return Text(value, style=STATUS_STYLE.get(value, ""))


def short_ago(when: datetime | None, now: datetime) -> str:
    """A compact age for narrow columns: 45s ago, 12m ago, 3h ago, 2d ago."""
    if when is None:
        return "-"
    seconds = max(0, int((now - when).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def countdown(when: datetime | None, now: datetime) -> str:
    """Seconds only in the last minute: a countdown that changes every second on every row
    would repaint the whole Jobs pane each second, which costs CPU and bandwidth over SSH."""
    if when is None:
        return "-"
    seconds = max(0, int((when - now).total_seconds()))
    if seconds < 60:
        return f"in {seconds}s"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours >= 48:
        return f"in {hours // 24}d"
    return f"in {hours}h{minutes:02d}m" if hours else f"in {minutes}m"
