"""`cronsole` and `cronsole --observe`: the Textual console over the engine."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from cronsole.core.config import Settings
from cronsole.core.engine import build_engine
from cronsole.core.scheduling.host import Host
from cronsole.jobs import builtin_modules

from . import logsetup


def run(settings: Settings, observe: bool, mouse: bool, log_level: str) -> int:
    """Host the scheduler (or observe one), show the console, stop gracefully on quit."""
    from .app import CronsoleApp  # Textual is loaded only for the console

    engine = build_engine(settings, builtin=builtin_modules())
    # While the console owns the terminal, records go to the log file and the store only.
    logsetup.configure(settings, "json", log_level, stderr=False)
    logging.getLogger().addHandler(logging.NullHandler())
    logging.captureWarnings(True)
    host = None if observe else Host(engine)
    if host:
        host.start()
    else:
        engine.start_node("observer")
    app = CronsoleApp(engine, host)

    def on_term(signum: int, frame: FrameType | None) -> None:
        app.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    code = app.run(mouse=mouse)
    if host:
        print(f"cronsole: stopping; runs in flight get {settings.grace_period:g}s",
              file=sys.stderr)
        left = host.stop(settings.grace_period)
        if left:
            print(f"cronsole: run(s) {left} marked interrupted", file=sys.stderr)
    engine.close()
    return code or 0
