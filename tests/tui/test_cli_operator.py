"""The operator CLI of issue #5: JSON shapes, exit codes, nothing written on bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronsole.core.models import Node, Overlap, RunReason, RunStatus, Watermark
from cronsole.core.store import Store
from tests.conftest import T0, Workspace
from tests.tui.conftest import enter, run

JOBS = '''
from __future__ import annotations
from dataclasses import dataclass
from cronsole.core import JobContext, job

@dataclass(frozen=True)
class Opts:
    period: str = "2025-01"
    api_key: str = "sk-live-abcdefgh1234"

@job(schedule="0 * * * *", settings=Opts, resets_watermark=("period",))
def hourly(ctx: JobContext[Opts]) -> None:
    """Hourly."""
'''


@pytest.fixture
def cli(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    workspace.write(JOBS, '[jobs.hourly.settings]\nperiod = "2025-03"\n')
    return enter(workspace, monkeypatch)


def store(ws: Workspace) -> Store:
    """The workspace's database, opened directly to seed or inspect it."""
    return ws.store()


def seed_tenants(ws: Workspace, pending: dict[str, int]) -> None:
    """Fresh backlogs (the CLI grades with the real clock: old ones would be CRIT by age)."""
    opened = store(ws)
    now = datetime.now(UTC)
    for tenant, count in pending.items():
        for n in range(count):
            opened.enqueue("hourly", f"{tenant}-{n}", now, tenant=tenant)
    opened.close()


