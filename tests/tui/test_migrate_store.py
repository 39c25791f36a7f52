"""`cronsole migrate-store`: SQLite to PostgreSQL and back, every row, ids going on."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cronsole.core.models import Node, Overlap, Record, RunReason
from tests.conftest import T0, Workspace
from tests.procs import query
from tests.tui.conftest import enter, run
from tests.tui.test_cli import JOBS

TABLES = (
    "jobs",
    "job_state",
    "control",
    "nodes",
    "runs",
    "items",
    "tenant_counts",
    "commands",
    "logs",
    "records",
    "archive",
)


def fill(ws: Workspace) -> None:
    store = ws.store()
    store.ensure_jobs(["nightly", "broken"], T0)
    store.set_paused("nightly", True, T0, reason="maintenance \x1b[31m", by="op")
    for minute in range(30):
        store.insert_run(
            "nightly", T0 + timedelta(minutes=minute), RunReason.SCHEDULE, "n1", Overlap.ALLOW, T0
        )
    store.enqueue_many("nightly", [(f"k{n}", {"n": n}, f"t{n % 3}") for n in range(2500)], T0)
    [item] = store.claim_items("nightly", "n1", 1, T0, limit=1)
    store.complete_item(item, T0, result={"ok": True})
    store.add_command("pause", "op", "cli", T0, job="nightly", reason="why")
    store.put_records("entity", [Record("scan-\udcff", {"v": 1}, grp="g", at="2026")], T0)
    store.register_node(Node("n1", "host", "h", 1, T0, T0, "test"))
    store.stop_node("n1", T0)
    store.close()


def counts(address: str, ws: Workspace) -> dict[str, int]:
    probe = Workspace(ws.root, database=address)
    return {t: int(str(query(probe, f"SELECT count(*) FROM {t}")[0][0])) for t in TABLES}


def test_sqlite_to_postgres_and_back_copies_every_row(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    pg_address: str,
) -> None:
    target = pg_address
    workspace.write(JOBS)
    enter(workspace, monkeypatch)
    fill(workspace)
    before = counts(workspace.address, workspace)
    code, out, err = run(capsys, "migrate-store", target)
    assert code == 0, err
    assert "items              2,500 rows" in out and "password" not in out
    assert counts(target, workspace) == before

    moved = Workspace(workspace.root, database=target).store()
    paused = moved.job_state("nightly")
    assert paused is not None and paused.paused and paused.pause_reason == "maintenance \x1b[31m"
    assert moved.get_item("nightly", "k0") is not None
    assert moved.get_record("entity", "scan-\\udcff") is not None
    new = moved.insert_run(
        "nightly", T0 + timedelta(days=1), RunReason.MANUAL, "n2", Overlap.ALLOW, T0
    )
    assert new is not None and new.id == 31  # the id sequence goes on after the copied ids
    moved.close()

    back = workspace.root / "back.db"  # and back again, into a new SQLite file
    monkeypatch.setenv("CRONSOLE_DB", target)
    code, _, err = run(capsys, "migrate-store", str(back))
    assert code == 0, err
    after = counts(target, workspace)
    assert counts(str(back), workspace) == after and after["runs"] == 31


def test_a_target_with_data_or_a_live_node_is_refused_and_untouched(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    pg_address: str,
) -> None:
    target = pg_address
    workspace.write(JOBS)
    enter(workspace, monkeypatch)
    fill(workspace)
    assert run(capsys, "migrate-store", target)[0] == 0
    copied = Workspace(workspace.root, database=target).digest()
    code, _, err = run(capsys, "migrate-store", target)
    assert code == 2 and "already holds data (jobs)" in err and err.count("\n") == 1
    assert Workspace(workspace.root, database=target).digest() == copied

    store = workspace.store()
    store.register_node(Node("busy", "host", "h", 1, T0, datetime.now().astimezone(), "test"))
    store.close()
    code, _, err = run(capsys, "migrate-store", str(workspace.root / "other.db"))
    assert code == 2 and "nodes still run on" in err and "busy" in err
    assert not (workspace.root / "other.db").exists()
    code, _, err = run(capsys, "migrate-store", workspace.address)
    assert code == 2 and "the database in use" in err
