"""cronsole's fire times against references it shares no code with: the brute-force reference
beside this file (every zone, across DST) and cronsim (UTC, where both agree on the rules)."""

from __future__ import annotations

import random
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from cronsim import CronSim

from cronsole.core import fire_times
from cronsole.core.scheduling.triggers import ScheduleError
from tests.core.cron_reference import MACROS, Reference, transitions

ZONES = [
    "UTC",
    "Europe/Helsinki",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Africa/Casablanca",
    "Antarctica/Troll",
]
EDGES = [
    "0 0 */2 * *",
    "0 0 * * */2",
    "0 0 */2 * mon",
    "@daily",
    "@monthly",
    "@yearly",
    "@weekly",
    "@hourly",
    "* * * * 1",
    "0 0 * * *",
    "*/15 2 * * *",
    "14,30,40 2 * * *",
    "30 2 * * *",
    "0 0 1 * 0-6",
    "0 0 * * mon/2",
    "0 * * * *",
    "*/30 1 * * *",
    "30 1 * * *",
    "0,30 2,3 * * *",
    "59 23 * * *",
    "0 0 1 1 *",
    "0 0 29 2 *",
    "45 0 * * 0,7",
    "0 0-3 * * *",
    "*/7 0-4 * * *",
    "0 12 13 * fri",
    "15 3 * JAN-Dec SUN",
    "5/15 1-2 * * *",
    "0 22-23,0-1 * * *",
]
YEARS = (2026, 2028)
COUNT = 30


def corpus(size: int, seed: int) -> list[str]:
    """Valid expressions: lists, ranges, steps on `*` and on values, names in mixed case, 7."""
    rng = random.Random(seed)
    case = [str.lower, str.upper, str.title]

    def value(low: int, high: int, bias: tuple[int, ...], names: Sequence[str], base: int) -> str:
        v = rng.choice(bias) if bias and rng.random() < 0.5 else rng.randint(low, high)
        if names and rng.random() < 0.3 and v - base < len(names):
            return rng.choice(case)(names[v - base])
        return str(v)

    def field(
        low: int, high: int, bias: tuple[int, ...] = (), names: Sequence[str] = (), base: int = 0
    ) -> str:
        def element() -> str:
            kind = rng.choice(["*", "*/n", "v", "a-b", "a-b/n", "a/n"])
            step = str(rng.choice([2, 3, 5, 7, 10, 15]) if high > 12 else rng.randint(2, 4))
            a, b = sorted(rng.sample(range(low, high + 1), 2))
            a_text, b_text = value(a, a, (), names, base), value(b, b, (), names, base)
            return {
                "*": "*",
                "*/n": f"*/{step}",
                "v": value(low, high, bias, names, base),
                "a-b": f"{a_text}-{b_text}",
                "a-b/n": f"{a_text}-{b_text}/{step}",
                "a/n": f"{a_text}/{step}",
            }[kind]

        count = rng.choice([1, 1, 1, 2, 3])
        return ",".join(element() for _ in range(count))

    months = "jan feb mar apr may jun jul aug sep oct nov dec".split()
    days = "sun mon tue wed thu fri sat".split()
    out: list[str] = []
    while len(out) < size:
        text = " ".join(
            [
                field(0, 59, (0, 15, 30, 45, 59)),
                field(0, 23, (0, 1, 2, 3, 23)),
                field(1, 31, (1, 29, 30, 31)),
                field(1, 12, (3, 4, 9, 10), months, 1),
                field(0, 7, (0, 1, 7), days, 0),
            ]
        )
        try:
            fire_times(text, "UTC", datetime(2026, 1, 1, tzinfo=UTC), 1)
        except ScheduleError as exc:
            assert "never fires" in str(exc), (text, exc)
            assert (
                Reference(text, "UTC").fires(datetime(2026, 1, 1, tzinfo=UTC), 1, years=29) == []
            ), text
            continue
        out.append(text)
    return out


def starts(zone: str, rng: random.Random, n: int) -> list[datetime]:
    """Instants shortly before the zone's offset changes (or anywhere, in a zone without)."""
    changes = transitions(zone, *YEARS) or [datetime(2027, 6, 1, tzinfo=UTC)]
    picks = []
    for _ in range(n):
        before = rng.choice(
            [
                timedelta(minutes=rng.randint(0, 150)),
                timedelta(hours=rng.randint(0, 72)),
                timedelta(days=rng.randint(0, 60)),
            ]
        )
        picks.append(rng.choice(changes) - before)
    return picks


def disagreement(reference: Reference, text: str, zone: str, start: datetime) -> str | None:
    until = start + timedelta(days=365 * 6)
    # compared in UTC: aware datetimes in a repeated hour never equal another zone's (PEP 495)
    ours = [f.at.astimezone(UTC) for f in fire_times(text, zone, start, COUNT) if f.at < until]
    theirs = [at for at in reference.fires(start, COUNT, years=7) if at < until]
    if ours == theirs[: len(ours)] and len(ours) == min(COUNT, len(theirs)):
        return None
    extra = sorted(set(ours) - set(theirs))[:3]
    lost = sorted(set(theirs[: len(ours)]) - set(ours))[:3]
    return f"{text!r} in {zone} after {start.isoformat()}: extra {extra}, lost {lost}"


def sweep(texts: list[str], zones: list[str], per_zone: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    found = []
    for zone in zones:
        for text in texts:
            reference = Reference(text, zone)
            for start in starts(zone, rng, per_zone):
                if problem := disagreement(reference, text, zone, start):
                    found.append(problem)
    return found


def test_a_random_corpus_agrees_with_the_reference_in_the_named_zones() -> None:
    assert sweep(corpus(500, seed=13), ZONES, per_zone=2, seed=1) == []


def test_the_edge_cases_agree_at_every_change_of_the_named_zones() -> None:
    found = []
    for zone in ZONES:
        for text in EDGES:
            reference = Reference(text, zone)
            for change in transitions(zone, *YEARS) or [datetime(2027, 1, 1, tzinfo=UTC)]:
                for before in (timedelta(minutes=20), timedelta(hours=26)):
                    if problem := disagreement(reference, text, zone, change - before):
                        found.append(problem)
    assert found == []


def zones_that_change() -> list[str]:
    return sorted(
        z
        for z in zoneinfo.available_timezones()
        if not z.startswith(("Etc/", "SystemV/")) and transitions(z, *YEARS)
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_zone_that_changes_in_2026_to_2028_agrees_with_the_reference() -> None:
    texts = EDGES + corpus(20, seed=7)
    assert sweep(texts, zones_that_change(), per_zone=1, seed=2) == []


def test_utc_fire_times_agree_with_cronsim() -> None:
    """cronsim (healthchecks.io's evaluator) on the same corpus, where no DST rule applies."""
    rng = random.Random(5)
    for text in corpus(500, seed=13) + EDGES:
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 10**6))
        theirs = CronSim(MACROS.get(text, text), start.replace(tzinfo=None))
        horizon = datetime(start.year + 100, 1, 1, tzinfo=UTC)  # cronsole looks 100 years on
        expected = [
            at for at in (next(theirs).replace(tzinfo=UTC) for _ in range(COUNT)) if at < horizon
        ]
        assert [f.at for f in fire_times(text, "UTC", start, COUNT)] == expected, text
