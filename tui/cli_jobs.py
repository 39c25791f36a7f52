"""CLI commands of the built-in job families: the demo workspace and remote batches."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cronsole.core.config import load_settings
from cronsole.core.errors import UsageError
from cronsole.core.text import visible

from .demo import create_workspace
from .output import emit_json, table
from .shared import engine_for, options

batches_app = typer.Typer(help="Remote batches: list tracked ones, submit new ones.")


def demo(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="Where the workspace lives.")] = Path(
        "cronsole-demo"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Seed for the generated data.")] = 1,
    no_tui: Annotated[bool, typer.Option("--no-tui", help="Run headless.")] = False,
    log_format: Annotated[str, typer.Option("--log-format")] = "auto",
) -> None:
    """Create a demo workspace (or reuse it) with every job family, and run it."""
    from cronsole.core.clock import SystemClock

    from . import headless

    config = folder / "cronsole.toml"
    if config.exists():
        print(f"reusing the demo workspace in {folder}")
    elif folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} exists and is not a demo workspace; name an empty folder")
    else:
        create_workspace(folder, seed, SystemClock().now())
        print(f"created a demo workspace in {folder} (seed {seed})")
    settings = load_settings(str(config), database=options(ctx).db)
    if no_tui:
        raise typer.Exit(headless.run(settings, log_format, "info"))
    from . import console

    raise typer.Exit(
        console.run(settings, observe=False, mouse=options(ctx).mouse, log_level="info")
    )


@batches_app.callback(invoke_without_command=True)
def batches(ctx: typer.Context, json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List tracked batches: status, polls, results, errors, stuck flags."""
    if ctx.invoked_subcommand is not None:
        return
    engine = engine_for(ctx, create=False)
    records = engine.store.query_records("batch", limit=10_000, newest_first=True)
    rows = [{"id": r.key, "status": r.status, **r.data} for r in records]
    if json:
        emit_json(rows)
        return
    table(
        ["batch", "provider", "status", "submitted", "polls", "results", "note"],
        [
            [
                r["id"],
                r.get("provider"),
                r["status"],
                r.get("submitted_at", "")[:19],
                r.get("polls"),
                r.get("results"),
                ("STUCK " if r.get("stuck") else "") + (r.get("error") or ""),
            ]
            for r in rows
        ],
    )


@batches_app.command("submit")
def submit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A JSONL file of batch requests.")],
) -> None:
    """Submit a JSONL file of requests as a batch, and track it."""
    print(visible(engine_for(ctx).action("batch-check", "submit", [str(file)])))
