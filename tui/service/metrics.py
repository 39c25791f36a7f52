"""`--metrics-addr`: Prometheus metrics, /healthz and /readyz, on a loopback address."""

from __future__ import annotations

import json
import threading
from collections import Counter as Counter_
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from cronsole.core.engine import Engine
from cronsole.core.errors import UsageError
from cronsole.core.events import AlertSent, Event, RunFinished, TickSkipped
from cronsole.core.models import RunStatus
from cronsole.core.snapshot import JobState, JobView, take_snapshot


def parse_addr(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise UsageError(f"bad --metrics-addr {text!r}: use HOST:PORT, e.g. 127.0.0.1:9464")
    return host.strip("[]"), int(port)


class Backlog(Collector):
    """Per-tenant backlog and scheduler state, read on each scrape (a bounded snapshot)."""

    def __init__(self, engine: Engine, up: Callable[[], bool]) -> None:
        self.engine, self.up = engine, up

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = take_snapshot(self.engine, logs=0, runs=0)
        backlog = GaugeMetricFamily(
            "cronsole_tenant_backlog", "Pending items per tenant", labels=["job", "tenant"]
        )
        for tenant in snap.tenants:
            backlog.add_metric([tenant.job, tenant.tenant], tenant.pending)
        yield backlog
        stuck = GaugeMetricFamily(
            "cronsole_job_stuck",
            "1 while a run holds the job and nothing closes it (see `cronsole health`)",
            labels=["job"],
        )
        held = {s.job for s in snap.stuck}
        for job in snap.jobs:
            stuck.add_metric([job.name], 1.0 if job.name in held else 0.0)
        yield stuck
        yield from self._alerts_and_pauses(snap.jobs)
        yield GaugeMetricFamily(
            "cronsole_scheduler_up", "1 while this scheduler runs", value=1.0 if self.up() else 0.0
        )

    def _alerts_and_pauses(self, jobs: list[JobView]) -> Iterator[GaugeMetricFamily]:
        held = (JobState.PAUSED, JobState.HELD)
        paused = GaugeMetricFamily(
            "cronsole_job_paused", "1 while the job (or the scheduler) is paused", labels=["job"]
        )
        for job in jobs:
            paused.add_metric([job.name], 1.0 if job.state in held else 0.0)
        yield paused
        incidents = GaugeMetricFamily(
            "cronsole_open_incidents",
            "Alert incidents open, by job and kind",
            labels=["job", "kind"],
        )
        opened = self.engine.store.list_incidents(open_only=True, limit=10_000)
        for (name, kind), count in sorted(Counter_((i.job, i.kind) for i in opened).items()):
            incidents.add_metric([name, kind], count)
        yield incidents


class Metrics:
    def __init__(self, engine: Engine, up: Callable[[], bool]) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "cronsole_runs",
            "Runs finished, by job and status",
            ["job", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "cronsole_run_duration_seconds", "Run duration", ["job"], registry=self.registry
        )
        self.items = Counter(
            "cronsole_items",
            "Items handled by runs, by outcome",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "cronsole_last_success_timestamp_seconds",
            "When each job last succeeded",
            ["job"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "cronsole_alerts",
            "Tries to send an alert, by channel and outcome (sent, failed)",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.skipped = Counter(
            "cronsole_ticks_skipped",
            "Ticks that started no run (overlap, pause), by job",
            ["job"],
            registry=self.registry,
        )
        self.registry.register(Backlog(engine, up))
        for name, run in engine.store.last_runs().items():
            if run.status is RunStatus.SUCCEEDED and run.finished_at:
                self.last_success.labels(name).set(run.finished_at.timestamp())
        engine.hub.subscribe(self.on_event)

    def on_event(self, event: Event) -> None:
        if isinstance(event, AlertSent):
            self.alerts.labels(event.channel, "sent" if event.ok else "failed").inc()
        elif isinstance(event, TickSkipped):
            self.skipped.labels(event.job).inc()
        if not isinstance(event, RunFinished):
            return
        run = event.run
        self.runs.labels(run.job, run.status.value).inc()
        self.items.labels(run.job, "processed").inc(run.processed)
        self.items.labels(run.job, "failed").inc(run.failed)
        if run.started_at and run.finished_at:
            self.duration.labels(run.job).observe(
                (run.finished_at - run.started_at).total_seconds()
            )
        if run.status is RunStatus.SUCCEEDED and run.finished_at:
            self.last_success.labels(run.job).set(run.finished_at.timestamp())


def serve(
    addr: str,
    metrics: Metrics,
    health: Callable[[], dict[str, Any]],
    ready: Callable[[], dict[str, Any]],
) -> ThreadingHTTPServer:
    host, port = parse_addr(addr)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # scrapes are not log lines
            pass

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif self.path in ("/healthz", "/readyz"):
                body = (health if self.path == "/healthz" else ready)()
                self._send(
                    200 if body["ok"] else 503, json.dumps(body).encode(), "application/json"
                )
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
