"""The SQLite store: the shared SQL over one file, and the only user of sqlite-utils."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...errors import StoreUnusable
from ..sql.copy import CopyMixin
from ..sql.items import ItemsMixin
from ..sql.misc import CommandsMixin, JobsMixin, LogsMixin, NodesMixin, StateMixin
from ..sql.records import RecordsMixin
from ..sql.runs import RunsMixin
from .connection import Connections, check_file, migrate, prepare_file


class SQLiteStore(
    JobsMixin, StateMixin, RunsMixin, ItemsMixin, NodesMixin, CommandsMixin, LogsMixin,
    RecordsMixin, CopyMixin,
):
    """The store on one SQLite file in WAL mode, shared safely by several processes."""

    _db: Connections

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = Connections(path)

    @classmethod
    def open(cls, path: Path, create: bool = True) -> SQLiteStore:
        """Check, create if asked, and migrate; anything unusable raises StoreUnusable."""
        check_file(path)
        if not path.exists():
            if not create:
                raise StoreUnusable(f"{path}: no database here (start cronsole once to create it)")
            prepare_file(path)
        store = cls(path)
        try:
            migrate(store._db)
        except sqlite3.DatabaseError as exc:
            store.close()
            raise StoreUnusable(f"{path}: cannot use the database: {exc}") from None
        return store

    @contextmanager
    def batch(self) -> Iterator[None]:
        with self._db.write():
            yield

    def describe(self) -> str:
        return str(self.path)

    def close(self) -> None:
        self._db.close_all()

    def integrity_ok(self) -> bool:
        return bool(self._db.get().execute("PRAGMA integrity_check").fetchone()[0] == "ok")
