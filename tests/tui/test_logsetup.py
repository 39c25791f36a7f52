"""Log output of the shells: escaped text, JSON lines, rotation that stays private."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cronsole.core.config import Settings
from cronsole.tui import logsetup

HOSTILE = "\x1b]0;owned\x07 \x1b[2J done\r\x08 \u202e"


def record(message: str) -> logging.LogRecord:
    rec = logging.LogRecord("cronsole.job.x", logging.WARNING, __file__, 1, message, (), None)
    rec.job, rec.run_id = "x", 7
    return rec


@pytest.mark.scenario("S2")
def test_human_lines_show_control_characters_literally() -> None:
    line = logsetup.HumanFormatter().format(record(HOSTILE))
    assert "\x1b" not in line and "\r" not in line and "\u202e" not in line
    assert line.endswith("x#7: \\x1b]0;owned\\x07 \\x1b[2J done\\x0d\\x08 \\u202e")


def test_json_lines_carry_the_run_and_the_escaped_message() -> None:
    data = json.loads(logsetup.JsonFormatter().format(record(HOSTILE)))
    assert (data["job"], data["run_id"], data["level"]) == ("x", 7, "WARNING")
    assert "\x1b" not in data["message"]


@pytest.fixture
def logger(tmp_path: Path) -> Iterator[logging.Logger]:
    settings = Settings(
        config_path=None,
        database=str(tmp_path / "c.db"),
        log_dir=tmp_path / "logs",
        log_max_bytes=2000,
        log_backups=2,
    )
    logsetup.configure(settings, "json", "info", stderr=False)
    found = logging.getLogger("cronsole")
    yield found
    for handler in list(found.handlers):
        found.removeHandler(handler)
        handler.close()


@pytest.mark.scenario("L6")
@pytest.mark.scenario("S6")
def test_the_log_file_rotates_within_its_bound_and_stays_private(
    logger: logging.Logger, tmp_path: Path
) -> None:
    for n in range(200):
        logger.info("line %d %s", n, "x" * 50)
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["cronsole.log", "cronsole.log.1", "cronsole.log.2"]
    for path in (tmp_path / "logs").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.stat().st_size <= 2000 + 400
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
