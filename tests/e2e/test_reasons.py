"""Every operator command takes `--reason`, and the reason lands in the audit with it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from tests.conftest import Workspace
from tests.procs import Proc, cli, start_host, wait_for

JOBS = '''
from dataclasses import dataclass
from cronsole.core import JobContext, job

@dataclass(frozen=True)
class Opts:
    period: str = "2026-01"
    size: int = 1

@job(schedule="0 * * * *", settings=Opts, resets_watermark=("period",))
def monthly(ctx: JobContext[Opts]) -> None:
    """Does nothing."""
'''


def test_every_operator_command_records_its_reason(workspace: Workspace, procs: list[Proc]) -> None:
    workspace.write(JOBS)
    start_host(workspace, procs)
    hour = (datetime.now().astimezone() - timedelta(hours=3)).replace(
        minute=0, second=0, microsecond=0
    )
    steps = [
        ("pause", "monthly"),
        ("resume", "monthly"),
        ("pause", "--all"),
        ("resume", "--all"),
        ("fire", "monthly", "--wait"),
        ("set", "monthly", "size=2"),
        ("period", "monthly", "2026-02"),
        ("retry", "1"),
        ("cancel", "1"),
        (
            "backfill",
            "monthly",
            "--from",
            hour.isoformat(),
            "--to",
            (hour + timedelta(minutes=30)).isoformat(),
        ),
    ]
    for argv in steps:
        done = cli(workspace, *argv, "--reason", f"because {argv[0]}")
        assert done.returncode in (0, 1), (argv, done.stderr)  # 1: cancel of a finished run

    def audited() -> list[tuple[str, str]]:
        rows = json.loads(cli(workspace, "audit", "--json", "--limit", "100").stdout)
        return sorted((r["action"], r["reason"]) for r in rows)

    wait_for(lambda: len(audited()) >= len(steps))
    assert audited() == sorted(
        [
            ("pause", "because pause"),
            ("resume", "because resume"),
            ("pause-all", "because pause"),
            ("resume-all", "because resume"),
            ("fire", "because fire"),
            ("set", "because set"),
            ("set", "because period"),
            ("retry", "because retry"),
            ("cancel", "because cancel"),
            ("backfill", "because backfill"),
        ]
    )
