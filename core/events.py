"""Past-tense events published by the engine through a tiny hub; core never calls a UI."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .models import Command, LogEntry, Run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    at: datetime


@dataclass(frozen=True)
class RunStarted(Event):
    run: Run


@dataclass(frozen=True)
class RunProgressed(Event):
    run_id: int
    job: str
    processed: int
    failed: int
    total: int | None


@dataclass(frozen=True)
class RunFinished(Event):
    run: Run


@dataclass(frozen=True)
class TickSkipped(Event):
    job: str
    scheduled_for: datetime
    reason: str


@dataclass(frozen=True)
class ItemFailed(Event):
    job: str
    run_id: int | None
    key: str
    error: str


@dataclass(frozen=True)
class JobPaused(Event):
    job: str
    reason: str | None
    until: datetime | None


@dataclass(frozen=True)
class JobResumed(Event):
    job: str


@dataclass(frozen=True)
class CommandApplied(Event):
    command: Command


@dataclass(frozen=True)
class AlertSent(Event):
    """One try to send an alert on a channel, and whether the channel took it."""

    channel: str
    ok: bool


@dataclass(frozen=True)
class LogRecorded(Event):
    entry: LogEntry


Subscriber = Callable[[Event], None]


class EventHub:
    """Fan-out to subscribers; a failing subscriber is logged and never breaks the publisher."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber failed on %s", type(event).__name__)
