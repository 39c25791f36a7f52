"""Alerts reach real receivers on 127.0.0.1: an HTTP server for webhooks, an SMTP server with
STARTTLS (aiosmtpd) for email, a program for the command channel. One message per incident:
opened on the first failure, counted after, one "recovered" on the next success; a restart sends
nothing twice; a failing channel is retried and shows as failing; a silent job opens "silent"."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from cronsole.core.alerting import CHANNELS_KEY, Alerter
from cronsole.core.clock import FrozenClock
from cronsole.core.engine import Engine
from cronsole.core.errors import ConfigError
from cronsole.core.health import Thresholds, save_health, tenant_health
from cronsole.core.models import RunStatus
from tests.conftest import T0, Workspace, eventually, run_job
from tests.procs import cli
from tests.receivers import Receiver

TOKEN = "hook-token-7f3a9c"


def configure(workspace: Workspace, channels: str, job: str = "") -> None:
    """A command job that fails until the file `ok` exists, telling the channel `ops`."""
    ok = workspace.root / "ok"
    workspace.configure(
        channels
        + f"""
        [jobs.backup]
        schedule = "30 2 * * *"
        command = ["/bin/sh", "-c", "test -e {ok} || {{ echo broken >&2; exit 7; }}"]
        alert = ["ops"]
        """
        + job
    )


def alerter(workspace: Workspace, clock: FrozenClock | None = None) -> tuple[Engine, Alerter]:
    engine = workspace.engine(clock or FrozenClock(T0))
    started = Alerter(engine, engine.settings.alerts)
    started.start()
    return engine, started


def settled(alerts: Alerter) -> None:
    assert alerts.wait_idle(20)


def test_one_message_when_it_breaks_none_while_it_stays_broken_one_when_it_recovers(
    workspace: Workspace, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    configure(
        workspace,
        f"""
        [alerts.ops]
        type = "webhook"
        url = "{receiver.url}"
        headers = {{ Authorization = "HOOK_TOKEN" }}
        """,
    )
    engine, alerts = alerter(workspace)
    for _ in range(3):
        assert run_job(engine, "backup").status is RunStatus.FAILED
    settled(alerts)
    [(headers, opened)] = receiver.posts
    assert headers["Authorization"] == TOKEN
    assert (opened["event"], opened["kind"], opened["job"]) == ("opened", "failed", "backup")
    assert "exit code 7" in opened["summary"]
    [incident] = engine.store.list_incidents(open_only=True)
    assert incident.occurrences == 3
    (workspace.root / "ok").touch()
    assert run_job(engine, "backup").status is RunStatus.SUCCEEDED
    settled(alerts)
    assert [body["event"] for _, body in receiver.posts] == ["opened", "recovered"]
    assert receiver.posts[1][1]["summary"].startswith("backup recovered after")
    assert engine.store.list_incidents(open_only=True) == []
    stored = workspace.stored()
    assert TOKEN.encode() not in stored  # the secret is never kept


def test_a_restart_sends_nothing_twice_and_repeat_after_paces_repeats(
    workspace: Workspace, receiver: Receiver
) -> None:
    hook = f'[alerts.ops]\ntype = "webhook"\nurl = "{receiver.url}"\nformat = "slack"\n'
    configure(workspace, hook)
    engine, alerts = alerter(workspace)
    run_job(engine, "backup")
    settled(alerts)
    alerts.stop()
    engine.close()
    later = FrozenClock(T0 + timedelta(minutes=10))
    engine, alerts = alerter(workspace, later)  # restarted: the incident is still open
    run_job(engine, "backup")
    settled(alerts)
    assert len(receiver.posts) == 1
    assert receiver.posts[0][1] == {"text": receiver.posts[0][1]["text"]}  # Slack's body
    assert receiver.posts[0][1]["text"].startswith("[cronsole] opened: backup failed")
    later.advance(3600)  # repeat_after (1h by default) has passed since it was said
    run_job(engine, "backup")
    run_job(engine, "backup")
    settled(alerts)
    texts = [body["text"] for _, body in receiver.posts]
    assert len(texts) == 2 and texts[1].startswith("[cronsole] repeated: backup still failed")


def test_a_failing_channel_is_retried_and_shows_as_failing(
    workspace: Workspace, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cronsole.core.alerting.backoff", lambda *args, **kw: 0.05)
    configure(workspace, f'[alerts.ops]\ntype = "webhook"\nurl = "{receiver.url}"\n')
    receiver.status = 503
    engine, alerts = alerter(workspace)
    run_job(engine, "backup")
    eventually(lambda: len(receiver.posts) >= 3)
    states = engine.store.get_control(CHANNELS_KEY)
    assert states["ops"]["failures"] >= 2 and states["ops"]["error"] == "HTTP 503 from the webhook"
    receiver.status = 200
    eventually(lambda: engine.store.get_control(CHANNELS_KEY)["ops"]["failures"] == 0)
    assert {body["event"] for _, body in receiver.posts} == {"opened"}  # the same one, again


def test_the_dead_mans_switch_opens_when_a_job_is_silent(
    workspace: Workspace, receiver: Receiver
) -> None:
    configure(
        workspace,
        f'[alerts.ops]\ntype = "webhook"\nurl = "{receiver.url}"\n',
        'expect_every = "2h"\n',
    )
    clock = FrozenClock(T0)
    engine, alerts = alerter(workspace, clock)
    alerts.check(clock.now())  # armed
    clock.advance(3600)
    alerts.check(clock.now())
    settled(alerts)
    assert receiver.posts == []
    clock.advance(3601 + 60)
    alerts.check(clock.now())
    alerts.check(clock.now())  # still silent: the same incident, said once
    settled(alerts)
    [(_, silent)] = receiver.posts
    assert silent["kind"] == "silent"
    assert "has not succeeded for 2h1m (expected every 2h)" in silent["summary"]
    (workspace.root / "ok").touch()
    run_job(engine, "backup")
    settled(alerts)
    assert [body["event"] for _, body in receiver.posts] == ["opened", "recovered"]


def test_a_tenant_graded_warn_opens_its_own_incident_until_it_is_ok_again(
    workspace: Workspace, receiver: Receiver
) -> None:
    configure(
        workspace,
        f'[alerts.ops]\ntype = "webhook"\nurl = "{receiver.url}"\n',
        'on = ["health", "recovered"]\n',
    )
    clock = FrozenClock(T0)
    engine, alerts = alerter(workspace, clock)
    store = engine.store
    store.enqueue_many("backup", [(f"a{n}", None, "acme") for n in range(25)], T0)
    store.enqueue_many("backup", [("g1", None, "globex")], T0)

    def graded() -> None:  # what the health job does: grade the tenants, store the report
        now = clock.now()
        save_health(store, "backup", now, tenant_health(store, "backup", now), Thresholds())
        alerts.check(now)
        settled(alerts)

    graded()
    graded()  # still WARN: the same incident
    [(_, opened)] = receiver.posts
    assert (opened["event"], opened["kind"]) == ("opened", "health")
    assert opened["summary"] == "backup health: tenant acme WARN: backlog 25 > 20"
    for item in store.claim_items("backup", "n1", None, T0, limit=10):
        store.complete_item(item, T0)
    clock.advance(60)
    graded()
    assert [body["event"] for _, body in receiver.posts] == ["opened", "recovered"]
    assert receiver.posts[1][1]["summary"] == "backup: tenant acme is OK"
    assert store.list_incidents(open_only=True) == []


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """An SMTP server on 127.0.0.1 that requires STARTTLS and a login; a self-signed cert
    that the client is made to trust (SSL_CERT_FILE), as it trusts a real one."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: object, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append((session.authenticated, envelope))
            return "250 OK"

    def check(
        server: object, session: object, envelope: object, mechanism: str, auth: Any
    ) -> AuthResult:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (b"ops", b"pw-9")
        return AuthResult(success=ok)

    with socket.socket() as probe:  # aiosmtpd's controller cannot take port 0 itself
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=check,
        auth_require_tls=True,
    )
    controller.start()
    monkeypatch.setenv("SMTP_TEST_PORT", str(port))
    yield received
    controller.stop()


