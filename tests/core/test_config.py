"""Configuration: TOML, then environment, then flags; every mistake as file:line: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronsole.core.config import load_settings
from cronsole.core.engine import load_jobs
from cronsole.core.errors import ConfigError, UsageError
from tests.conftest import Workspace

JOBS = '''
from cronsole.core import JobContext, job

@job(schedule="*/5 * * * *")
def invoice_ingest(ctx: JobContext) -> None:
    """Ingests."""
'''


def load(ws: Workspace, config: str, **env: str) -> object:
    path = ws.write(JOBS, config)
    settings = load_settings(str(path), env={**ws.env(), **env})
    return load_jobs(settings)


@pytest.mark.parametrize(
    "config, line, message",
    [
        ("[cronsole\n", 5, "TOML syntax"),
        ("colour = 1\n", 5, "unknown key 'cronsole.colour'"),
        ('grace_period = "soon"\n', 5, "bad grace_period 'soon'"),
        ("node_timeout = [30]\n", 5, "bad node_timeout [30]: use a number of seconds"),
        ("stale_timeout = {m = 5}\n", 5, "bad stale_timeout {'m': 5}"),
        ('stale_timeout = "-5m"\n', 5, "must not be negative"),
        ("log_backups = 0\n", 5, "positive whole number"),
        ('timezone = "Mars/Olympus"\n', 5, "unknown time zone"),
        ('\n[jobs.invoice-ingest]\nschedule = "61 * * * *"\n', 7, "out of range 0-59"),
        ('\n[jobs.invoice-ingest]\nenabled = "yes"\n', 7, "enabled must be bool"),
        (
            '\n[jobs.invoice-ingest]\novelap = "skip"\n',
            7,
            "unknown key 'jobs.invoice-ingest.ovelap'",
        ),
        ('\n[jobs.invoice-ingest]\noverlap = "sometimes"\n', 7, "not one of skip, queue, allow"),
        ('\n[jobs.invoice-ingest]\ntimezone = "Nowhere"\n', 7, "unknown time zone"),
        ('\n[jobs.nope]\nschedule = "* * * * *"\n', 7, "unknown job 'nope'"),
        ("\n[jobs.invoice-ingest.settings]\nbatch = 5\n", 7, "unknown setting"),
    ],
)
@pytest.mark.scenario("B5")
def test_bad_config_says_where(workspace: Workspace, config: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(workspace, config)
    text = str(caught.value)
    assert text.startswith(f"{workspace.root / 'cronsole.toml'}:{line}: "), text
    assert message in text
    assert not workspace.db.exists()


def test_environment_overrides_a_schedule(workspace: Workspace) -> None:
    jobs = load(workspace, "", CRONSOLE_JOB_INVOICE_INGEST_SCHEDULE="0 3 * * *")
    assert jobs["invoice-ingest"].schedule.text == "0 3 * * *"  # type: ignore[index]


def test_a_bad_environment_schedule_names_the_variable(workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match="^environment CRONSOLE_JOB_INVOICE_INGEST_SCHEDULE: "):
        load(workspace, "", CRONSOLE_JOB_INVOICE_INGEST_SCHEDULE="every day")


def test_an_environment_schedule_for_no_job_is_refused(workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match="CRONSOLE_JOB_INVOICES_SCHEDULE: no job matches"):
        load(workspace, "", CRONSOLE_JOB_INVOICES_SCHEDULE="0 3 * * *")


def test_database_precedence_is_file_then_env_then_flag(workspace: Workspace) -> None:
    path = workspace.write(JOBS)
    env = workspace.env()
    assert load_settings(str(path), env=env).database == str(workspace.db)
    env["CRONSOLE_DB"] = "/tmp/from-env.db"
    assert load_settings(str(path), env=env).database == "/tmp/from-env.db"
    assert load_settings(str(path), env=env, database="/tmp/flag.db").database == "/tmp/flag.db"


def test_config_is_found_in_order(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = workspace.env()
    del env["CRONSOLE_CONFIG"]
    monkeypatch.chdir(tmp_path)
    assert load_settings(env=env).config_path is None
    user = Path(env["XDG_CONFIG_HOME"]) / "cronsole" / "cronsole.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[cronsole]\n")
    assert load_settings(env=env).config_path == user
    (tmp_path / "cronsole.toml").write_text("[cronsole]\n")
    assert load_settings(env=env).config_path == tmp_path / "cronsole.toml"
    with pytest.raises(UsageError, match="config file not found"):
        load_settings("/nonexistent/cronsole.toml", env=env)


def test_a_broken_job_module_is_reported(workspace: Workspace) -> None:
    workspace.write("raise ImportError('missing dependency: pillow')\n")
    settings = load_settings(str(workspace.root / "cronsole.toml"), env=workspace.env())
    with pytest.raises(ConfigError, match="cannot load job module 'wsjobs.py': ImportError"):
        load_jobs(settings)


@pytest.mark.scenario("B5")
@pytest.mark.parametrize(
    "config, message",
    [
        (
            "[jobs.tenant-health]\n[jobs.tenant-health.settings]\nwarn_above = -1\n",
            "below the minimum 0",
        ),
        (
            "[jobs.tenant-health]\n[jobs.tenant-health.settings]\n"
            "warn_above = 50\ncrit_above = 10\n",
            "crit_above must not be below warn_above",
        ),
        ('[jobs.invoice-ingest]\ntimezone = "Europe/Atlantis"\n', "unknown time zone"),
        ('[jobs.invoice-ingest.settings]\nbatch_size = "ten"\n', "batch_size"),
    ],
)
def test_bad_built_in_job_settings_refuse_to_start(
    workspace: Workspace, config: str, message: str
) -> None:
    workspace.configure(config)
    with pytest.raises(ConfigError) as caught:
        workspace.engine(builtin=True)
    assert str(caught.value).startswith(f"{workspace.root / 'cronsole.toml'}:")
    assert message in str(caught.value)
    assert not workspace.db.exists()
