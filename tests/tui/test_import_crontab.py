"""`cronsole import-crontab` on realistic crontabs: a user's (`crontab -l`) and a system one
with a user field. Every schedule it writes is checked against cronsim, a crontab reference
that is not cronsole's, and the jobs it writes run as command jobs."""

from __future__ import annotations

import getpass
import subprocess
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cronsim
import pytest

from cronsole.core.config import load_settings
from cronsole.core.engine import load_jobs
from cronsole.core.scheduling.triggers import next_fire_times
from cronsole.jobs import builtin_modules
from tests.conftest import Workspace
from tests.procs import CRONSOLE

USER_CRONTAB = r"""# m h  dom mon dow   command
SHELL=/bin/sh
PATH=/usr/local/bin:/usr/bin:/bin
MAILTO="ops@example.com"

# nightly backup, then the report
30 2 * * *   /usr/local/bin/backup --all
45 2 * * 1-5 cd /srv/reports && ./build.sh > /tmp/report.log 2>&1
*/15 * * * * /usr/bin/curl -fsS https://example.com/ping
@daily       /usr/local/bin/backup --prune
@reboot      /usr/local/bin/start-tunnel
0 9 * * mon  echo "week starts" | mail -s hi me
0 6 1 * *    /usr/bin/date +\%Y-\%m-\%d
5 4 * * *    /usr/bin/mysqldump db%SELECT 1%
CRON_TZ=Europe/Sofia
0 3 * * sun  /usr/local/bin/rotate
61 * * * *  /bin/true
"""

SYSTEM_CRONTAB = f"""SHELL=/bin/bash
PATH=/usr/sbin:/usr/bin:/sbin:/bin
# m h dom mon dow user  command
17 *  * * *  {getpass.getuser()}  cd / && run-parts --report /etc/cron.hourly
25 6  * * *  {getpass.getuser()}  test -x /usr/sbin/anacron || run-parts /etc/cron.daily
"""


def cronsole(workspace: Workspace, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CRONSOLE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=workspace.env(),
        timeout=60,
    )


@pytest.fixture
def config(workspace: Workspace) -> Path:
    return workspace.configure('timezone = "UTC"\n')


def jobs_of(path: Path) -> dict[str, dict[str, object]]:
    return dict(tomllib.loads(path.read_text()).get("jobs", {}))


def test_a_user_crontab_becomes_command_jobs(workspace: Workspace, config: Path) -> None:
    before = config.read_text()
    done = cronsole(workspace, "import-crontab", "-", stdin=USER_CRONTAB)
    assert done.returncode == 0, done.stderr
    jobs = jobs_of(config)
    assert config.read_text().startswith(before)  # added to, never rewritten
    assert jobs["backup"]["command"] == ["/usr/local/bin/backup", "--all"]
    assert jobs["backup"]["schedule"] == "30 2 * * *"
    assert jobs["backup-2"]["schedule"] == "@daily"  # names derived, made unique
    assert jobs["build"]["shell"] is True  # `cd … && … >` needs the shell cron would use
    assert jobs["build"]["command"] == "cd /srv/reports && ./build.sh > /tmp/report.log 2>&1"
    assert jobs["date"]["command"] == "/usr/bin/date +%Y-%m-%d"  # \% is a literal %
    assert jobs["rotate"]["timezone"] == "Europe/Sofia"
    env = jobs["curl"]["env"]
    assert env == {
        "SHELL": "/bin/sh",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "MAILTO": "ops@example.com",
    }
    text = config.read_text()
    assert "# @reboot      /usr/local/bin/start-tunnel" in text
    assert "@reboot: cronsole runs jobs on a schedule" in text
    assert "an unescaped % (cron's standard input)" in text
    assert "# 61 * * * *  /bin/true" in text  # a bad schedule is kept, commented, with why
    assert "not imported" in done.stderr and "added 7 job(s)" in done.stdout
    loaded = load_jobs(load_settings(str(config), env={}), builtin_modules())
    assert loaded["backup"].description == "/usr/local/bin/backup --all"


@pytest.mark.parametrize("name", ["backup", "build", "curl", "echo", "date", "rotate"])
def test_each_imported_schedule_fires_when_cron_would(
    workspace: Workspace, config: Path, name: str
) -> None:
    assert cronsole(workspace, "import-crontab", "-", stdin=USER_CRONTAB).returncode == 0
    job = load_jobs(load_settings(str(config), env={}), builtin_modules())[name]
    zone = ZoneInfo(job.schedule.timezone)
    start = datetime(2026, 3, 25, 0, 0, tzinfo=zone)
    ours = next_fire_times(job.schedule, start, 12)
    reference = cronsim.CronSim(job.schedule.text.replace("@daily", "0 0 * * *"), start)
    theirs = [next(reference) for _ in range(12)]
    assert [f.at for f in ours] == [t for t in theirs], name
    assert ours[-1].at - ours[0].at < timedelta(days=400)


def test_a_system_crontab_keeps_the_user_and_shell(workspace: Workspace, config: Path) -> None:
    crontab = workspace.root / "crontab"
    crontab.write_text(SYSTEM_CRONTAB)
    done = cronsole(workspace, "import-crontab", str(crontab), "--system")
    assert done.returncode == 0, done.stderr
    jobs = jobs_of(config)
    assert jobs["run-parts"]["user"] == getpass.getuser()
    assert jobs["run-parts"]["command"] == [
        "/bin/bash",
        "-c",
        "cd / && run-parts --report /etc/cron.hourly",
    ]  # cron runs $SHELL -c: bash here, not sh


def test_dry_run_prints_and_changes_nothing(workspace: Workspace, config: Path) -> None:
    before = config.read_bytes()
    done = cronsole(workspace, "import-crontab", "--dry-run", stdin=USER_CRONTAB)
    assert done.returncode == 0
    assert "[jobs.backup]" in done.stdout
    assert config.read_bytes() == before


def test_a_crontab_that_would_not_load_changes_nothing(workspace: Workspace, config: Path) -> None:
    before = config.read_bytes()
    done = cronsole(
        workspace, "import-crontab", "--system", stdin="* * * * * no-such-user-xyz /bin/true\n"
    )
    assert done.returncode == 2
    assert "unchanged" in done.stderr and "no user 'no-such-user-xyz'" in done.stderr
    assert config.read_bytes() == before
    missing = cronsole(workspace, "import-crontab", str(workspace.root / "nope"))
    assert missing.returncode == 2 and "No such file" in missing.stderr


def test_imported_jobs_run(workspace: Workspace, config: Path) -> None:
    """What the import writes is a working job: fire it and read its output."""
    stdin = "0 5 * * * echo imported $((6 * 7))\n"
    assert cronsole(workspace, "import-crontab", stdin=stdin).returncode == 0
    fired = cronsole(workspace, "fire", "echo", "--here")
    assert fired.returncode == 0, fired.stderr
    shown = cronsole(workspace, "run", "1")
    assert shown.returncode == 0, shown.stderr
    assert "exit code 0; its last lines of output:\n  imported 42\n" in shown.stdout
