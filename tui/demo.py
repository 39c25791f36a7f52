"""The demo workspace: every job family with data to chew on, and traffic that keeps coming.

`create_workspace(folder, seed, now)` writes cronsole.toml, a storage tree of invoices (some
real images, a few hostile names), a folder-provider inbox with batches, and seeds the database
with entities and prices, model calls (with a gap and stuck records) and a dozen tenants. The
seeding writes the store directly: it runs before any engine exists, so it lives with the
shells, not with the jobs.
"""

from __future__ import annotations

import base64
import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cronsole.core import Record, atomic_write
from cronsole.core.periods import step_period
from cronsole.core.store import Store, open_store
from cronsole.jobs.demo import COMPANIES, SYMBOLS, TENANTS, call_record, evaluation, write_invoice

HOSTILE_NAMES = [
    "invoice \x1b[31mRED\x1b[0m.pdf",
    "[link=javascript:alert(1)]click[@click=quit].pdf",
    "rtl\u202efdp.exe",
    "фактура №7.pdf",
    "zero\u200bwidth.pdf",
]


CONFIG = """# The cronsole demo workspace: every built-in job family, and traffic that keeps coming.
[cronsole]
database = "state/cronsole.db"
log_dir = "state/logs"
timezone = "Europe/Sofia"
grace_period = "10s"

[jobs.invoice-ingest]
time_budget = "40s"
[jobs.invoice-ingest.settings]
root = "storage"
batch_size = 40
settle_seconds = 2

[jobs.batch-check]
schedule = "every 5m"
[jobs.batch-check.settings]
provider = "folder"
inbox = "batches/inbox"
output_dir = "batches/results"
stuck_after_hours = 6

[jobs.nightly-entities]
schedule = "0 2 * * *"

[jobs.hourly-rollup]
[jobs.stale-sweeper]

[jobs.tenant-queue]
schedule = "every 1m"
max_attempts = 1   # broken-corp's runs fail once and stay failed (visible in its health)
[jobs.tenant-queue.settings]
per_tenant = 5
tenant_timeout = 30

[jobs.tenant-health]
[jobs.tenant-health.settings]
warn_above = 20
crit_above = 60

[jobs.retention]

[jobs.demo-traffic]
schedule = "every 10s"
"""


def create_workspace(folder: Path, seed: int, now: datetime) -> Path:
    """Write the files and seed the database; returns the config path."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "cronsole.toml"
    config.write_text(CONFIG)
    period = now.strftime("%Y-%m")
    write_invoices(folder / "storage", rng, now, [period, step_period(period, -1)])
    write_batches(folder / "batches" / "inbox", rng)
    store = open_store(str(folder / "state" / "cronsole.db"))
    try:
        seed_database(store, rng, now)
    finally:
        store.close()
    return config


def write_invoices(
    root: Path, rng: random.Random, now: datetime, periods: list[str], count: int = 300
) -> None:
    for n in range(count):
        write_invoice(root, rng, rng.choice(periods), n, now)
    target = (
        root
        / "invoices"
        / f"{COMPANIES[0][0]}-{COMPANIES[0][1]}"
        / periods[0].replace("-", "/")
        / "purchase"
    )
    target.mkdir(parents=True, exist_ok=True)
    for name in HOSTILE_NAMES:
        (target / name).write_bytes(b"%PDF-1.4 hostile name\n")
    escape = target / "escape.pdf"
    if not escape.exists():
        escape.symlink_to("/etc/passwd")  # must be skipped, never followed


def write_batches(inbox: Path, rng: random.Random) -> None:
    from PIL import Image  # only when a demo is made: the CLI loads this module

    image = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 144, 255)).save(image, format="PNG")
    lines = [
        {
            "custom_id": f"request-{n}",
            "response": {
                "status_code": 200,
                "body": {"choices": [{"message": {"content": f"answer {n}"}}]},
            },
            "error": None,
        }
        for n in range(5)
    ]
    lines.append(
        {
            "custom_id": "picture-1",
            "response": {
                "status_code": 200,
                "body": {"data": [{"b64_json": base64.b64encode(image.getvalue()).decode()}]},
            },
            "error": None,
        }
    )
    batches = {
        "batch_demo_done": ("completed", lines),
        "batch_demo_running": ("in_progress", []),
        "batch_demo_failed": ("failed", []),
    }
    for batch_id, (status, output) in batches.items():
        atomic_write(inbox / batch_id / "status.json", json.dumps({"status": status}).encode())
        if output:
            atomic_write(
                inbox / batch_id / "output.jsonl",
                "\n".join(json.dumps(line) for line in output).encode(),
            )


JOBS = [
    "invoice-ingest",
    "batch-check",
    "nightly-entities",
    "hourly-rollup",
    "stale-sweeper",
    "tenant-queue",
    "tenant-health",
    "retention",
    "demo-traffic",
]


def seed_database(store: Store, rng: random.Random, now: datetime) -> None:
    # As if the jobs last ticked yesterday: the first start catches up (`latest`) and runs
    # every job once, so the workspace has something to show at once.
    store.ensure_jobs(JOBS, now)
    for name in JOBS:
        store.record_tick(name, now - timedelta(days=1))
    seed_prices(store, rng, now)
    seed_calls(store, rng, now)
    seed_tenants(store, rng, now)
    store.put_records(
        "batch",
        [
            Record(
                batch_id,
                {
                    "provider": "folder",
                    "submitted_at": (now - timedelta(hours=hours)).isoformat(),
                    "remote_status": "submitted",
                    "polls": 0,
                },
                at=(now - timedelta(hours=hours)).isoformat(),
                status="submitted",
            )
            for batch_id, hours in (
                ("batch_demo_done", 2),
                ("batch_demo_running", 9),
                ("batch_demo_failed", 1),
            )
        ],
        now,
    )


def seed_prices(store: Store, rng: random.Random, now: datetime) -> None:
    store.put_records("entity", [Record(s, {"name": s}) for s in SYMBOLS], now)
    prices = []
    for symbol in SYMBOLS:
        close = rng.uniform(20, 500)
        for back in range(60, 0, -1):
            close *= 1 + rng.gauss(0, 0.02)
            day = (now - timedelta(days=back)).date().isoformat()
            prices.append(Record(f"{symbol}|{day}", {"close": round(close, 2)}, grp=symbol, at=day))
    store.put_records("price", prices, now)


def seed_calls(store: Store, rng: random.Random, now: datetime) -> None:
    """Twelve hours of calls with a five-hour gap, and a few stuck in processing."""
    calls = []
    for back_minutes in range(12 * 60, 0, -3):
        if 3 * 60 <= back_minutes < 8 * 60:
            continue  # the gap: nobody called for five hours
        calls.append(call_record(rng, now - timedelta(minutes=back_minutes), "done"))
    for back in (95, 70, 50, 45, 40):
        calls.append(call_record(rng, now - timedelta(minutes=back), "processing"))
    store.put_records("model_call", calls, now)
    store.set_state(
        "hourly-rollup",
        "last_hour",
        (now - timedelta(hours=13)).astimezone(UTC).strftime("%Y-%m-%dT%H:00"),
        now,
    )


def seed_tenants(store: Store, rng: random.Random, now: datetime) -> None:
    backlog = {"acme": 32, "globex": 12}
    for tenant in TENANTS:
        for n in range(backlog.get(tenant, rng.randint(1, 6))):
            key, payload, _ = evaluation(rng, tenant, now, n)
            store.enqueue("tenant-queue", key, now, payload=payload, tenant=tenant)
