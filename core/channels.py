"""Where alerts go: `[alerts.NAME]` channels of three types. A webhook POSTs JSON (or a
Slack-compatible `{"text": ...}` body), an email goes through SMTP with STARTTLS, a command
gets the alert as JSON on its standard input. Secrets come from the environment at send time
(named in the config, never written in it) and are never logged or stored."""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from .durations import parse_duration
from .errors import ConfigError, UsageError

TYPES = ("webhook", "email", "command")
KEYS = {
    "webhook": {"url", "format", "headers"},
    "email": {"host", "port", "starttls", "from", "to", "username_env", "password_env"},
    "command": {"command"},
}
COMMON = {"type", "repeat_after"}
TIMEOUT = 10.0  # seconds a send may take


class SendFailed(Exception):
    """A channel did not take the alert; the text says why, never with a secret in it."""


@dataclass(frozen=True)
class Channel:
    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=dict)
    repeat_after: float = 3600.0  # an open incident is said again at most this often


def parse_channel(name: str, table: Any, where: Callable[[str], str]) -> Channel:
    """One `[alerts.NAME]` table; ConfigError at the key that is wrong."""
    if not isinstance(table, dict):
        raise ConfigError(f"alerts.{name} must be a table", where(""))
    kind = table.get("type")
    if kind not in TYPES:
        raise ConfigError(f"alerts.{name}.type must be one of {', '.join(TYPES)}", where("type"))
    for key in table:
        if key not in KEYS[kind] | COMMON:
            known = ", ".join(sorted(KEYS[kind] | COMMON))
            raise ConfigError(
                f"unknown key alerts.{name}.{key} for a {kind} (known: {known})", where(key)
            )
    repeat = 3600.0
    if "repeat_after" in table:
        try:
            repeat = parse_duration(table["repeat_after"], "repeat_after")
        except UsageError as exc:
            raise ConfigError(str(exc), where("repeat_after")) from None
    options = {k: v for k, v in table.items() if k not in COMMON}
    _check(kind, options, where)
    return Channel(name, kind, options, repeat)


def _check(kind: str, options: dict[str, Any], where: Callable[[str], str]) -> None:
    def text(key: str, required: bool = True) -> None:
        value = options.get(key)
        if (required or key in options) and (not isinstance(value, str) or not value):
            raise ConfigError(f"{key} must be a non-empty string", where(key))

    if kind == "webhook":
        text("url")
        if not str(options["url"]).startswith(("http://", "https://")):
            raise ConfigError("url must start with http:// or https://", where("url"))
        if options.get("format", "json") not in ("json", "slack"):
            raise ConfigError("format must be json or slack", where("format"))
        headers = options.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ConfigError(
                "headers maps a header to the environment variable that holds its value",
                where("headers"),
            )
    elif kind == "email":
        for key in ("host", "from"):
            text(key)
        for key in ("username_env", "password_env"):
            text(key, required=False)
        to = options.get("to")
        if not isinstance(to, list) or not to or not all(isinstance(t, str) for t in to):
            raise ConfigError("to must be a list of addresses", where("to"))
        port = options.get("port", 587)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError("port must be a port number", where("port"))
        if not isinstance(options.get("starttls", True), bool):
            raise ConfigError("starttls must be true or false", where("starttls"))
    else:
        command = options.get("command")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(a, str) for a in command)
        ):
            raise ConfigError("command must be a list of strings (no shell)", where("command"))


def subject(alert: Mapping[str, Any]) -> str:
    """One line: what happened to what."""
    return f"[cronsole] {alert['event']}: {alert['summary']}"


def send(channel: Channel, alert: Mapping[str, Any], env: Mapping[str, str] = os.environ) -> None:
    """Deliver one alert; SendFailed with the reason when the channel does not take it."""
    import httpx  # here, not at import: httpx loads click and rich with its own command line

    senders = {"webhook": _webhook, "email": _email, "command": _command}
    try:
        senders[channel.type](channel.options, alert, env)
    except SendFailed:
        raise
    except (OSError, httpx.HTTPError, smtplib.SMTPException, subprocess.SubprocessError) as exc:
        said = f"{type(exc).__name__}: {exc}"
        url = str(channel.options.get("url", ""))
        if url:  # a webhook's address is often its secret (Slack's): say its host alone
            said = said.replace(url, httpx.URL(url).host)
        raise SendFailed(said) from None


def _secret(env: Mapping[str, str], variable: str) -> str:
    value = env.get(variable)
    if not value:
        raise SendFailed(f"the environment variable {variable} is not set")
    return value


def _webhook(options: Mapping[str, Any], alert: Mapping[str, Any], env: Mapping[str, str]) -> None:
    import httpx

    body: Any = {"text": subject(alert)} if options.get("format") == "slack" else dict(alert)
    headers = {
        name: _secret(env, variable) for name, variable in options.get("headers", {}).items()
    }
    reply = httpx.post(options["url"], json=body, headers=headers, timeout=TIMEOUT)
    if reply.status_code >= 300:
        raise SendFailed(f"HTTP {reply.status_code} from the webhook")


def _email(options: Mapping[str, Any], alert: Mapping[str, Any], env: Mapping[str, str]) -> None:
    message = EmailMessage()
    message["Subject"] = subject(alert)
    message["From"] = options["from"]
    message["To"] = ", ".join(options["to"])
    message.set_content(json.dumps(alert, indent=2, default=str))
    with smtplib.SMTP(options["host"], options.get("port", 587), timeout=TIMEOUT) as smtp:
        if options.get(
            "starttls", True
        ):  # the server's certificate is verified, as a browser would
            smtp.starttls(context=ssl.create_default_context())
        if "username_env" in options:
            smtp.login(_secret(env, options["username_env"]), _secret(env, options["password_env"]))
        smtp.send_message(message)


def _command(options: Mapping[str, Any], alert: Mapping[str, Any], env: Mapping[str, str]) -> None:
    done = subprocess.run(
        options["command"],
        input=json.dumps(alert, default=str).encode(),
        capture_output=True,
        timeout=TIMEOUT,
        env=dict(env),
    )
    if done.returncode != 0:
        said = done.stderr.decode(errors="backslashreplace").strip().splitlines()[-1:]
        raise SendFailed(f"exit code {done.returncode}" + (f": {said[0][:200]}" if said else ""))
