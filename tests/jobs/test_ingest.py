"""Document ingest on a real storage tree and a real database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cronsole.core.clock import FrozenClock
from cronsole.core.commands import Commands
from cronsole.core.engine import Engine
from cronsole.core.errors import UsageError
from cronsole.core.models import ItemStatus, RunStatus
from tests.conftest import T0, Workspace, frozen, run_job

PERIOD = "2026-03"
CONFIG = f"""
[jobs.invoice-ingest]
time_budget = "50s"
[jobs.invoice-ingest.settings]
root = "storage"
period = "{PERIOD}"
batch_size = 3
settle_seconds = 10
"""


def add(ws: Workspace, rel: str, age: float, data: bytes = b"%PDF invoice\n") -> Path:
    """A file `age` seconds older than the frozen clock's start."""
    path = ws.root / "storage" / "invoices" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = T0.timestamp() - age
    os.utime(path, (stamp, stamp))
    return path


def company(rel: str) -> str:
    return f"Acme Ltd-131468980/2026/03/{rel}"


@pytest.fixture
def engine(workspace: Workspace, clock: FrozenClock) -> Engine:
    workspace.configure(CONFIG)
    return workspace.engine(clock, builtin=True)


def documents(engine: Engine) -> dict[str, dict[str, Any]]:
    return {r.key: r.data for r in engine.store.query_records("document", limit=1000)}


def test_oldest_first_at_most_batch_size_per_tick(engine: Engine, workspace: Workspace) -> None:
    for n in range(7):
        add(workspace, company(f"sales/inv-{n}.pdf"), age=1000 - n)
    first = run_job(engine, "invoice-ingest")
    assert first.processed == 3 and first.status is RunStatus.SUCCEEDED
    assert sorted(d["path"] for d in documents(engine).values()) == [
        f"invoices/{company(f'sales/inv-{n}.pdf')}" for n in range(3)
    ]
    run_job(engine, "invoice-ingest")
    run_job(engine, "invoice-ingest")
    assert len(documents(engine)) == 7
    assert run_job(engine, "invoice-ingest").processed == 0


def test_a_document_has_company_period_type_hash_and_image_size(
    engine: Engine, workspace: Workspace
) -> None:
    path = add(workspace, company("purchase/scan.png"), age=100, data=b"")
    Image.new("RGB", (31, 17), (1, 2, 3)).save(path)
    os.utime(path, (T0.timestamp() - 100,) * 2)
    run_job(engine, "invoice-ingest")
    [doc] = documents(engine).values()
    assert (doc["company"], doc["eik"], doc["period"], doc["type"]) == (
        "Acme Ltd",
        "131468980",
        PERIOD,
        "purchase",
    )
    assert (doc["media_type"], doc["width"], doc["height"]) == ("image/png", 31, 17)
    assert doc["size"] == path.stat().st_size and len(str(doc["sha256"])) == 64


@pytest.mark.scenario("B2")
def test_files_still_being_written_wait_for_the_next_tick(
    engine: Engine, workspace: Workspace
) -> None:
    add(workspace, company("sales/old.pdf"), age=100)
    add(workspace, company("sales/fresh.pdf"), age=-5)  # written moments ago (after T0)
    run_job(engine, "invoice-ingest")
    assert [d["path"].rsplit("/", 1)[-1] for d in documents(engine).values()] == ["old.pdf"]
    frozen(engine).advance(60)
    run_job(engine, "invoice-ingest")
    assert len(documents(engine)) == 2


@pytest.mark.scenario("B2")
def test_a_vanished_file_is_recorded_vanished_not_failed(
    engine: Engine, workspace: Workspace
) -> None:
    files = [add(workspace, company(f"sales/v{n}.pdf"), age=500 - n) for n in range(5)]
    run_job(engine, "invoice-ingest", batch_size="1")  # queues all, processes one
    files[1].unlink()
    run = run_job(engine, "invoice-ingest", batch_size="1")
    assert run.status is RunStatus.SUCCEEDED and run.failed == 0
    vanished = documents(engine)[f"invoices/{company('sales/v1.pdf')}"]
    assert vanished["status"] == "vanished"


