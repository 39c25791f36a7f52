"""Alerts in the Prometheus metrics, read back with prometheus_client's own parser: sends by
channel and outcome, open incidents, paused jobs and skipped ticks."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cronsole.core.alerting import Alerter
from cronsole.core.clock import FrozenClock
from cronsole.core.events import TickSkipped
from cronsole.tui.service.metrics import Metrics
from tests.conftest import T0, Workspace, eventually, run_job
from tests.core.test_alerts import configure
from tests.receivers import Receiver


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_sends_incidents_pauses_and_skips_are_counted(
    workspace: Workspace, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cronsole.core.alerting.backoff", lambda *args, **kw: 0.05)
    configure(workspace, f'[alerts.ops]\ntype = "webhook"\nurl = "{receiver.url}"\n')
    engine = workspace.engine(FrozenClock(T0))
    metrics = Metrics(engine, lambda: True)
    alerts = Alerter(engine, engine.settings.alerts)
    alerts.start()
    receiver.status = 503
    run_job(engine, "backup")
    eventually(lambda: len(receiver.posts) >= 2)
    receiver.status = 200
    eventually(
        lambda: (
            samples(metrics).get(
                ("cronsole_alerts_total", (("channel", "ops"), ("outcome", "sent")))
            )
            == 1
        )
    )
    seen = samples(metrics)
    assert seen[("cronsole_alerts_total", (("channel", "ops"), ("outcome", "failed")))] >= 2
    assert seen[("cronsole_open_incidents", (("job", "backup"), ("kind", "failed")))] == 1
    assert seen[("cronsole_job_paused", (("job", "backup"),))] == 0
    engine.store.set_paused("backup", True, T0, reason="maintenance")
    engine.hub.publish(TickSkipped(T0, "backup", T0, "paused: maintenance"))
    seen = samples(metrics)
    assert seen[("cronsole_job_paused", (("job", "backup"),))] == 1
    assert seen[("cronsole_ticks_skipped_total", (("job", "backup"),))] == 1
    alerts.stop()
