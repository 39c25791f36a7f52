"""`--since` as operators write it: a duration back from now ("2h") or a date/time."""

from __future__ import annotations

from datetime import datetime, timedelta

from .clock import parse_moment
from .durations import parse_duration
from .errors import UsageError


def parse_since(text: str, now: datetime) -> datetime:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        try:
            return now - timedelta(seconds=parse_duration(text, "--since"))
        except UsageError:
            raise UsageError(
                f"bad --since {text!r}: use a duration (2h, 3d) or an ISO date/time"
            ) from None
    return parse_moment(text, "--since")
