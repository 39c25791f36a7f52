"""Turning data into things the console shows: always `Text`, never markup."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from cronsole.core.text import visible

# Each state is shown in a tone; with colour off (NO_COLOR) a tone is weight or reverse video,
# so a failure still stands out more than a success does.
COLOUR = {
    "bad": "bold red",
    "error": "red",
    "stopped": "magenta",
    "warn": "yellow",
    "alert": "bold yellow",
    "good": "green",
    "busy": "cyan",
    "quiet": "dim",
    "note": "bold magenta",
}
PLAIN = {
    "bad": "bold reverse",
    "error": "bold",
    "stopped": "bold reverse",
    "warn": "bold",
    "alert": "bold underline",
    "good": "",
    "busy": "",
    "quiet": "dim",
    "note": "bold",
}
TONES = dict(COLOUR)


def use_colour(on: bool) -> None:
    """Choose the tones once, when the console starts (Textual's NO_COLOR filter turns colours
    into greys of about the background's brightness, which would hide red text)."""
    TONES.update(COLOUR if on else PLAIN)


def tone(kind: str) -> str:
    return TONES[kind]


HEALTH_TONE = {"OK": ("✔ OK", "good"), "WARN": ("▲ WARN", "warn"), "CRIT": ("✖ CRIT", "bad")}
STATUS_TONE = {
    "succeeded": "good",
    "running": "busy",
    "queued": "busy",
    "partial": "warn",
    "stopped_early": "warn",
    "failed": "bad",
    "abandoned": "bad",
    "timed_out": "bad",
    "interrupted": "stopped",
    "cancelled": "stopped",
    "skipped": "quiet",
    "missed": "quiet",
}


def literal(value: object, limit: int = 200, style: str = "") -> Text:
    """Untrusted text shown as it is: control characters visible, no markup interpreted."""
    return Text(
        "-" if value is None else visible(str(value), limit),
        style=style,
        no_wrap=True,
        overflow="ellipsis",
    )


def wrapped(value: object, style: str = "", limit: int = 20000) -> Text:
    """Untrusted text shown whole, wrapped to the width: its own lines kept, each escaped."""
    lines = ("-" if value is None else str(value)[:limit]).split("\n")
    return Text("\n".join(visible(line, limit) for line in lines), style=style, overflow="fold")


def middle(value: str, width: int, style: str = "") -> Text:
    """Untrusted text in at most `width` cells, cut in the middle: a path keeps its start and
    its file name."""
    shown = visible(value, 4000)
    if len(shown) > width:
        head = max(1, (width - 1) // 3)
        shown = shown[:head] + "…" + shown[len(shown) - (width - 1 - head) :]
    return Text(shown, style=style, no_wrap=True)


def health(status: str) -> Text:
    """Health as a word and a glyph, with colour only as a third cue."""
    label, kind = HEALTH_TONE.get(status, (status, ""))
    return Text(label, style=f"bold {tone(kind)}" if kind else "bold")


def status(value: str) -> Text:
    kind = STATUS_TONE.get(value)
    return Text(value, style=tone(kind) if kind else "")


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
