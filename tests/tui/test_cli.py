"""The CLI as a CLI: arguments in, stdout/stderr and exit codes out, database checked after."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from cronsole.core.models import RunReason
from tests.conftest import T0, Workspace, job_module
from tests.tui.conftest import enter, run

JOBS = job_module("cli_jobs")


@pytest.fixture
def cli(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    workspace.write(JOBS)
    return enter(workspace, monkeypatch)


def test_jobs_json_shape(cli: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    cli.store().close()  # a database no scheduler has used yet
    code, out, _ = run(capsys, "jobs", "--json")
    assert code == 0
    jobs = {j["name"]: j for j in json.loads(out)}
    nightly = jobs["nightly"]
    assert {
        "name",
        "schedule",
        "description",
        "timezone",
        "next_run",
        "state",
        "pause_reason",
        "pause_until",
        "settings",
        "last_status",
    } <= set(nightly)
    assert nightly["state"] == "idle"
    assert nightly["description"] == "At 02:30 (Europe/Sofia)"
    assert nightly["settings"] == {"batch_size": 10} and nightly["last_status"] is None


def test_jobs_and_job_give_one_job_view_with_the_same_fields(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jobs --json` and `job NAME --json` agree field for field, whatever the state."""
    cli.store().close()  # a database no scheduler has used yet
    states = []
    for step in ((), ("pause", "nightly", "--reason", "disk swap"), ("pause", "--all")):
        if step:
            assert run(capsys, *step)[0] == 0
        listed = {j["name"]: j for j in json.loads(run(capsys, "jobs", "--json")[1])}["nightly"]
        detail = json.loads(run(capsys, "job", "nightly", "--json")[1])
        assert {key: detail[key] for key in listed} == listed
        states.append(listed["state"])
    assert states == ["idle", "paused", "paused"]  # a paused job stays paused under pause --all
    broken = {j["name"]: j for j in json.loads(run(capsys, "jobs", "--json")[1])}["broken"]
    assert broken["state"] == "held" and broken["next_run"] is None


def test_fire_here_runs_in_process_and_exits_with_the_outcome(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "fire", "nightly", "--here", "--set", "batch_size=4")
    assert code == 0 and "succeeded" in out
    code, out, err = run(capsys, "fire", "broken", "--here")
    assert code == 1 and "failed" in out
    assert "\x1b" not in out and "\\x1b]0;owned\\x07" in out  # shown literally
    code, out, _ = run(capsys, "runs", "--json")
    runs = json.loads(out)
    assert [(r["job"], r["status"], r["processed"]) for r in runs] == [
        ("broken", "failed", 0),
        ("nightly", "succeeded", 4),
    ]
    assert {
        "id",
        "job",
        "reason",
        "status",
        "scheduled_for",
        "started_at",
        "finished_at",
        "node",
        "total",
        "processed",
        "failed",
        "error",
    } <= set(runs[0])
    code, out, _ = run(capsys, "jobs", "--json")
    assert {j["name"]: j["last_status"] for j in json.loads(out)} == {
        "broken": "failed",
        "nightly": "succeeded",
    }


def test_pause_and_resume_are_audited(cli: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "pause", "nightly", "--reason", "disk swap", "--for", "2h")
    assert code == 0 and out.startswith("paused nightly until ")
    _, out, _ = run(capsys, "jobs", "--json")
    nightly = {j["name"]: j for j in json.loads(out)}["nightly"]
    assert nightly["state"] == "paused" and nightly["pause_reason"] == "disk swap"
    assert nightly["pause_until"]
    assert nightly["next_run"] is None
    assert run(capsys, "resume", "nightly")[1] == "resumed nightly\n"
    assert run(capsys, "resume", "nightly")[1] == "nightly was not paused\n"
    store = cli.store()
    audit = store.list_commands()
    store.close()
    assert [(c.action, c.status.value) for c in audit] == [
        ("resume", "applied"),
        ("resume", "applied"),
        ("pause", "applied"),
    ]
    assert audit[2].reason == "disk swap"