def test_email_goes_through_starttls_with_a_login(
    workspace: Workspace, smtp: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_USER", "ops")
    monkeypatch.setenv("SMTP_PASSWORD", "pw-9")
    import os

    configure(
        workspace,
        f"""
        [alerts.ops]
        type = "email"
        host = "127.0.0.1"
        port = {os.environ["SMTP_TEST_PORT"]}
        from = "cronsole@example.com"
        to = ["oncall@example.com"]
        username_env = "SMTP_USER"
        password_env = "SMTP_PASSWORD"
        """,
    )
    engine, alerts = alerter(workspace)
    run_job(engine, "backup")
    settled(alerts)
    [(authenticated, envelope)] = smtp
    assert authenticated and envelope.rcpt_tos == ["oncall@example.com"]
    message = message_from_bytes(envelope.content)
    assert message["Subject"].startswith("[cronsole] opened: backup failed")
    assert json.loads(str(message.get_payload()))["kind"] == "failed"


def test_the_command_channel_gets_the_alert_on_stdin(workspace: Workspace) -> None:
    out = workspace.root / "alerts.jsonl"
    configure(
        workspace,
        f'[alerts.ops]\ntype = "command"\ncommand = ["/bin/sh", "-c", "cat >> {out}"]\n',
    )
    engine, alerts = alerter(workspace)
    run_job(engine, "backup")
    settled(alerts)
    [alert] = [json.loads(line) for line in out.read_text().splitlines()]
    assert (alert["event"], alert["job"]) == ("opened", "backup")


@pytest.mark.parametrize(
    ("channels", "job", "message"),
    [
        ('[alerts.ops]\ntype = "pager"\n', "", "type must be one of webhook, email, command"),
        ('[alerts.ops]\ntype = "webhook"\nurl = "ftp://x"\n', "", "url must start with http"),
        ('[alerts.ops]\ntype = "webhook"\nurl = "http://x"\nsecret = "s"\n', "", "unknown key"),
        ('[alerts.ops]\ntype = "email"\nhost = "h"\nfrom = "f"\n', "", "to must be a list"),
        ('[alerts.ops]\ntype = "command"\ncommand = "page me"\n', "", "command must be a list"),
        ('[alerts.other]\ntype = "command"\ncommand = ["x"]\n', "", "unknown alert channel 'ops'"),
        ('[alerts.ops]\ntype = "command"\ncommand = ["x"]\n', 'on = ["exploded"]\n', "exploded"),
        (
            '[alerts.ops]\ntype = "command"\ncommand = ["x"]\n',
            'expect_every = "soon"\n',
            "expect_every",
        ),
    ],
)
def test_a_bad_alert_table_is_refused_at_its_line(
    workspace: Workspace, channels: str, job: str, message: str
) -> None:
    configure(workspace, channels, job)
    with pytest.raises(ConfigError) as raised:
        workspace.engine()
    assert message in str(raised.value)
    assert str(raised.value).startswith(str(workspace.root / "cronsole.toml") + ":")


def test_alerts_test_sends_one_message_and_says_when_it_cannot(
    workspace: Workspace, receiver: Receiver
) -> None:
    configure(workspace, f'[alerts.ops]\ntype = "webhook"\nurl = "{receiver.url}"\n')
    sent = cli(workspace, "alerts", "test", "ops")
    assert sent.returncode == 0, sent.stderr
    [(_, body)] = receiver.posts
    assert body["event"] == "test"
    receiver.status = 500
    failed = cli(workspace, "alerts", "test", "ops")
    assert failed.returncode == 1 and "HTTP 500" in failed.stderr
    listed = cli(workspace, "alerts")
    assert "channel ops (webhook): FAILING (1 in a row: HTTP 500 from the webhook)" in listed.stdout
    unknown = cli(workspace, "alerts", "test", "nope")
    assert unknown.returncode == 2 and "unknown channel 'nope'" in unknown.stderr
