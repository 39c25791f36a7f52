"""`cronsole alerts`: incidents open and closed, and how each channel is doing;
`cronsole alerts test CHANNEL` sends one message now."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from cronsole.core.alerting import CHANNELS_KEY, Alerter
from cronsole.core.channels import SendFailed
from cronsole.core.clock import iso
from cronsole.core.errors import EXIT_FAILURE, UsageError

from ..output import ago, emit_json, table
from .app import app
from .shared import JsonFlag, engine_for

alerts_app = typer.Typer(help="Alert incidents and channels.", invoke_without_command=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Closed incidents too.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    json: JsonFlag = False,
) -> None:
    """Open incidents (with --all, closed ones too), newest first, and each channel's state."""
    if ctx.invoked_subcommand is not None:
        return
    engine = engine_for(ctx, create=False)
    now = engine.clock.now()
    incidents = engine.store.list_incidents(open_only=not all_, limit=limit)
    states: dict[str, Any] = engine.store.get_control(CHANNELS_KEY) or {}
    channels = {name: states.get(name, {}) for name in engine.settings.alerts}
    if json:
        emit_json(
            {
                "incidents": [
                    {
                        "id": i.id,
                        "job": i.job,
                        "kind": i.kind,
                        "status": i.status,
                        "opened_at": iso(i.opened_at),
                        "closed_at": iso(i.closed_at) if i.closed_at else None,
                        "occurrences": i.occurrences,
                        "message": i.message,
                    }
                    for i in incidents
                ],
                "channels": channels,
            }
        )
        return
    table(
        ["id", "job", "kind", "status", "opened", "times", "message"],
        [
            [i.id, i.job, i.kind, i.status, ago(i.opened_at, now), i.occurrences, i.message]
            for i in incidents
        ],
    )
    for name, state in channels.items():
        failing = state.get("failures", 0)
        word = f"FAILING ({failing} in a row: {state.get('error')})" if failing else "ok"
        print(f"channel {name} ({engine.settings.alerts[name].type}): {word}")


@alerts_app.command("test")
def alerts_test(
    ctx: typer.Context, channel: Annotated[str, typer.Argument(help="A channel's name.")]
) -> None:
    """Send a test message on CHANNEL now; exit 1 when it does not go."""
    engine = engine_for(ctx)
    channels = engine.settings.alerts
    if channel not in channels:
        known = ", ".join(sorted(channels)) or "none configured"
        raise UsageError(f"unknown channel {channel!r} (known: {known})")
    try:
        Alerter(engine, channels).test(channels[channel])
    except SendFailed as exc:
        print(f"channel {channel}: not sent: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_FAILURE) from None
    print(f"channel {channel}: test message sent")
