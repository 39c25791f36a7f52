"""Remote batches: list the tracked ones, show one request by request, submit, cancel."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cronsole.core.commands import Commands
from cronsole.core.errors import UsageError
from cronsole.core.text import visible
from cronsole.jobs.batches.results import (
    note_text,
    on_disk_text,
    outcomes,
    request_error,
    requests_text,
)

from ..output import ago, emit_json, table
from .app import app
from .shared import JsonFlag, Reason, engine_for, report

batches_app = typer.Typer(help="Remote batches: list tracked ones, submit new ones.")
app.add_typer(batches_app, name="batches")


@batches_app.callback(invoke_without_command=True)
def batches(ctx: typer.Context, json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List tracked batches: provider, endpoint, state, requests ok/failed/total, results and
    failed requests on disk, errors, stuck flags."""
    if ctx.invoked_subcommand is not None:
        return
    engine = engine_for(ctx, create=False)
    records = engine.store.query_records("batch", limit=10_000, newest_first=True)
    rows = [{"id": r.key, "status": r.status, **r.data} for r in records]
    if json:
        emit_json(rows)
        return
    now = engine.clock.now()
    table(
        [
            "batch",
            "provider",
            "endpoint",
            "status",
            "requests",
            "age",
            "polls",
            "on disk",
            "note",
        ],
        [
            [
                r["id"],
                r.get("provider"),
                r.get("endpoint"),
                r["status"],
                requests_text(r),
                _age(r.get("submitted_at"), now),
                r.get("polls"),
                on_disk_text(r),
                note_text(r),
            ]
            for r in rows
        ],
    )


@batches_app.command("submit")
def submit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A JSONL file of batch requests.")],
    reason: Reason = None,
) -> None:
    """Submit a JSONL file of requests as a batch, and track it (checked first: one endpoint,
    unique custom_ids, the size limits; kept in the audit)."""
    command = Commands(engine_for(ctx)).action("batch-check", "submit", [str(file)], reason=reason)
    report(command)


@batches_app.command("cancel")
def cancel(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="The batch, as `cronsole batches` lists it.")],
    reason: Reason = None,
) -> None:
    """Cancel a tracked batch at its provider (kept in the audit); what it finished is still
    downloaded."""
    command = Commands(engine_for(ctx)).action("batch-check", "cancel", [batch_id], reason=reason)
    report(command)


@batches_app.command("show")
def show(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="The batch, as `cronsole batches` lists it.")],
    json: JsonFlag = False,
) -> None:
    """One batch: its state and counts, then each request with its outcome (once downloaded)."""
    engine = engine_for(ctx, create=False)
    record = engine.store.get_record("batch", batch_id)
    if record is None:
        raise UsageError(f"no tracked batch {batch_id!r}")
    folder = record.data.get("folder")
    requests = outcomes(Path(folder)) if isinstance(folder, str) else []
    if json:
        emit_json({"id": record.key, "status": record.status, **record.data, "outcomes": requests})
        return
    # every piece of it came from a provider or a file: shown literally
    print(
        visible(
            f"{record.key}: {record.status}  ({record.data.get('provider')}, "
            f"{record.data.get('endpoint') or 'endpoint unknown'})",
            500,
        )
    )
    print(
        visible(
            f"requests {requests_text(record.data)} (ok/failed/total); "
            f"on disk {on_disk_text(record.data)}"
            + (f"; {record.data['error']}" if record.data.get("error") else ""),
            500,
        )
    )
    table(
        ["custom_id", "outcome", "status", "request_id", "error"],
        [
            [
                r["custom_id"],
                r["outcome"],
                r["status_code"],
                r["request_id"],
                request_error(r["error"]),
            ]
            for r in requests
        ],
    )


def _age(submitted: Any, now: datetime) -> str:
    """How long ago a batch was submitted, as its record says."""
    try:
        return ago(datetime.fromisoformat(str(submitted)), now)
    except ValueError:
        return "-"