@pytest.mark.scenario("S3")
def test_symlinks_are_never_followed_and_nothing_leaves_the_root(
    engine: Engine, workspace: Workspace, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    add(workspace, company("sales/real.pdf"), age=100)
    link = workspace.root / "storage" / "invoices" / company("sales/link.pdf")
    link.symlink_to(secret)
    outside = tmp_path / "elsewhere" / "2026" / "03" / "sales"
    outside.mkdir(parents=True)
    (outside / "x.pdf").write_text("x")
    (workspace.root / "storage" / "invoices" / "Evil Co-123456789").symlink_to(
        tmp_path / "elsewhere"
    )
    run_job(engine, "invoice-ingest")
    assert [d["path"].rsplit("/", 1)[-1] for d in documents(engine).values()] == ["real.pdf"]


def test_hostile_names_are_recorded_literally(engine: Engine, workspace: Workspace) -> None:
    name = "evil \x1b]0;owned\x07[bold]x[/bold].pdf"
    add(workspace, company(f"sales/{name}"), age=100)
    run_job(engine, "invoice-ingest")
    [doc] = documents(engine).values()
    assert doc["path"] == f"invoices/{company('sales/' + name)}"


@pytest.mark.scenario("F12")
def test_a_failing_file_is_isolated_recorded_and_retried(
    engine: Engine, workspace: Workspace
) -> None:
    (workspace.root / "picky.py").write_text(
        "from pathlib import Path\n"
        "def check(path, doc):\n"
        "    if 'bad' in path.name and not Path(path.parent, 'fixed').exists():\n"
        "        raise ValueError('unreadable scan')\n"
        "    return {'checked': True}\n"
    )
    names = [f"f{n:03d}.pdf" for n in range(99)]
    names.insert(50, "bad.pdf")
    for n, name in enumerate(names):
        add(workspace, company(f"sales/{name}"), age=200 - n)
    run = run_job(engine, "invoice-ingest", processor="picky:check", batch_size="100")
    assert run.status is RunStatus.PARTIAL and (run.processed, run.failed) == (99, 1)
    [failed] = engine.store.list_items(job="invoice-ingest", status=ItemStatus.FAILED)
    assert failed.error == "ValueError: unreadable scan"
    assert engine.store.get_watermark("invoice-ingest").key.endswith("f098.pdf")  # type: ignore
    (workspace.root / "storage" / "invoices" / company("sales/fixed")).write_text("")
    frozen(engine).advance(120)
    again = run_job(engine, "invoice-ingest", processor="picky:check", batch_size="100")
    assert (again.processed, again.failed) == (1, 0)
    assert documents(engine)[f"invoices/{company('sales/bad.pdf')}"]["checked"] is True


@pytest.mark.scenario("L2")
def test_the_time_budget_stops_taking_files(engine: Engine, workspace: Workspace) -> None:
    (workspace.root / "slow.py").write_text(
        "import sys\n"
        "def tick(path, doc):\n"
        "    sys.modules['tests.conftest'].CLOCK.advance(20)\n"
        "    return {}\n"
    )
    import tests.conftest as shared

    shared.CLOCK = engine.clock  # type: ignore[attr-defined]
    for n in range(6):
        add(workspace, company(f"sales/s{n}.pdf"), age=100 - n)
    run = run_job(engine, "invoice-ingest", processor="slow:tick", batch_size="6")
    assert run.status is RunStatus.STOPPED_EARLY
    assert (run.processed, run.left) == (2, 4)  # 40 s used; a third 20 s file would not fit
    mark = engine.store.get_watermark("invoice-ingest")
    assert mark is not None and mark.key.endswith("s1.pdf")
    nxt = run_job(engine, "invoice-ingest", batch_size="6")  # the next tick resumes after it
    assert (nxt.status, nxt.processed) == (RunStatus.SUCCEEDED, 4)
    assert sorted(documents(engine)) == sorted(
        f"invoices/{company(f'sales/s{n}.pdf')}" for n in range(6)
    )


def test_changing_the_period_resets_the_watermark_and_bad_periods_are_refused(
    engine: Engine, workspace: Workspace
) -> None:
    add(workspace, company("sales/a.pdf"), age=100)
    run_job(engine, "invoice-ingest")
    assert engine.store.get_watermark("invoice-ingest") is not None
    result = Commands(engine).set("invoice-ingest", {"period": "2026-02"})
    assert result.result == "period → 2026-02 (watermark reset)"
    assert engine.store.get_watermark("invoice-ingest") is None
    for bad in ("2026-13", "26-01", "march"):
        with pytest.raises(UsageError, match="period must be YYYY-MM"):
            Commands(engine).set("invoice-ingest", {"period": bad})
