"""The whole store contract in the shared SQL; a backend adds how to open, name and check its
database, and supplies `_db`. The contract itself (what each method promises) is written once,
in core/store/base.py; the parts here add only notes on how they keep it. The parts share
helpers as plain functions (misc.put_state, misc.advance_watermark_in), never stubs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from . import Database
from .copy import CopyMixin
from .incidents import IncidentsMixin
from .items import ItemsMixin
from .misc import CommandsMixin, JobsMixin, LogsMixin, NodesMixin, StateMixin
from .records import RecordsMixin
from .runs import RunsMixin


class SQLStore(
    JobsMixin,
    StateMixin,
    RunsMixin,
    ItemsMixin,
    NodesMixin,
    CommandsMixin,
    LogsMixin,
    RecordsMixin,
    IncidentsMixin,
    CopyMixin,
):
    _db: Database

    @contextmanager
    def batch(self) -> Iterator[None]:
        with self._db.write():
            yield

    def close(self) -> None:
        self._db.close_all()

    def connect(self) -> None:
        self._db.get()