def test_set_changes_settings_from_now_on(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "set", "nightly", "batch_size=3")
    assert (code, out) == (0, "batch_size → 3\n")
    _, out, _ = run(capsys, "jobs", "--json")
    assert {j["name"]: j for j in json.loads(out)}["nightly"]["settings"] == {"batch_size": 3}
    code, _, err = run(capsys, "set", "nightly", "batch_size=zero")
    assert code == 2 and "expected a whole number" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (("fire", "nope"), "unknown job 'nope'"),
        (("pause", "nightly", "--for", "soon"), "bad --for 'soon'"),
        (("pause", "nightly", "--for", "-1h"), "must not be negative"),
        (("fire", "nightly", "--here", "--set", "batch_size=-1"), "below the minimum 1"),
        (("fire", "nightly", "--set", "batch_size"), "write key=value"),
        (("runs", "--limit", "-3"), "--limit"),
        (("runs", "--job", "nope"), "unknown job 'nope'"),
        (("jobs", "--bogus"), "No such option: --bogus"),
        (("pause",), "name one job, or give --all"),
        (("set", "nightly", "colour=red"), "unknown setting"),
        (("run", "99999999999999999999999"), "less than or equal to 9223372036854775807"),
        (("cancel", "99999999999999999999999"), "less than or equal to 9223372036854775807"),
        (("logs", "--run", "99999999999999999999999"), "less than or equal to"),
        (("pause", "nightly", "--for", "99999999999d"), "at most 3650d"),
        (
            ("backfill", "nightly", "--from", "0001-01-01", "--to", "0001-01-02"),
            "bad --from '0001-01-01': give a date from 1970 to 8999",
        ),
        (
            ("backfill", "nightly", "--from", "2026-01-01", "--to", "9999-12-31T23:59+00:00"),
            "give a date from 1970 to 8999",
        ),
        (("runs", "--since", "0001-01-01"), "bad --since '0001-01-01': give a date from 1970"),
        (("schedule", "0 3 * * *", "--from", "9999-12-31"), "give a date from 1970 to 8999"),
    ],
)
@pytest.mark.scenario("B4")
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    cli: Workspace, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    run(capsys, "resume", "nightly")  # create the database first, so "unchanged" can be checked
    before = cli.digest()
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert err.count("\n") == 1 and message in err and err.startswith("cronsole: ")
    assert cli.digest() == before


def test_fire_without_a_running_scheduler_says_so(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "fire", "nightly")
    assert code == 1 and "no scheduler is running" in err


@pytest.mark.scenario("B5")
def test_bad_config_exits_2_and_writes_nothing(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    (cli.root / "cronsole.toml").write_text(
        '[cronsole]\ndatabase = "state/cronsole.db"\n'
        'modules = ["wsjobs.py"]\n[jobs.nightly]\n'
        'schedule = "99 * * * *"\n'
    )
    for argv in (("jobs",), ("config", "check"), ("--no-tui",)):
        code, _, err = run(capsys, *argv)
        assert code == 2
        assert (
            err == f"cronsole: {cli.root / 'cronsole.toml'}:5: job nightly: bad schedule "
            "'99 * * * *': minute value 99 is out of range 0-59\n"
        )
    assert not (cli.root / "state").exists()


@pytest.mark.sqlite_only
@pytest.mark.scenario("B6")
def test_a_corrupt_database_exits_4_untouched(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.db.parent.mkdir(parents=True)
    cli.db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    before = cli.digest()
    for argv in (("jobs",), ("--no-tui",), ("pause", "nightly")):
        code, _, err = run(capsys, *argv)
        assert code == 4 and err.startswith("cronsole: ") and err.count("\n") == 1
    assert cli.digest() == before
    assert sorted(p.name for p in cli.db.parent.iterdir()) == ["cronsole.db"]


@pytest.mark.sqlite_only
@pytest.mark.scenario("B6")
def test_a_page_damaged_after_opening_is_reported_in_one_line(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """The open check no longer reads the whole file: damage deeper in is met by the query."""
    store = cli.store()
    for minute in range(3000):
        store.queue_run("nightly", T0 + timedelta(minutes=minute), RunReason.MANUAL, T0)
    store.close()
    conn = sqlite3.connect(cli.db)
    pages = [
        row[0]
        for row in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'runs' AND pagetype = 'leaf'"
        )
    ]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with cli.db.open("r+b") as handle:  # garbage over a leaf page in the middle of the runs
        handle.seek((pages[len(pages) // 2] - 1) * page_size)
        handle.write(b"\xff" * page_size)
    code, _, err = run(capsys, "runs", "--limit", "10000")
    assert code == 4 and err.count("\n") == 1
    assert err.startswith(f"cronsole: {cli.db}: the database is damaged: ")


def test_config_check_and_paths(cli: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "check")
    assert code == 0 and "2 job(s)" in out and "nightly: 30 2 * * *  (At 02:30" in out
    code, out, _ = run(capsys, "paths", "--json")
    found = json.loads(out)
    assert found["config"] == str(cli.root / "cronsole.toml")
    assert found["database"] == cli.address and not cli.created()


@pytest.mark.parametrize(
    "argv",
    [
        ("demo", "{folder}", "--no-tui", "--log-format", "bogus"),
        ("--log-format", "xml", "demo", "{folder}", "--no-tui"),
        ("--log-level", "loud", "demo", "{folder}", "--no-tui"),
    ],
)
def test_shared_options_are_checked_before_anything_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    folder = tmp_path / "demo"
    code, out, err = run(capsys, *(a.format(folder=folder) for a in argv))
    assert code == 2 and "is not one of" in err and err.count("\n") == 1
    assert not folder.exists()
