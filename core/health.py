"""Per-tenant backlog health: computed from counters and indexed probes, stored for every shell.

Three signals grade a tenant, each against a warning and a critical threshold: its backlog
(pending plus failed awaiting a retry), the age of its oldest pending item, and the share of
its items that failed over the last day. The worst grade wins, and the report says which
signal set it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .durations import format_duration
from .store import Store


class Health(StrEnum):
    OK = "OK"
    WARN = "WARN"
    CRIT = "CRIT"

    @property
    def rank(self) -> int:
        return ("OK", "WARN", "CRIT").index(self.value)

    @staticmethod
    def worst(grades: Iterable[Health]) -> Health:
        """The worst of these grades; OK when there are none."""
        return max(grades, key=lambda h: h.rank, default=Health.OK)


@dataclass(frozen=True)
class Thresholds:
    """Above a `*_warn` value a tenant is WARN, above a `*_crit` one CRIT."""

    backlog_warn: int = 20
    backlog_crit: int = 100
    oldest_warn: float = 3600.0  # seconds the oldest pending item has waited
    oldest_crit: float = 6 * 3600.0
    failure_warn: float = 0.1  # share of the last day's outcomes that failed
    failure_crit: float = 0.5


@dataclass(frozen=True)
class TenantHealth:
    tenant: str
    pending: int
    running: int
    failed_24h: int
    oldest_pending_age: float | None  # seconds
    status: Health
    failure_rate: float | None = None  # failed / (done + failed) over the last day
    reason: str = ""  # which signal set the grade, in words ("" when OK)


def grade(value: float | None, warn: float, crit: float) -> Health:
    if value is None:
        return Health.OK
    if value > crit:
        return Health.CRIT
    return Health.WARN if value > warn else Health.OK


def _graded(
    pending: int, oldest: float | None, rate: float | None, limits: Thresholds
) -> tuple[Health, str]:
    """The worst of the three grades and the words for the signal that set it."""
    signals: list[tuple[Health, Callable[[Health], str]]] = [
        (
            grade(pending, limits.backlog_warn, limits.backlog_crit),
            lambda h: (
                f"backlog {pending} > "
                f"{limits.backlog_crit if h is Health.CRIT else limits.backlog_warn}"
            ),
        ),
        (
            grade(oldest, limits.oldest_warn, limits.oldest_crit),
            lambda h: (
                f"oldest pending {format_duration(oldest or 0)} > "
                + format_duration(limits.oldest_crit if h is Health.CRIT else limits.oldest_warn)
            ),
        ),
        (
            grade(rate, limits.failure_warn, limits.failure_crit),
            lambda h: (
                f"{(rate or 0):.0%} of the last day's items failed (> "
                f"{limits.failure_crit if h is Health.CRIT else limits.failure_warn:.0%})"
            ),
        ),
    ]
    worst = max((h for h, _ in signals), key=lambda h: h.rank)
    if worst is Health.OK:
        return worst, ""
    return worst, next(words(h) for h, words in signals if h is worst)


def tenant_health(
    store: Store,
    job: str,
    now: datetime,
    limits: Thresholds = Thresholds(),
    outcomes: bool = True,
) -> list[TenantHealth]:
    """Worst first. Backlog and age cost one probe per tenant; the failure rate reads the last
    day's outcomes (an index range, but as long as that day's ledger), which `outcomes=False`
    leaves out."""
    done_failed = store.outcomes_since(job, now - timedelta(days=1)) if outcomes else {}
    oldest = store.oldest_pending(job)
    found = []
    for c in store.tenant_counts(job):
        done, failed = done_failed.get(c.tenant, (0, 0))
        rate = failed / (done + failed) if done + failed else None
        age = (now - oldest[c.tenant]).total_seconds() if c.tenant in oldest else None
        status, reason = _graded(c.pending + c.failed, age, rate, limits)
        found.append(
            TenantHealth(
                tenant=c.tenant,
                pending=c.pending + c.failed,
                running=c.claimed,
                failed_24h=failed,
                oldest_pending_age=age,
                status=status,
                failure_rate=None if rate is None else round(rate, 4),
                reason=reason,
            )
        )
    return sorted(found, key=lambda h: (-h.status.rank, -h.pending, h.tenant))


def health_key(job: str) -> str:
    return f"health:{job}"


def save_health(
    store: Store, job: str, now: datetime, tenants: list[TenantHealth], limits: Thresholds
) -> dict[str, Any]:
    """Store the answer under a control key so the CLI, console and metrics agree."""
    report = {
        "job": job,
        "computed_at": now.isoformat(),
        "overall": Health.worst(t.status for t in tenants).value,
        "thresholds": asdict(limits),
        "tenants": [{**asdict(t), "status": t.status.value} for t in tenants],
    }
    store.set_control(health_key(job), report, now)
    return report
