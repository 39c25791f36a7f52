"""Multi-tenant evaluation queue, its backlog health check, and history retention.

Evaluation runs are ledger items of `tenant-queue` (tenant = the tenant, payload = {"suite":
name, "cases": [{"expected": x, "output": y}, ...]}). Each tick takes up to `per_tenant`
pending runs of every tenant; tenants run side by side, each under a timeout, so one tenant's
failure or hang never holds up another (a hung tenant's late results are refused).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cronsole.core import (
    Health,
    Item,
    JobContext,
    StaleClaim,
    Thresholds,
    error_text,
    job,
    load_function,
)

Evaluator = Callable[[Item], dict[str, Any]]


@dataclass(frozen=True)
class QueueSettings:
    per_tenant: int = field(default=5, metadata={"min": 1, "max": 1000})
    tenant_timeout: float = field(default=120.0, metadata={"min": 0.1})
    evaluator: str = ""  # "module:function" taking the item; default: score the stored cases

    def __post_init__(self) -> None:
        if self.evaluator and ":" not in self.evaluator:
            raise ValueError(f"evaluator must be 'module:function', got {self.evaluator!r}")


def score(item: Item) -> dict[str, Any]:
    """Score stored test cases: a case passes when its output equals the expected value
    (numbers within 1e-9)."""
    cases = item.payload.get("cases") if isinstance(item.payload, dict) else None
    if not isinstance(cases, list) or not cases:
        raise ValueError("evaluation run has no test cases")
    passed = sum(1 for case in cases if _passes(case))
    return {
        "suite": item.payload.get("suite"),
        "cases": len(cases),
        "passed": passed,
        "failed": len(cases) - passed,
        "accuracy": round(passed / len(cases), 4),
    }


def _passes(case: Any) -> bool:
    if not isinstance(case, dict):
        return False
    expected, output = case.get("expected"), case.get("output")
    if isinstance(expected, int | float) and isinstance(output, int | float):
        return abs(expected - output) <= 1e-9
    return bool(expected == output)


def load_evaluator(name: str, base: Path) -> Evaluator:
    """An evaluator named "module:function"; the built-in `score` when the setting is empty."""
    return load_function(name, base) if name else score


@job(name="tenant-queue", schedule="*/5 * * * *", settings=QueueSettings, enabled=False)
def tenant_queue(ctx: JobContext[QueueSettings]) -> dict[str, Any]:
    """Run up to N pending evaluation runs of every tenant, tenants isolated from each other."""
    evaluate = load_evaluator(ctx.settings.evaluator, ctx.base_dir)
    claimed = ctx.items.claim(limit=1_000_000, per_tenant=ctx.settings.per_tenant, start=0)
    by_tenant: dict[str, list[Item]] = defaultdict(list)
    for item in claimed:
        by_tenant[item.tenant].append(item)
    # each tenant's first item starts now; each next one is marked with the outcome before it
    ctx.items.start([items[0] for items in by_tenant.values()])
    ctx.set_total(len(claimed))
    counts = {tenant: {"done": 0, "failed": 0, "timed_out": 0} for tenant in by_tenant}
    threads = {
        tenant: _start(ctx, evaluate, items, counts[tenant]) for tenant, items in by_tenant.items()
    }
    for tenant, thread in threads.items():
        thread.join(ctx.settings.tenant_timeout)
        if thread.is_alive():
            _time_out(ctx, tenant, by_tenant[tenant], counts[tenant])
    return {"tenants": counts}


def _start(
    ctx: JobContext[QueueSettings], evaluate: Evaluator, items: list[Item], counts: dict[str, int]
) -> threading.Thread:
    # A daemon thread: a hung evaluation must never keep the process from exiting.
    thread = threading.Thread(
        target=_run_tenant,
        args=(ctx, evaluate, items, counts),
        name=f"tenant-{items[0].tenant}"[:60],
        daemon=True,
    )
    thread.start()
    return thread


def _run_tenant(
    ctx: JobContext[QueueSettings], evaluate: Evaluator, items: list[Item], counts: dict[str, int]
) -> None:
    for n, item in enumerate(items):
        if ctx.cancelled:
            ctx.items.release(item)
            continue
        following = items[n + 1] if n + 1 < len(items) else None
        try:
            result = evaluate(item)
        except Exception as exc:
            _settle(ctx.items.fail, item, error_text(exc), following, counts, "failed")
        else:
            _settle(ctx.items.complete, item, result, following, counts, "done")


def _settle(
    action: Callable[..., None],
    item: Item,
    value: Any,
    following: Item | None,
    counts: dict[str, int],
    outcome: str,
) -> None:
    """Record the outcome, marking the tenant's next item started in the same write."""
    try:
        action(item, value, start_next=following)
        counts[outcome] += 1
    except StaleClaim:
        pass  # the tenant timed out and its item was failed already; the late result is refused


