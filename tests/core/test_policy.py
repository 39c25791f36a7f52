"""A job's policy: every option can be set in code and in cronsole.toml, is refused with its
location when bad, is shown by `config show`, and is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.config import load_settings
from cronsole.core.engine import load_jobs
from cronsole.core.errors import ConfigError
from cronsole.core.models import CatchUp, ItemStatus, Overlap, RunReason
from cronsole.core.policy import OPTIONS, CommitEvery, Policy, help_of
from tests.conftest import FixedRandom, Workspace, frozen, run_job
from tests.tui.conftest import run

JOBS = """
from cronsole.core import JobContext, job

@job(schedule="0 * * * *", jitter="2m", retry_base=1)
def plain(ctx: JobContext) -> None:
    '''Fails the item named bad.'''
    ctx.items.enqueue("bad")
    def handle(item):
        raise ValueError("no")
    ctx.items.drain(handle, limit=10)
"""

# each option as an operator writes it in TOML, and what it means (written out by hand)
SET = {
    "overlap": ('"queue"', Overlap.QUEUE),
    "catch_up": ('"all"', CatchUp.ALL),
    "catch_up_window": ('"2h"', 7200.0),
    "time_budget": ('"4m"', 240.0),
    "timeout": ('"1h30m"', 5400.0),
    "jitter": ("45", 45.0),
    "max_attempts": ("3", 3),
    "retry_base": ('"10s"', 10.0),
    "retry_cap": ('"5m"', 300.0),
    "commit_every": ('"2s"', CommitEvery(1000, 2.0)),
    "alert": ('["ops"]', ("ops",)),
    "on": ('["failed", "recovered"]', ("failed", "recovered")),
    "expect_every": ('"26h"', 93600.0),
}
BAD = {
    "overlap": ('"sometimes"', "is not one of skip, queue, allow"),
    "catch_up": ("3", "is not one of latest, all, none"),
    "catch_up_window": ('"soon"', "bad catch_up_window 'soon'"),
    "time_budget": ('"-5s"', "must not be negative"),
    "timeout": ("true", "bad timeout True"),
    "jitter": ('"nan"', "must be a finite number of seconds"),
    "max_attempts": ("0", "max_attempts must be at least 1"),
    "retry_base": ("[1]", "bad retry_base [1]"),
    "retry_cap": ('"1 fortnight"', "bad retry_cap '1 fortnight'"),
    "commit_every": ("1001", "commit_every must be from 1 to 1000 outcomes, got 1001"),
    "alert": ('["pager"]', "unknown alert channel 'pager' (known: ops)"),
    "on": ('["missed"]', "'missed' is not one of failed, partial, timed_out, stuck, health, recov"),
    "expect_every": ('"daily"', "bad expect_every 'daily'"),
}


def jobs_with(workspace: Workspace, table: str) -> dict[str, object]:
    channel = '[alerts.ops]\ntype = "command"\ncommand = ["true"]\n'  # after: lines stay
    workspace.write(JOBS, f"[jobs.plain]\n{table}\n\n{channel}")
    settings = load_settings(str(workspace.root / "cronsole.toml"), env=workspace.env())
    return load_jobs(settings)  # type: ignore[return-value]


def test_the_tables_cover_every_option() -> None:
    assert set(SET) == set(BAD) == set(OPTIONS)


@pytest.mark.parametrize("key", sorted(SET))
def test_each_option_set_in_the_config_overrides_the_code(workspace: Workspace, key: str) -> None:
    text, meant = SET[key]
    job = jobs_with(workspace, f"{key} = {text}")["plain"]
    assert getattr(job.policy, key) == meant  # type: ignore[attr-defined]


@pytest.mark.parametrize("key", sorted(BAD))
def test_a_bad_option_is_refused_at_its_line(workspace: Workspace, key: str) -> None:
    text, message = BAD[key]
    with pytest.raises(ConfigError) as caught:
        jobs_with(workspace, f"{key} = {text}")
    assert str(caught.value).startswith(f"{workspace.root / 'cronsole.toml'}:6: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "meant"),
    [("1", CommitEvery(1)), ("100", CommitEvery(100)), ('"250"', CommitEvery(250))],
)
def test_commit_every_takes_a_count_of_outcomes(
    workspace: Workspace, text: str, meant: CommitEvery
) -> None:
    job = jobs_with(workspace, f"commit_every = {text}")["plain"]
    assert job.policy.commit_every == meant  # type: ignore[attr-defined]
    assert job.policy.commit_every.grouped is (meant.items > 1)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "from 1 to 1000 outcomes, got 0"),
        ('"0s"', "a window must be longer than 0 and at most 60s"),
        ('"5m"', "a window must be longer than 0 and at most 60s"),
        ("true", "a number of outcomes or a window like '2s', got True"),
        ('"soon"', "bad commit_every 'soon'"),
    ],
)
def test_a_bad_commit_every_is_refused(workspace: Workspace, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        jobs_with(workspace, f"commit_every = {text}")


def test_the_code_keeps_what_the_config_does_not_set(workspace: Workspace) -> None:
    job = jobs_with(workspace, "max_attempts = 2")["plain"]
    assert job.policy == Policy(jitter=120.0, retry_base=1.0, max_attempts=2)  # type: ignore[attr-defined]


def test_an_unknown_job_option_in_code_is_named(workspace: Workspace) -> None:
    workspace.write(JOBS.replace('jitter="2m"', 'jiter="2m"'))
    settings = load_settings(str(workspace.root / "cronsole.toml"), env=workspace.env())
    with pytest.raises(ConfigError, match="unknown option 'jiter' \\(known: overlap, catch_up"):
        load_jobs(settings)


def test_retry_options_from_the_config_set_an_items_backoff(
    workspace: Workspace, clock: FrozenClock
) -> None:
    workspace.write(JOBS, '[jobs.plain]\nretry_base = "10s"\nretry_cap = "15s"\n')
    engine = workspace.engine(clock)
    engine.runner.rng = FixedRandom(0.0)  # the curve itself, no spread
    waits = []
    for _ in range(3):
        run = run_job(engine, "plain", RunReason.MANUAL)
        item = engine.store.get_item("plain", "bad")
        assert item is not None and item.status is ItemStatus.FAILED and item.not_before
        assert run.finished_at is not None
        waits.append(item.not_before - run.finished_at)
        frozen(engine).advance(3600)
    assert [round(w.total_seconds()) for w in waits] == [10, 15, 15]


def test_config_show_lists_each_option_with_its_source(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace.write(JOBS, '[jobs.plain]\noverlap = "queue"\n')
    code, out, _ = run(capsys, "--config", str(workspace.root / "cronsole.toml"), "config", "show")
    assert code == 0
    assert f"overlap = 'queue'  # {workspace.root / 'cronsole.toml'}:6" in out
    assert "jitter = '2m'  # cronsole_user.wsjobs" in out
    assert "retry_cap = '1h'  # default" in out


def test_the_readme_documents_each_option_with_its_default_and_help() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    shown = Policy().shown()
    for key in OPTIONS:
        row = f"| `{key}` | `{shown[key]}` | {help_of(key)} |"
        assert row in readme, f"README lacks the row for {key}: {row}"
    assert re.search(r"\| `\[jobs.NAME\]` key \| default \| meaning \|", readme)