def test_health_exit_code_follows_the_threshold(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_tenants(cli, {"calm": 20})
    code, out, _ = run(capsys, "health", "--json")
    assert code == 0 and json.loads(out)["overall"] == "OK"
    seed_tenants(cli, {"busy": 21})
    code, out, _ = run(capsys, "health", "--json")
    report = json.loads(out)
    assert code == 3 and report["overall"] == "WARN"
    assert {t["tenant"]: t["status"] for t in report["tenants"]} == {"busy": "WARN", "calm": "OK"}
    code, out, _ = run(capsys, "tenants", "--json")
    assert code == 0 and {t["tenant"] for t in json.loads(out)} == {"busy", "calm"}


def test_status_is_degraded_without_a_scheduler(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    store(cli).close()  # a database no scheduler has used yet
    code, out, _ = run(capsys, "status", "--json")
    report = json.loads(out)
    assert code == 3 and report["degraded"] and not report["scheduler"]["running"]
    opened = store(cli)
    now = datetime.now(UTC)
    opened.register_node(Node("host-1", "host", "h", 1, now, now, "0"))
    opened.close()
    code, out, _ = run(capsys, "status", "--json")
    report = json.loads(out)
    assert code == 0 and report["scheduler"]["hosts"][0]["node"] == "host-1"
    assert report["jobs"] == {"total": 1, "running": 0, "paused": 0}


def test_job_and_run_details(cli: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    opened = store(cli)
    created = opened.insert_run("hourly", T0, RunReason.SCHEDULE, "n", Overlap.SKIP, T0)
    assert created is not None
    opened.enqueue("hourly", "bad-item", T0)
    [item] = opened.claim_items("hourly", "n", created.id, T0, limit=1)
    opened.fail_item(item, T0, "ValueError: \x1b[2J nope", None)
    opened.finish_run(created.id, RunStatus.FAILED, T0, error="1 item failed")
    opened.close()
    code, out, _ = run(capsys, "job", "hourly", "--json")
    detail = json.loads(out)
    assert code == 0 and len(detail["next_fires"]) == 5
    assert detail["settings"]["period"] == "2025-03" and detail["runs"][0]["id"] == created.id
    code, out, _ = run(capsys, "run", str(created.id), "--failed", "--json")
    assert json.loads(out)["items"][0]["error"] == "ValueError: \x1b[2J nope"
    code, out, _ = run(capsys, "run", str(created.id), "--failed")
    assert "\\x1b[2J nope" in out and "\x1b" not in out
    assert run(capsys, "run", "999")[0] == 2
    assert run(capsys, "job", "nope")[0] == 2


def test_logs_and_audit(cli: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "pause", "hourly", "--reason", "migration")
    opened = store(cli)
    opened.add_logs(
        [
            (T0, "INFO", "hourly", 1, "x", "quiet"),
            (T0, "ERROR", "hourly", 1, "x", "loud \x1b]0;t\x07"),
        ]
    )
    opened.close()
    code, out, _ = run(capsys, "logs", "--job", "hourly", "--level", "error")
    assert code == 0 and "loud \\x1b]0;t\\x07" in out and "quiet" not in out
    assert run(capsys, "logs", "--level", "chatty")[0] == 2
    code, out, _ = run(capsys, "audit", "--since", "1h", "--json")
    [entry] = json.loads(out)
    assert (entry["action"], entry["reason"], entry["status"]) == ("pause", "migration", "applied")
    assert run(capsys, "audit", "--since", "yesterday-ish")[0] == 2


@pytest.mark.scenario("B4")
def test_period_backfill_dry_run_and_bad_input(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "period", "hourly", "2025-04")
    assert (code, out) == (0, "period → 2025-04 (watermark reset)\n")
    before = cli.digest()
    code, out, _ = run(
        capsys,
        "backfill",
        "hourly",
        "--from",
        "2026-01-01T00:00+00:00",
        "--to",
        "2026-01-01T02:00+00:00",
        "--dry-run",
    )
    assert code == 0 and out.splitlines()[-1] == "3 run(s) would be created"
    for argv in (
        ("period", "hourly", "2025-13"),
        ("backfill", "hourly", "--from", "soon", "--to", "later", "--dry-run"),
        ("cancel", "999"),
        ("retry", "999"),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1, argv
    assert cli.digest() == before
    code, _, err = run(capsys, "backfill", "hourly", "--from", "2026-01-01", "--to", "2026-01-02")
    assert code == 1 and "no scheduler is running" in err


@pytest.mark.scenario("S5")
def test_config_show_gives_sources_and_masks_secrets(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "config", "show")
    assert code == 0
    assert f"settings.period = '2025-03'  # {cli.root / 'cronsole.toml'}:6" in out
    assert "settings.api_key = '****1234'  # default" in out
    assert "abcdefgh" not in out


def test_init_writes_a_starter_config_that_checks(
    cli: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new.toml"
    code, out, _ = run(
        capsys,
        "init",
        str(target),
        "--enable",
        "tenant-queue",
        "--schedule",
        "batch-check=every 15m",
    )
    assert code == 0 and target.exists()
    text = target.read_text()
    assert "[jobs.tenant-queue]" in text and 'schedule = "every 15m"' in text
    assert run(capsys, "-c", str(target), "config", "check")[0] == 0
    for argv in (
        ("init", str(target)),
        ("init", str(tmp_path / "b.toml"), "--enable", "nope"),
        ("init", str(tmp_path / "c.toml"), "--schedule", "batch-check=every 1m"),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1, argv
    assert not (tmp_path / "b.toml").exists() and not (tmp_path / "c.toml").exists()


def test_init_writes_command_jobs_that_check_and_run(
    cli: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cmd.toml"
    argv = ("--command", "hello=/bin/echo 'hello there'", "--schedule", "hello=30 2 * * *")
    code, out, _ = run(capsys, "init", str(target), *argv)
    assert code == 0, out
    text = target.read_text()
    assert '[jobs.hello]\nschedule = "30 2 * * *"\ncommand = ["/bin/echo", "hello there"]' in text
    assert run(capsys, "-c", str(target), "config", "check")[0] == 0
    for bad in (
        ("--command", "hello=/bin/echo"),  # no schedule
        ("--command", "Hello=/bin/echo", "--schedule", "Hello=@daily"),  # not a job name
        ("--command", "hello=/bin/echo 'open", "--schedule", "hello=@daily"),
        ("--command", "hello", "--schedule", "hello=@daily"),
    ):
        code, _, err = run(capsys, "init", str(tmp_path / "bad.toml"), *bad)
        assert code == 2 and err.count("\n") == 1, bad
    assert not (tmp_path / "bad.toml").exists()


def test_doctor_passes_on_a_healthy_workspace(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "doctor")
    assert code == 0 and out.count("ok  ") == 5 and "WARN" not in out


def test_doctor_warns_when_the_environment_overrides_the_config_file(
    cli: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service unit once set CRONSOLE_DB, silently beating `database =` on every host."""
    cli.write(JOBS, '[jobs.hourly]\nschedule = "0 * * * *"\n')
    monkeypatch.setenv("CRONSOLE_DB", str(cli.root / "elsewhere.db"))
    monkeypatch.setenv("CRONSOLE_JOB_HOURLY_SCHEDULE", "*/5 * * * *")
    code, out, _ = run(capsys, "doctor")
    assert code == 0
    warned = [line for line in out.splitlines() if line.startswith("WARN")]
    assert warned == [
        f"WARN  environment: CRONSOLE_DB overrides database at {cli.root / 'cronsole.toml'}:2",
        "WARN  environment: CRONSOLE_JOB_HOURLY_SCHEDULE overrides the schedule at "
        f"{cli.root / 'cronsole.toml'}:6",
    ]


def test_runs_since(cli: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    opened = store(cli)
    now = datetime.now(UTC)
    for hours in (30, 1):
        opened.insert_run(
            "hourly",
            now - timedelta(hours=hours),
            RunReason.SCHEDULE,
            "n",
            Overlap.ALLOW,
            now - timedelta(hours=hours),
        )
    opened.close()
    code, out, _ = run(capsys, "runs", "--since", "2h", "--json")
    assert code == 0 and len(json.loads(out)) == 1


def test_shell_completion_scripts_are_offered(capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    cronsole = str(Path(sys.executable).with_name("cronsole"))
    # typer finds the shell among the parent processes, which a detached test run may not
    # have: run it under bash (`; exit` keeps bash from replacing itself with the command)
    out = subprocess.run(
        ["bash", "-c", f"'{cronsole}' --show-completion; exit $?"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and "_cronsole_completion" in out.stdout
    completed = subprocess.run(
        [cronsole],
        capture_output=True,
        text=True,
        timeout=30,
        env={
            "_CRONSOLE_COMPLETE": "complete_bash",
            "COMP_WORDS": "cronsole hea",
            "COMP_CWORD": "1",
            "PATH": "/usr/bin",
        },
    )
    assert "health" in completed.stdout


@pytest.mark.scenario("L5")
async def test_a_backlog_over_the_threshold_degrades_health_in_the_cli_and_the_console(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    from cronsole.tui.console.app import CronsoleApp
    from cronsole.tui.console.widgets.status import StatusLine
    from tests.tui.test_console import settle

    async def header() -> str:
        app = CronsoleApp(cli.engine(), None)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(app, pilot)
            return str(app.screen.query_one(StatusLine).render())

    seed_tenants(cli, {"calm": 3, "swamped": 25})
    assert run(capsys, "health")[0] == 3
    assert "health ▲ WARN" in await header()

    opened = store(cli)  # the backlog drains
    while claimed := opened.claim_items("hourly", "worker", None, T0, limit=100):
        for item in claimed:
            opened.complete_item(item, T0)
    opened.close()
    assert run(capsys, "health")[0] == 0
    assert "health ✔ OK" in await header()


def test_the_level_filter_applies_before_the_limit(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """22 warnings among 200 info lines: `--limit 50` shows all 22, not those of the last 50."""
    opened = store(cli)
    opened.add_logs(
        [
            (T0, "WARNING" if n % 9 == 0 else "INFO", "hourly", 1, "x", f"line {n}")
            for n in range(198)
        ]
    )
    opened.close()
    code, out, _ = run(capsys, "logs", "--level", "warning", "--limit", "50")
    assert code == 0
    assert [line.rsplit(" ", 1)[1] for line in out.splitlines()] == [
        str(n) for n in range(0, 198, 9)
    ]


READERS = (
    ("jobs",),
    ("runs",),
    ("status",),
    ("health",),
    ("tenants",),
    ("job", "hourly"),
    ("run", "1"),
    ("logs",),
    ("audit",),
    ("batches",),
)


@pytest.mark.sqlite_only  # the mistyped path is a file path
@pytest.mark.parametrize("argv", READERS, ids=lambda a: a[0])
def test_a_reading_command_on_a_database_that_does_not_exist_creates_none(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
) -> None:
    workspace.write(JOBS)
    enter(workspace, monkeypatch)
    typo = workspace.root / "stat" / "cronsole.db"  # a mistyped --db
    code, out, err = run(capsys, "--db", str(typo), *argv)
    assert code == 4 and out == ""
    assert err == f"cronsole: {typo}: no database here (start cronsole once to create it)\n"
    assert not typo.exists() and not typo.parent.exists()
    assert not workspace.db.exists()


def test_logs_config_show_and_doctor_speak_json(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    opened = store(cli)
    opened.add_logs([(T0, "WARNING", "hourly", 7, "x", "disk \x1b[2J low")])
    opened.close()
    code, out, _ = run(capsys, "logs", "--json")
    [entry] = [e for e in json.loads(out) if e["run_id"] == 7]
    assert (
        code == 0
        and (entry["level"], entry["job"], entry["message"])
        == ("WARNING", "hourly", "disk \x1b[2J low")
        and "\x1b" not in out
    )  # escaped, not raw
    code, out, _ = run(capsys, "config", "show", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["settings"]["database"]["value"] == cli.address
    assert shown["jobs"]["hourly"]["settings"] == {"api_key": "****1234", "period": "2025-03"}
    assert shown["jobs"]["hourly"]["schedule_source"] == "code"
    code, out, _ = run(capsys, "doctor", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["warnings"] == []
    assert [c["check"] for c in report["checks"]] == [
        "database",
        "permissions",
        "webp",
        "time zones",
        "clock",
    ]


def test_the_watermark_is_shown_set_and_reset_with_the_audit(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    opened = store(cli)
    opened.advance_watermark("hourly", Watermark("0001764547200.000000", "a/b.pdf"), T0)
    opened.close()
    code, out, _ = run(capsys, "job", "hourly")
    assert code == 0 and "  watermark        0001764547200.000000  key a/b.pdf\n" in out
    assert json.loads(run(capsys, "job", "hourly", "--json")[1])["watermark"] == {
        "at": "0001764547200.000000",
        "key": "a/b.pdf",
    }
    code, out, _ = run(
        capsys,
        "watermark",
        "hourly",
        "--set",
        "0001700000000.000000",
        "--reason",
        "re-read November",
    )  # backwards: only an operator may
    assert (code, out) == (
        0,
        "watermark of hourly set to '0001700000000.000000' (was "
        "'0001764547200.000000' 'a/b.pdf')\n",
    )
    assert json.loads(run(capsys, "watermark", "hourly", "--json")[1])["watermark"] == {
        "at": "0001700000000.000000",
        "key": "",
    }
    code, out, _ = run(capsys, "watermark", "hourly", "--reset")
    assert (code, out) == (0, "watermark of hourly reset (was '0001700000000.000000')\n")
    assert run(capsys, "watermark", "hourly")[1] == "hourly: no watermark\n"
    assert "  watermark        none\n" in run(capsys, "job", "hourly")[1]
    audit = json.loads(run(capsys, "audit", "--json")[1])
    assert [(a["action"], a["reason"]) for a in audit[:2]] == [
        ("watermark", None),
        ("watermark", "re-read November"),
    ]
    before = cli.digest()
    for argv, message in (
        (("--set", "x", "--reset"), "not both"),
        (("--key", "k"), "--key goes with --set"),
        (("--set", " "), "give the position, or use --reset"),
    ):
        code, _, err = run(capsys, "watermark", "hourly", *argv)
        assert code == 2 and message in err and err.count("\n") == 1
    assert run(capsys, "watermark", "nope", "--reset")[0] == 2
    assert cli.digest() == before
