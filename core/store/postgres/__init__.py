"""The PostgreSQL store: the shared SQL over one database that several hosts share."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

import psycopg

from ...errors import StoreUnavailable, StoreUnusable
from ...models import Watermark
from .. import redacted
from ..sql import Conn
from ..sql.copy import TABLES
from ..sql.store import SQLStore
from .connection import Connections, PgConn, reason
from .schema import KNOWN, MIGRATIONS

T = TypeVar("T")


class PostgresStore(SQLStore):
    """The store on a PostgreSQL database (the schema in the address's search_path)."""

    _db: Connections

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = Connections(url)

    @classmethod
    def open(cls, url: str, create: bool = True) -> PostgresStore:
        """Connect, and create or migrate the schema (one node at a time); StoreUnusable when
        the server cannot be reached or the schema is not ours or is newer."""
        store = cls(url)
        try:
            migrate(store._db.get(), create)
        except (StoreUnavailable, psycopg.Error) as exc:
            store.close()
            raise StoreUnusable(f"{redacted(url)}: {reason(exc)}") from None
        except StoreUnusable as exc:
            store.close()
            raise StoreUnusable(f"{redacted(url)}: {exc}") from None
        return store

    def describe(self) -> str:
        return redacted(self.url)

    def changes(self) -> dict[str, int] | None:
        return None  # see migration 0007 in schema.py

    def integrity_ok(self) -> bool:
        # PostgreSQL checks its pages itself; this reads every table once (a damaged
        # relation raises) and checks the tick rule's unique index is valid.
        c = self._db.get()
        for table in TABLES:
            c.execute(f"SELECT count(*) FROM {table}").fetchone()
        row = c.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = 'runs_tick' AND c.relnamespace = current_schema()::regnamespace"
        ).fetchone()
        return bool(row and row[0])

    def _after_copy(self, c: Conn) -> None:
        for table in ("runs", "items", "item_attempts", "commands", "logs"):
            c.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )

    SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"
    FOR_UPDATE = True
    JSON_TEXT = "(data::json->>'{field}')"

    def _claiming(self) -> AbstractContextManager[Conn]:
        """Claims skip the writers' lock: tenants and items are locked with FOR UPDATE SKIP
        LOCKED, so nodes claiming at once take different work instead of queueing."""
        return self._db.transaction(exclusive=False)

    def _settling(self, body: Callable[[Conn], T], watermark: Watermark | None) -> T:
        """Outcomes skip the writers' lock too: the item's update is a compare-and-set on its
        claim token, and the counters (its tenant's, its run's) are increments under row
        locks, taken in the same order by every outcome (item, tenant, next item, run). One
        that moves the watermark (read, compare, write one shared row) keeps the lock."""
        return self._db.attempt(body, exclusive=watermark is not None)


def migrate(c: PgConn, create: bool) -> None:
    """Apply missing migrations under a session lock, so nodes starting together take turns."""
    c.execute("SELECT pg_advisory_lock(hashtext('cronsole-migrate:' || current_schema()))")
    try:
        with c.raw.transaction():
            tables = {
                r[0]
                for r in c.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                ).fetchall()
            }
            if "cronsole_migrations" not in tables:
                if tables & set(TABLES):
                    raise StoreUnusable("not a cronsole database (it holds other tables)")
                if not create:
                    raise StoreUnusable(
                        "no cronsole schema here (start cronsole once to create it)"
                    )
                c.execute(
                    "CREATE TABLE cronsole_migrations (name text PRIMARY KEY,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
            applied = {r[0] for r in c.execute("SELECT name FROM cronsole_migrations").fetchall()}
            if applied - KNOWN:
                raise StoreUnusable(
                    f"the database was written by a newer cronsole (schema "
                    f"{sorted(applied - KNOWN)[-1]}); upgrade cronsole to use it"
                )
            for name, statements in MIGRATIONS:
                if name not in applied:
                    if statements:
                        c.raw.execute(statements)
                    c.execute("INSERT INTO cronsole_migrations (name) VALUES (?)", (name,))
    finally:
        c.execute("SELECT pg_advisory_unlock(hashtext('cronsole-migrate:' || current_schema()))")
