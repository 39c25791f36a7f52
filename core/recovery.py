"""Crash recovery without an operator: the runs and claims of dead processes are released."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

from .engine import Engine, pid_alive

log = logging.getLogger(__name__)


def recover_dead_nodes(engine: Engine) -> None:
    """Runs of processes that stopped beating (or, on this host, whose pid is gone) become
    `abandoned`; the items they had claimed become eligible again."""
    now = engine.clock.now()
    cutoff = now - timedelta(seconds=engine.settings.node_timeout)
    here = socket.gethostname()
    dead = [n.id for n in engine.store.nodes() if n.id != engine.node_id and (
        n.heartbeat_at < cutoff or (n.hostname == here and not pid_alive(n.pid)))]
    if not dead:
        return
    runs = engine.store.abandon_runs(dead, now, "abandoned: its process stopped")
    items = engine.store.release_claims(dead, now, "released: its process stopped")
    if runs or items:
        log.warning("recovered from %d dead process(es): %d runs abandoned, %d items released",
                    len(dead), len(runs), items)
