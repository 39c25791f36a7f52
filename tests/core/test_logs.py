"""Log records into the store: a flood that outruns the database is counted and said."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.events import EventHub
from cronsole.core.logs import StoreLogHandler
from cronsole.core.store.sqlite import SQLiteStore
from tests.conftest import T0


class FullOnce(SQLiteStore):
    """The real store, whose first log write meets a full disk."""

    full = True

    def add_logs(
        self,
        entries: Sequence[tuple[datetime, str, str | None, int | None, str, str]],
    ) -> None:
        if self.full:
            self.full = False
            raise sqlite3.OperationalError("database or disk is full")
        super().add_logs(entries)


def _logger(handler: StoreLogHandler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def _accounted(store: SQLiteStore) -> tuple[int, int]:
    """(flood lines stored, lines said to be dropped)."""
    entries = store.recent_logs(limit=100_000)
    stored = sum(1 for e in entries if e.message.startswith("line "))
    said = sum(
        int(m.group(1)) for e in entries if (m := re.match(r"(\d+) log records dropped", e.message))
    )
    return stored, said


def test_a_flood_beyond_the_buffer_is_counted_in_one_notice(tmp_path: Path) -> None:
    store = SQLiteStore.open(tmp_path / "c.db")
    handler = StoreLogHandler(store, FrozenClock(T0), EventHub(), max_buffer=100)
    logger = _logger(handler, "test.flood")
    for n in range(250):
        logger.info("line %d", n)
    handler.flush()
    assert _accounted(store) == (100, 150)
    notice = store.recent_logs(limit=1)[0]
    assert notice.level == "WARNING" and "the log file has them" in notice.message
    store.close()


def test_records_not_kept_after_a_failed_write_are_counted_too(tmp_path: Path) -> None:
    """A failed write keeps the newest half of the buffer for the next flush; the rest used to
    vanish without a word."""
    store = FullOnce.open(tmp_path / "c.db")
    handler = StoreLogHandler(store, FrozenClock(T0), EventHub(), max_buffer=100)
    logger = _logger(handler, "test.full")
    for n in range(80):
        logger.info("line %d", n)
    handler.flush()  # the disk is full: the newest 50 kept for later, 30 counted
    handler.flush()
    assert _accounted(store) == (50, 30)
    store.close()


class FullFor(SQLiteStore):
    """The real store, whose log writes meet a full disk for the first `full` tries."""

    full = 5

    def add_logs(
        self,
        entries: Sequence[tuple[datetime, str, str | None, int | None, str, str]],
    ) -> None:
        if self.full:
            self.full -= 1
            raise sqlite3.OperationalError("database or disk is full")
        super().add_logs(entries)


def test_a_full_disk_is_said_once_per_incident_and_its_end_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FullFor.open(tmp_path / "c.db")
    handler = StoreLogHandler(store, FrozenClock(T0), EventHub())
    logger = _logger(handler, "test.fullfor")
    with caplog.at_level(logging.WARNING, logger="cronsole.core.events"):
        for n in range(8):  # five flushes fail, then the disk has room again
            logger.info("line %d", n)
            handler.flush()
    said = [r.getMessage() for r in caplog.records if r.name == "cronsole.core.events"]
    assert said == [
        "storing log records failed: database or disk is full (said once, until it works again)",
        "storing log records works again",
    ]
    assert _accounted(store) == (8, 0)  # and nothing was lost
    store.close()
