"""The composition root: one function builds the engine; every shell and test uses it."""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType

from . import __version__
from .clock import Clock, SystemClock
from .config import Settings
from .errors import StoreUnusable, StoreWriteFailed
from .events import EventHub
from .logs import Incident, StoreLogHandler
from .models import Node
from .registry import Job, load_definitions, resolve_jobs
from .runner import Runner
from .store import Store, open_store

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 2.0


def operator() -> str:
    """Who is acting, for the audit trail: user@host."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


@dataclass
class Engine:
    settings: Settings
    store: Store
    clock: Clock
    hub: EventHub
    jobs: dict[str, Job]
    node_id: str
    runner: Runner
    role: str = "cli"
    registered: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _log_handler: StoreLogHandler | None = None
    _beat_at: float | None = None  # monotonic time of the last heartbeat stored
    _lapses: int = 0  # how often the gap between two stored heartbeats passed node_timeout
    _beat_incident: Incident = field(default_factory=lambda: Incident(log, "heartbeat"))

    def lapses(self) -> int:
        """How often this node was away longer than `node_timeout` (paused, or unable to
        write), counting a gap still open: others may have taken its claims over then."""
        if self._beat_at is None:
            return 0
        gap = self.clock.monotonic() - self._beat_at > self.settings.node_timeout
        return self._lapses + int(gap)

    def start_node(self, role: str) -> None:
        """Register this process and keep it beating; needed before it executes runs."""
        now = self.clock.now()
        self.role = role
        self.store.register_node(
            Node(self.node_id, role, socket.gethostname(), os.getpid(), now, now, __version__)
        )
        self.registered = True
        self._beat_at = self.clock.monotonic()
        self.runner.lapses = self.lapses
        self._log_handler = StoreLogHandler(self.store, self.clock, self.hub)
        logging.getLogger("cronsole").addHandler(self._log_handler)
        self._spawn(self._beat, "heartbeat")

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _beat(self) -> None:
        """Logs are flushed every half second; the heartbeat goes out every fourth pass."""
        passes = 0
        while not self._stop.wait(HEARTBEAT_SECONDS / 4):
            self.flush_logs()
            passes += 1
            if passes % 4 == 0:
                self.beat_once()
                try:
                    self.runner.retry_unstored()
                except Exception as exc:  # a read that fails too: the next beat tries again
                    log.warning("storing kept outcomes failed: %s", exc)

    def beat_once(self) -> None:
        try:
            now = self.clock.now()
            for run_id in self.store.heartbeat(self.node_id, now):
                self.runner.cancel(run_id)
            self.store.heartbeat_items(self.node_id, now)
            self._lapses = self.lapses()  # a gap that closes now still counts
            self._beat_at = self.clock.monotonic()
            self.store.prune_logs(self.settings.log_keep_rows)  # a log flood stays bounded
        except Exception as exc:  # a busy database must not kill the heartbeat
            self._beat_incident.failed(exc)
            return
        self._beat_incident.ok()

    def flush_logs(self) -> None:
        if self._log_handler is not None:
            self._log_handler.flush()

    def action(self, job_name: str, action: str, args: list[str]) -> str:
        """Run a job's named operator action (e.g. submit a batch); its result line."""
        from .context import ActionContext
        from .errors import UsageError
        from .registry import require_job

        job = require_job(self.jobs, job_name)
        if action not in job.actions:
            raise UsageError(f"job {job_name!r} has no action {action!r}")
        state = self.store.job_state(job_name)
        ctx = ActionContext(
            job_name,
            job.settings(state.settings if state else {}),
            self.clock,
            self.settings.base_dir,
            logging.getLogger(f"cronsole.job.{job_name}"),
            self.store,
        )
        return job.actions[action](ctx, args)

    def live_nodes(self, role: str | None = None) -> list[Node]:
        return [n for n in self.store.nodes() if (role is None or n.role == role) and self.lives(n)]

    def lives(self, node: Node) -> bool:
        """A registered node whose heartbeat is fresh and, on this host, whose process is
        still there (a `kill -9` is seen at once here; other hosts' deaths take
        `node_timeout`)."""
        since = self.clock.now() - timedelta(seconds=self.settings.node_timeout)
        return node.heartbeat_at >= since and (
            node.hostname != socket.gethostname() or pid_alive(node.pid)
        )

    def close(self) -> None:
        """Stop beating and close the store; runs still in flight are interrupted first."""
        self.runner.interrupt_all()
        self.runner.wait_idle(10)
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.runner.retry_unstored()
        if left := self.runner.unstored():
            log.error(
                "stopping with the outcome of run(s) %s not stored: a scheduler's "
                "recovery closes them as abandoned",
                ", ".join(f"#{r}" for r in left),
            )
        self.flush_logs()
        if self._log_handler is not None:
            logging.getLogger("cronsole").removeHandler(self._log_handler)
        if self.registered:
            try:
                self.store.stop_node(self.node_id, self.clock.now())
            except StoreWriteFailed as exc:  # its pid, gone, says the same on this host
                log.error("could not mark this node stopped: %s", exc)
        self.store.close()


def load_jobs(settings: Settings, builtin: Iterable[ModuleType] = ()) -> dict[str, Job]:
    return resolve_jobs(settings, load_definitions(settings, builtin))


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still has that pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def existing_store(settings: Settings) -> Store | None:
    """The store if it has been created (read, never created here), else None."""
    try:
        return open_store(settings.database, create=False)
    except StoreUnusable:
        return None


def build_engine(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    builtin: Iterable[ModuleType] = (),
    create: bool = True,
) -> Engine:
    """Jobs are loaded and checked before the store is opened, so bad config writes nothing."""
    jobs = load_jobs(settings, builtin)
    clock = clock or SystemClock()
    store = store or open_store(settings.database, create=create)
    hub = EventHub()
    node_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    if create:
        store.ensure_jobs(list(jobs), clock.now())
    runner = Runner(store, clock, hub, node_id, settings.base_dir)
    return Engine(
        settings=settings,
        store=store,
        clock=clock,
        hub=hub,
        jobs=jobs,
        node_id=node_id,
        runner=runner,
    )
