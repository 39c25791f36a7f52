"""`cronsole` and `cronsole --observe`: the Textual console over the engine."""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType

from cronsole.core.config import Settings
from cronsole.core.engine import Engine, build_engine
from cronsole.core.scheduling.host import Host
from cronsole.jobs import builtin_modules

from .. import logsetup

log = logging.getLogger("cronsole.console")


def run(
    settings: Settings, observe: bool, mouse: bool, log_level: str, force_host: bool = False
) -> int:
    """Host the scheduler (or observe one), show the console, stop gracefully on quit.
    Next to a live scheduler (a `--no-tui` service) it observes unless `force_host`."""
    from .app import CronsoleApp  # Textual is loaded only for the console

    logsetup.log_file(settings)  # a bad log path is said before the database is made
    engine = build_engine(settings, builtin=builtin_modules())
    # While the console owns the terminal, records go to the log file and the store only.
    logsetup.configure(settings, "json", log_level, stderr=False)
    logging.getLogger().addHandler(logging.NullHandler())
    logging.captureWarnings(True)
    observe, notice = choose_role(engine, observe, force_host)
    host = None if observe else Host(engine)
    if host:
        try:
            host.start()
        except BaseException:  # its runs are closed already; the node is marked stopped here
            engine.close()
            raise
    else:
        engine.start_node("observer")
    log.info("console opened, %s", "hosting the scheduler" if host else "observing")
    app = CronsoleApp(engine, host, notice)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping the console", signal.Signals(signum).name)
        app.exit(0)

    # SIGHUP is the terminal (or the SSH connection) going away: the same graceful stop
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    # shutil.get_terminal_size (Textual's measure) believes COLUMNS and LINES before the
    # terminal: exported ones would fix the console at that size and ignore every resize
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    code = app.run(mouse=mouse)
    if host:
        say(f"cronsole: stopping; runs in flight get {settings.grace_period:g}s")
        left = host.stop(settings.grace_period)
        log.info("stopped%s", f"; run(s) {left} marked interrupted" if left else "")
        if left:
            say(f"cronsole: run(s) {left} marked interrupted")
    engine.close()
    return code or 0


def say(text: str) -> None:
    """A line on stderr, if the terminal is still there (after a hang-up it is not)."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def choose_role(engine: Engine, observe: bool, force_host: bool) -> tuple[bool, str]:
    """(observe?, what to say once). A console does not become a second scheduler beside a
    live one, and one hosting inside an SSH session says what closing the session does."""
    if observe:
        return True, ""
    running = engine.live_nodes("host")
    if running and not force_host:
        return True, (
            f"a scheduler already runs on this database ({running[0].id}): "
            "observing it; `cronsole --host` hosts a second one"
        )
    if os.environ.get("SSH_CONNECTION"):
        return False, (
            "hosting the scheduler inside an SSH session: closing the session "
            "stops its runs (gracefully); for runs that outlive it, run the service "
            "(`cronsole --no-tui`) and open `cronsole --observe`"
        )
    return False, ""
