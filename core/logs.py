"""Log records of the engine and its jobs: batched into the store and published as events."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from .clock import Clock
from .events import EventHub, LogRecorded
from .models import LogEntry
from .store import Store
from .text import visible

Row = tuple[datetime, str, str | None, int | None, str, str]
# the levels an operator filters by, lowest first (CRITICAL is stored, and shown with ERROR)
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Incident:
    """A repeated failure (a full disk, a database away) said once when it starts and once
    when it ends, instead of at every attempt."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log, self.what = log, what
        self.failing = False

    def failed(self, exc: BaseException) -> None:
        if not self.failing:
            self.log.warning("%s failed: %s (said once, until it works again)", self.what, exc)
        self.failing = True

    def ok(self) -> None:
        if self.failing:
            self.log.warning("%s works again", self.what)
        self.failing = False


class StoreLogHandler(logging.Handler):
    """Buffers records and writes them in one transaction per flush, off the caller's thread."""

    def __init__(self, store: Store, clock: Clock, hub: EventHub, max_buffer: int = 5000) -> None:
        super().__init__(logging.INFO)
        self.store, self.clock, self.hub = store, clock, hub
        self._buffer: list[Row] = []
        self._lock = threading.Lock()
        self.max_buffer = max_buffer
        self.dropped = 0
        # not stored: a notice about storing logs must not loop back into the store
        self.incident = Incident(logging.getLogger("cronsole.core.events"), "storing log records")

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("cronsole.core.events"):
            return  # a failing subscriber's report must not loop back through the hub
        with self._lock:
            if len(self._buffer) >= self.max_buffer:  # a flood: drop before any formatting
                self.dropped += 1
                return
        message = visible(self.format(record) if self.formatter else record.getMessage())
        row: Row = (
            self.clock.now(),
            record.levelname,
            getattr(record, "job", None),
            getattr(record, "run_id", None),
            record.name,
            message,
        )
        with self._lock:
            self._buffer.append(row)
        entry = LogEntry(
            id=0, at=row[0], level=row[1], message=message, job=row[2], run_id=row[3], logger=row[4]
        )
        self.hub.publish(LogRecorded(row[0], entry))

    def flush(self) -> None:
        with self._lock:
            rows, self._buffer = self._buffer, []
            dropped, self.dropped = self.dropped, 0
        if dropped:  # a flood outran the database: say how much is missing, in its place
            rows.append(
                (
                    self.clock.now(),
                    "WARNING",
                    None,
                    None,
                    "cronsole.logs",
                    f"{dropped} log records dropped: more than {self.max_buffer} were "
                    "waiting to be stored (the log file has them)",
                )
            )
        if not rows:
            return
        try:
            self.store.add_logs(rows)
        except Exception as exc:  # the database may be busy or full; keep jobs running
            kept = rows[-self.max_buffer // 2 :]
            with self._lock:  # what is not kept is counted, and said by the next notice
                self._buffer = kept + self._buffer
                self.dropped += len(rows) - len(kept)
            self.incident.failed(exc)
            return
        self.incident.ok()
