"""Processing periods written YYYY-MM: validated, stepped, and the current one in a zone."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def check_period(text: str) -> tuple[int, int]:
    """(year, month), or ValueError with a message an operator can act on."""
    match = PERIOD.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise ValueError(f"period must be YYYY-MM (e.g. 2025-02), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def step_period(text: str, months: int) -> str:
    year, month = check_period(text)
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def current_period(now: datetime, zone: str) -> str:
    return now.astimezone(ZoneInfo(zone)).strftime("%Y-%m")
