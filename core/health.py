"""Per-tenant backlog health: computed from counters and indexed probes, stored for every shell."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .store import Store


class Health(StrEnum):
    OK = "OK"
    WARN = "WARN"
    CRIT = "CRIT"

    @property
    def rank(self) -> int:
        return ("OK", "WARN", "CRIT").index(self.value)


@dataclass(frozen=True)
class TenantHealth:
    tenant: str
    pending: int
    running: int
    failed_24h: int
    oldest_pending_age: float | None  # seconds
    status: Health


def grade(pending: int, warn: int, crit: int) -> Health:
    if pending > crit:
        return Health.CRIT
    return Health.WARN if pending > warn else Health.OK


def tenant_health(store: Store, job: str, now: datetime, warn: int,
                  crit: int) -> list[TenantHealth]:
    """Worst first; cost follows the number of tenants, never the size of the ledger."""
    failed = store.failed_since(job, now - timedelta(days=1))
    oldest = store.oldest_pending(job)
    found = [
        TenantHealth(
            tenant=c.tenant, pending=c.pending + c.failed, running=c.claimed,
            failed_24h=failed.get(c.tenant, 0),
            oldest_pending_age=(now - oldest[c.tenant]).total_seconds()
            if c.tenant in oldest else None,
            status=grade(c.pending + c.failed, warn, crit),
        )
        for c in store.tenant_counts(job)
    ]
    return sorted(found, key=lambda h: (-h.status.rank, -h.pending, h.tenant))


def overall(tenants: list[TenantHealth]) -> Health:
    return max((t.status for t in tenants), key=lambda h: h.rank, default=Health.OK)


def health_key(job: str) -> str:
    return f"health:{job}"


def save_health(store: Store, job: str, now: datetime, tenants: list[TenantHealth],
                warn: int, crit: int) -> dict[str, Any]:
    """Store the answer under a control key so the CLI, console and metrics agree."""
    report = {
        "job": job, "computed_at": now.isoformat(), "overall": overall(tenants).value,
        "warn_above": warn, "crit_above": crit,
        "tenants": [{**asdict(t), "status": t.status.value} for t in tenants],
    }
    store.set_control(health_key(job), report, now)
    return report
