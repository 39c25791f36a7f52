"""Crash recovery without an operator: the runs and claims of dead processes are released."""

from __future__ import annotations

import logging

from .engine import Engine
from .models import RunStatus

log = logging.getLogger(__name__)


def recover_dead_nodes(engine: Engine) -> None:
    """Runs no live process owns become `abandoned` and the items their nodes had claimed
    become eligible again: runs of processes that stopped beating (or, on this host, whose pid
    is gone), and runs left `running` by a node that stopped without closing them (its store
    writes were failing, say)."""
    now = engine.clock.now()
    registered = engine.store.nodes()
    live = {n.id for n in registered if engine.lives(n)} | {engine.node_id}
    owners = {n.id for n in registered} | {
        r.node for r in engine.store.active_runs() if r.status is RunStatus.RUNNING and r.node
    }
    dead = sorted(owners - live)
    if not dead:
        return
    runs = engine.store.abandon_runs(dead, now, "abandoned: its process stopped")
    items = engine.store.release_claims(dead, now, "released: its process stopped")
    if runs or items:
        log.warning(
            "recovered from %d dead process(es): %d runs abandoned, %d items released",
            len(dead),
            len(runs),
            items,
        )