def _time_out(
    ctx: JobContext[QueueSettings], tenant: str, items: list[Item], counts: dict[str, int]
) -> None:
    limit = ctx.settings.tenant_timeout
    for item in items:
        try:
            ctx.items.fail(item, f"timeout: tenant {tenant!r} took longer than {limit:g}s")
            counts["timed_out"] += 1
        except StaleClaim:
            continue  # this one finished in time
    ctx.log.warning("tenant %r timed out after %gs; its other items were failed", tenant, limit)


@dataclass(frozen=True)
class HealthSettings:
    """Thresholds of the three signals; above `*_warn` a tenant is WARN, above `*_crit` CRIT."""

    queue_job: str = "tenant-queue"
    warn_above: int = field(default=20, metadata={"min": 0})  # backlog: pending + retrying
    crit_above: int = field(default=100, metadata={"min": 0})
    oldest_warn: float = field(default=3600.0, metadata={"min": 0})  # seconds waited
    oldest_crit: float = field(default=21600.0, metadata={"min": 0})
    failure_warn: float = field(default=0.1, metadata={"min": 0, "max": 1})  # share failed
    failure_crit: float = field(default=0.5, metadata={"min": 0, "max": 1})  # in a day

    def __post_init__(self) -> None:
        for low, high in (
            ("warn_above", "crit_above"),
            ("oldest_warn", "oldest_crit"),
            ("failure_warn", "failure_crit"),
        ):
            if getattr(self, high) < getattr(self, low):
                raise ValueError(f"{high} must not be below {low}")

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(
            self.warn_above,
            self.crit_above,
            self.oldest_warn,
            self.oldest_crit,
            self.failure_warn,
            self.failure_crit,
        )


@job(name="tenant-health", schedule="* * * * *", settings=HealthSettings, enabled=False)
def tenant_health_check(ctx: JobContext[HealthSettings]) -> dict[str, Any]:
    """Grade each tenant OK/WARN/CRIT by backlog, oldest pending age and the last day's
    failure rate, and store the report for every shell."""
    settings = ctx.settings
    tenants = ctx.grade_tenants(settings.queue_job, settings.thresholds)
    overall = Health.worst(t.status for t in tenants).value
    bad = [t for t in tenants if t.status is not Health.OK]
    if bad:
        ctx.log.warning(
            "tenants %s: %s",
            overall,
            ", ".join(f"{t.tenant} {t.status} ({t.reason})" for t in bad[:10]),
        )
    ctx.add_progress(processed=len(tenants))
    return {"overall": overall, "tenants": len(tenants), "unhealthy": len(bad)}


@dataclass(frozen=True)
class RetentionSettings:
    keep_days: int = field(default=90, metadata={"min": 1})
    chunk_size: int = field(default=1000, metadata={"min": 1, "max": 100_000})
    pause: float = field(default=0.05, metadata={"min": 0})  # seconds between chunks, so
    # other writers (the scheduler's tick claims) get the lock instead of waiting for the end


@job(name="retention", schedule="30 3 * * *", settings=RetentionSettings, enabled=False)
def retention(ctx: JobContext[RetentionSettings]) -> dict[str, int]:
    """Archive runs, finished items, commands and logs older than the retention, in chunks."""
    before = ctx.now() - timedelta(days=ctx.settings.keep_days)
    archived: dict[str, int] = {}
    for kind in ("runs", "items", "attempts", "commands", "logs"):
        archived[kind] = 0
        while ctx.can_start():
            moved = ctx.archive(kind, before, ctx.settings.chunk_size)
            if not moved:
                break
            archived[kind] += moved
            ctx.add_progress(processed=moved)
            ctx.sleep(ctx.settings.pause)
    return archived  # a budget or stop ends it between chunks; the next run continues
