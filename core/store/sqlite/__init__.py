"""The SQLite store: the shared SQL over one file, and the only user of sqlite-utils."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ...errors import StoreUnusable
from ..sql.store import SQLStore
from .connection import Connections, check_file, migrate, prepare_file


class SQLiteStore(SQLStore):
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

    def describe(self) -> str:
        return str(self.path)

    def changes(self) -> dict[str, int] | None:
        rows = self._db.get().execute("SELECT topic, n FROM changes").fetchall()
        return {row["topic"]: int(row["n"]) for row in rows}

    def integrity_ok(self) -> bool:
        return bool(self._db.get().execute("PRAGMA integrity_check").fetchone()[0] == "ok")
