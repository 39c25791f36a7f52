"""The reads a console repeats every second, answered from memory while the tables they read
are unchanged: an idle console reads the store's change counters, its nodes and its new log
records, and nothing else."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from .store import Store

# each store read a snapshot makes, with the tables whose writes change its answer; a read not
# named here (nodes, whose heartbeats move every 2 s; new log records, read by id) goes to the
# store every time
TOPICS: dict[str, tuple[str, ...]] = {
    "active_runs": ("runs",),
    "skipped_after": ("runs",),
    "list_runs": ("runs",),
    "runs_at": ("runs",),
    "last_runs": ("jobs", "runs"),
    "job_states": ("jobs",),
    "get_state": ("job_state",),
    "get_control": ("control",),
    "tenant_counts": ("tenant_counts",),
    "oldest_pending": ("tenant_counts",),  # an item's status never changes without its counter
    "list_commands": ("commands",),
    "query_records": ("records",),
}


class KeptReads:
    """A store whose reads in TOPICS keep their answer until a change counter of theirs moves
    (`Store.changes`); every other call goes through. `begin` reads the counters, once per
    snapshot. For one thread: a console's snapshot worker."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._counts: dict[str, int] | None = None
        self._kept: dict[tuple[Any, ...], tuple[tuple[int, ...], Any]] = {}
        self.misses = 0  # answers read from the store, for tests and the bench

    def begin(self) -> Store:
        """Read the counters and forget the answers they outdate; the store to read from."""
        counts = self._counts = self.store.changes()
        if counts is None:
            self._kept.clear()
        else:
            self._kept = {  # list() copies at once: an overtaken worker may still be reading
                key: kept
                for key, kept in list(self._kept.items())
                if kept[0] == tuple(counts[t] for t in TOPICS[key[0]])
            }
        return cast(Store, self)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.store, name)
        if name not in TOPICS:
            return found
        return functools.partial(self._read, name, found)

    def _read(self, name: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._counts is None:
            return call(*args, **kwargs)
        mark = tuple(self._counts[t] for t in TOPICS[name])
        key = (name, args, tuple(sorted(kwargs.items())))
        kept = self._kept.get(key)
        if kept is not None and kept[0] == mark:
            return kept[1]
        self.misses += 1
        answer = call(*args, **kwargs)
        self._kept[key] = (mark, answer)
        return answer
