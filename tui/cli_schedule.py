"""`cronsole schedule EXPR`: a schedule in English and its next fire times, with DST notes."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Annotated

import typer

from cronsole.core.clock import parse_moment
from cronsole.core.errors import UsageError
from cronsole.core.scheduling.describe import describe
from cronsole.core.scheduling.triggers import ScheduleError, next_fire_times, parse_schedule
from cronsole.core.text import visible

from .output import emit_json


def schedule(
    expression: Annotated[
        str,
        typer.Argument(
            help="A crontab expression (quote it), every <N>s|m|h|d, or once <ISO datetime>."
        ),
    ],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone of the schedule.")] = "UTC",
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="List fires after this ISO date/time (in --tz unless it has an "
            "offset); default now.",
        ),
    ] = None,
    count: Annotated[
        int, typer.Option("-n", "--count", min=1, max=1000, help="How many fire times.")
    ] = 10,
    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Preview a schedule: what it means in English and when it fires next (DST noted)."""
    try:
        parsed = parse_schedule(expression, tz)
    except ScheduleError as exc:
        raise UsageError(str(exc)) from None
    after = _start(start, parsed.tz) if start else datetime.now(UTC)
    fires = next_fire_times(parsed, after, count)
    if json:
        emit_json(
            {
                "schedule": parsed.text,
                "timezone": parsed.timezone,
                "description": describe(parsed),
                "after": after,
                "fires": [{"at": f.at, "note": f.note} for f in fires],
            }
        )
        return
    print(visible(f"{parsed.text}  {describe(parsed)}"))
    for fire in fires:
        note = f"  {fire.note}" if fire.note else ""
        print(f"  {fire.at:%a %Y-%m-%d %H:%M:%S %Z (UTC%z)}{note}")
    if not fires:
        print("  no fire times left")


def _start(text: str, tz: tzinfo) -> datetime:
    return parse_moment(text, "--from", tz)
