"""The systemd unit keeps the promises the README makes about running as a service."""

from __future__ import annotations

import configparser
from pathlib import Path

from cronsole.core.config import Settings

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "cronsole.service"


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def test_the_unit_is_a_hardened_notify_service() -> None:
    service = unit()["Service"]
    assert service["Type"] == "notify" and service["Restart"] == "on-failure"
    assert "--no-tui" in service["ExecStart"]
    for key in ("StateDirectory", "LogsDirectory", "ConfigurationDirectory"):
        assert service[key] == "cronsole"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert int(service["WatchdogSec"]) > 0


def test_the_stop_timeout_outlasts_the_grace_period() -> None:
    grace = Settings(config_path=None, database="x", log_dir=Path("x")).grace_period
    assert int(unit()["Service"]["TimeoutStopSec"]) > grace + 30


def test_the_unit_leaves_the_database_to_the_config_file() -> None:
    """An Environment=CRONSOLE_DB would win over `database =`: the README's several-hosts
    setup would silently use a local SQLite file on each host."""
    environment = [
        line for line in UNIT.read_text().splitlines() if line.startswith("Environment=")
    ]
    assert not [line for line in environment if "CRONSOLE_DB" in line]
    assert "--config /etc/cronsole/cronsole.toml" in unit()["Service"]["ExecStart"]
