"""Fault points for the reliability tests: named places in the engine that can raise, sleep,
exit or kill the process at their n-th pass.

Only the test-only environment variable CRONSOLE_TEST_FAULTS turns them on, e.g.

    CRONSOLE_TEST_FAULTS="after_side_effect=kill@3,mid_sweep=sleep:0.5"

means: at the third pass of `after_side_effect`, SIGKILL this process; at the first pass of
`mid_sweep`, sleep half a second. `@3+` acts at the third pass and every one after it (to slow
every item down, say). Actions: raise, full (a store write refused, as on a full disk),
sleep:SECONDS, exit[:CODE], kill. When the variable is
unset, `fault()` is one global lookup and a return.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass

from .errors import StoreWriteFailed

ENV = "CRONSOLE_TEST_FAULTS"
POINTS = frozenset(
    {
        "before_item",  # an item is claimed, its handler not yet called
        "mid_claim",  # a claim has locked its tenants and items, not yet committed
        "after_side_effect",  # the handler returned; its outcome is not yet committed
        "after_item_commit",  # the item's outcome (and watermark) committed
        "before_watermark_commit",  # inside the item's transaction, watermark written, no commit
        "mid_group",  # inside a group commit (`commit_every`): every outcome written, no commit
        "mid_sweep",  # a sweep has changed one row of several, not yet committed
        "mid_archive_chunk",  # a chunk is copied into the archive, not yet deleted
        "after_download_write",  # a file's bytes are on disk under a temporary name
        "after_rename",  # the temporary file was renamed into place
        "after_catch_up",  # a starting scheduler has started its catch-up runs
    }
)
ACTIONS = ("raise", "full", "sleep", "exit", "kill")


class FaultInjected(RuntimeError):
    """Raised by a fault point whose action is `raise`."""


@dataclass
class Fault:
    point: str
    action: str
    arg: float
    at_pass: int
    repeat: bool = False
    passes: int = 0


_lock = threading.Lock()
_plan: dict[str, Fault] | None = None


def parse(spec: str) -> dict[str, Fault]:
    """`point=action[:arg][@n[+]]` entries separated by commas; ValueError names a bad entry."""
    plan: dict[str, Fault] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        point, _, rest = entry.partition("=")
        rest, _, nth = rest.partition("@")
        action, _, arg = rest.partition(":")
        if point not in POINTS or action not in ACTIONS:
            raise ValueError(
                f"{ENV}: bad entry {entry!r} (points: {', '.join(sorted(POINTS))};"
                f" actions: {', '.join(ACTIONS)})"
            )
        repeat = nth.endswith("+")
        try:
            at_pass = int(nth.rstrip("+") or 1)
            value = float(arg or (0 if action != "exit" else 70))
        except ValueError:
            raise ValueError(f"{ENV}: bad number in {entry!r}") from None
        plan[point] = Fault(point, action, value, max(1, at_pass), repeat)
    return plan


def configure(spec: str | None) -> None:
    """Set the plan (None or "" turns every point off); the tests' in-process entry."""
    global _plan
    with _lock:
        _plan = parse(spec) if spec else None


def fault(point: str) -> None:
    """Pass a fault point; acts only when the plan names it and this is its n-th pass."""
    if _plan is None:
        return
    _trip(point)


def _trip(point: str) -> None:
    if point not in POINTS:
        raise ValueError(f"unknown fault point {point!r}")
    with _lock:
        found = _plan.get(point) if _plan else None
        if found is None:
            return
        found.passes += 1
        if found.passes < found.at_pass or (found.passes > found.at_pass and not found.repeat):
            return
    print(
        f"cronsole: fault point {point}: {found.action} (pass {found.passes})",
        file=sys.stderr,
        flush=True,
    )
    if found.action == "raise":
        raise FaultInjected(f"fault injected at {point}")
    if found.action == "full":
        raise StoreWriteFailed(f"database or disk is full (fault injected at {point})")
    if found.action == "sleep":
        time.sleep(found.arg)
    elif found.action == "exit":
        os._exit(int(found.arg))
    elif found.action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(5)  # the signal is delivered before this returns


configure(os.environ.get(ENV))
