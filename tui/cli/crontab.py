"""`cronsole import-crontab`: a crontab's lines as command jobs in cronsole.toml."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cronsole.core.config import load_settings
from cronsole.core.crontab_import import import_crontab, local_zone
from cronsole.core.engine import load_jobs
from cronsole.core.errors import ConfigError, UsageError
from cronsole.core.files import atomic_write
from cronsole.core.registry import load_definitions
from cronsole.core.text import visible
from cronsole.jobs import builtin_modules

from .app import app
from .shared import settings_for


@app.command("import-crontab")
def import_crontab_command(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="A crontab file, or - to read one (crontab -l | ... -).")
    ] = "-",
    system: Annotated[
        bool | None,
        typer.Option(
            "--system/--user-crontab",
            help="Lines carry a user field, as /etc/crontab and /etc/cron.d/* do (the default"
            " for files under /etc).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the TOML; change nothing.")
    ] = False,
) -> None:
    """Add a crontab's jobs to cronsole.toml as command jobs, and say what became of each line."""
    text = _read(source)
    settings = settings_for(ctx)
    if not dry_run and settings.config_path is None:
        raise UsageError("no cronsole.toml to add the jobs to: run cronsole init, or use --dry-run")
    taken = {d.spec.name for d in load_definitions(settings, builtin_modules())} | set(
        settings.jobs
    )
    imported = import_crontab(
        text, source.startswith("/etc/") if system is None else system, taken, local_zone()
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = f"\n# imported from {source if source != '-' else 'standard input'} on {stamp}\n"
    body += "\n".join(imported.tables)
    for note in imported.notes:
        print(visible(note), file=sys.stderr)
    if dry_run:
        print(body)
        return
    assert settings.config_path is not None
    _write_checked(settings.config_path, settings.config_path.read_text() + body)
    print(
        f"added {len(imported.names)} job(s) to {settings.config_path}"
        f" ({', '.join(imported.names) or 'none'}); {imported.skipped} line(s) left as comments"
    )


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(errors="surrogateescape")
    except OSError as exc:
        raise UsageError(f"{source}: {exc.strerror}") from None


def _write_checked(path: Path, text: str) -> None:
    """Write the new config only if it loads, jobs and all (a bad line changes nothing); it is
    tried beside the real one, where its relative paths mean the same."""
    trial = path.with_name(f".{path.name}.import")
    try:
        trial.write_text(text)
        load_jobs(load_settings(str(trial), env={}), builtin_modules())
    except ConfigError as exc:
        raise UsageError(
            f"the imported jobs do not load, so {path} is unchanged: "
            + str(exc).replace(str(trial), str(path))
        ) from None
    finally:
        trial.unlink(missing_ok=True)
    atomic_write(path, text.encode(), mode=path.stat().st_mode & 0o777)
