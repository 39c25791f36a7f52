"""Plain output for the CLI: aligned tables for people, JSON for scripts; data shown literally."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import humanize

from cronsole.core.text import acts_on_terminals, visible


def emit_json(value: Any, indent: int | None = 2) -> None:
    """Readable JSON (UTF-8 kept) in which nothing can act on a terminal: controls, C1, bidi
    and zero-width characters and lone surrogates are written as \\uXXXX escapes. With
    `indent=None`, one line (JSON Lines, flushed)."""
    text = json.dumps(value, indent=indent, default=_default, ensure_ascii=False)
    sys.stdout.write(
        "".join(f"\\u{ord(c):04x}" if acts_on_terminals(c) and c != "\n" else c for c in text)
        + "\n"
    )
    sys.stdout.flush()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[visible(_cell(v), 60) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def ago(when: datetime | None, now: datetime) -> str:
    """ "3 minutes ago", "in 2 hours", "now": for the CLI and the console's detail screens."""
    if when is None:
        return "-"
    return (
        humanize.naturaltime(now - when)
        if when <= now
        else "in " + humanize.naturaldelta(when - now)
    )
