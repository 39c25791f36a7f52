"""The demo's traffic job and the generators it shares with the demo workspace
(`cronsole.tui.demo`): invoices, model calls and tenants' evaluation runs.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cronsole.core import JobContext, Record, job

COMPANIES = [
    ("Acme Trading", "131468980"),
    ("Balkan Foods", "204556123"),
    ("Vitosha Soft", "175074752"),
    ("Rila Water", "8314072140001"),
    ("Sofia Print", "121723356"),
]
TENANTS = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "wonka",
    "tyrell",
    "cyberdyne",
    "[bold]evil[/bold]\x1b[31m",
    "broken-corp",
]
SYMBOLS = [
    "AAPL",
    "MSFT",
    "GOOG",
    "AMZN",
    "NVDA",
    "META",
    "TSLA",
    "SAP",
    "ASML",
    "SHEL",
    "BNP",
    "ING",
    "SIE",
    "ALV",
    "OR",
    "MC",
    "NESN",
    "ROG",
    "NOVN",
    "AIR",
]
USERS = [f"user-{n:02d}" for n in range(1, 16)]


def write_invoice(root: Path, rng: random.Random, period: str, n: int, now: datetime) -> Path:
    company, eik = rng.choice(COMPANIES)
    kind = rng.choice(["sales", "purchase", "credit-note"])
    folder = root / "invoices" / f"{company}-{eik}" / period.replace("-", "/") / kind
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%H%M%S")
    if n % 10 == 0:
        from PIL import Image  # only here: the demo jobs load with every engine

        path = folder / f"scan-{n:04d}-{stamp}.png"
        image = Image.new(
            "RGB", (rng.randint(40, 120), rng.randint(40, 160)), (rng.randint(0, 255), 120, 200)
        )
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        path.write_bytes(buffer.getvalue())
    else:
        path = folder / f"invoice-{n:04d}-{stamp}.{rng.choice(['pdf', 'xml'])}"
        path.write_bytes(f"invoice {n} of {company} ({eik}) for {period}\n".encode() * 20)
    return path


def call_record(rng: random.Random, at: datetime, status: str) -> Record:
    user = rng.choice(USERS)
    data = {
        "user": user,
        "tokens_in": rng.randint(50, 4000),
        "tokens_out": rng.randint(10, 900),
        "images": rng.choice([0, 0, 0, 1, 2]),
        "credits": round(rng.uniform(0.01, 2.0), 3),
    }
    at_text = at.astimezone(UTC).isoformat()
    return Record(
        f"call-{at_text}-{rng.getrandbits(32):08x}", data, grp=user, at=at_text, status=status
    )


def evaluation(rng: random.Random, tenant: str, now: datetime, n: int) -> tuple[str, Any, str]:
    """One evaluation run for the tenant queue: (key, payload, tenant)."""
    cases: list[dict[str, Any]] = (
        []
        if tenant == "broken-corp"
        else [
            {"input": k, "expected": k * 2, "output": k * 2 if rng.random() > 0.1 else k}
            for k in range(rng.randint(3, 12))
        ]
    )
    payload = {"suite": rng.choice(["smoke", "regression", "nightly"]), "cases": cases}
    return f"{tenant}:eval-{now.timestamp():.0f}-{n}", payload, tenant


@dataclass(frozen=True)
class TrafficSettings:
    root: str = "storage"


@job(name="demo-traffic", schedule="every 10s", settings=TrafficSettings, enabled=False)
def demo_traffic(ctx: JobContext[TrafficSettings]) -> dict[str, int]:
    """Demo only: new invoices, model calls and evaluation runs, so every pane moves."""
    rng = random.Random()
    now = ctx.now()
    period = now.astimezone(ctx.job.schedule.tz).strftime("%Y-%m")
    for _ in range(rng.randint(1, 3)):
        write_invoice(ctx.base_dir / ctx.settings.root, rng, period, rng.randint(0, 9999), now)
    calls = [
        call_record(rng, now - timedelta(seconds=rng.randint(0, 9)), "done")
        for _ in range(rng.randint(5, 15))
    ]
    ctx.records("model_call").put_many(calls)
    tenants = rng.sample([t for t in TENANTS if t != "broken-corp"], rng.randint(1, 3))
    ctx.enqueue_for("tenant-queue", [evaluation(rng, t, now, n) for n, t in enumerate(tenants)])
    ctx.add_progress(processed=len(calls) + len(tenants))
    return {"calls": len(calls), "evaluations": len(tenants)}
