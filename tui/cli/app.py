"""The `cronsole` command. Errors become one stderr line and a documented exit code:
0 ok · 1 operational failure · 2 usage or config error · 3 health degraded ·
4 state database unusable · 130/143 stopped by a second SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from cronsole.core.errors import EXIT_USAGE, CronsoleError, UsageError
from cronsole.core.text import visible

from .shared import (
    LogFormat,
    LogFormatOption,
    LogLevel,
    LogLevelOption,
    Options,
    settings_for,
)

app = typer.Typer(
    name="cronsole",
    add_completion=True,
    no_args_is_help=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="A terminal operations console for scheduled batch jobs.",
)
config_app = typer.Typer(help="Check the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="Path to cronsole.toml.", envvar=None)
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Database file (overrides config and CRONSOLE_DB).")
    ] = None,
    no_tui: Annotated[
        bool, typer.Option("--no-tui", help="Run the engine headless until SIGTERM/SIGINT.")
    ] = False,
    observe: Annotated[
        bool,
        typer.Option(
            "--observe", help="Open the console on a database whose scheduler runs elsewhere."
        ),
    ] = False,
    host: Annotated[
        bool,
        typer.Option(
            "--host",
            help="Host the scheduler in the console even "
            "when a live scheduler already uses the database.",
        ),
    ] = False,
    no_mouse: Annotated[
        bool, typer.Option("--no-mouse", help="Leave the mouse to the terminal (select text).")
    ] = False,
    log_format: LogFormatOption = LogFormat.AUTO,
    log_level: LogLevelOption = LogLevel.INFO,
    metrics_addr: Annotated[
        str | None,
        typer.Option(
            "--metrics-addr",
            help="With --no-tui: serve Prometheus metrics, /healthz and /readyz "
            "on HOST:PORT (e.g. 127.0.0.1:9464).",
        ),
    ] = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    """Run `cronsole --no-tui` to host the scheduler headless; see the subcommands below."""
    ctx.obj = Options(
        config=config, db=db, mouse=not no_mouse, log_format=log_format, log_level=log_level
    )
    if version:
        from cronsole.core import __version__

        print(f"cronsole {__version__}")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is not None:
        return
    if metrics_addr:
        from ..service.metrics import parse_addr

        parse_addr(metrics_addr)
        if not no_tui:
            raise UsageError("--metrics-addr goes with --no-tui (the service)")
    if no_tui and observe:
        raise UsageError("--observe opens the console; it cannot be combined with --no-tui")
    if host and (observe or no_tui):
        raise UsageError("--host goes with the console alone (not --observe or --no-tui)")
    if no_tui:
        from ..service import headless

        raise typer.Exit(headless.run(settings_for(ctx), log_format, log_level, metrics_addr))
    from .. import console

    raise typer.Exit(console.run(settings_for(ctx), observe, not no_mouse, log_level, host))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and translate every error into its exit code."""
    if hasattr(signal, "SIGXFSZ"):  # a file-size limit fails the write instead of killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        result = app(args=argv, prog_name="cronsole", standalone_mode=False)
    except typer.Exit as done:
        return int(done.exit_code)
    except typer.Abort:
        return 130
    except typer.TyperException as exc:  # typer's own usage errors: unknown flag, bad value
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"cronsole: {visible(message)}", file=sys.stderr)
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    except CronsoleError as exc:
        print(f"cronsole: {visible(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
