"""The store's SQL, shared by the SQLite and PostgreSQL backends.

Written in the SQL both speak (`?` placeholders, ON CONFLICT, RETURNING); each backend supplies
a `Database`: connections that run it, and `write()` transactions that exclude each other the
way SQLite's BEGIN IMMEDIATE does. The PostgreSQL backend translates placeholders and takes the
same exclusion with an advisory lock; claiming items is the one place it does better (row locks
with SKIP LOCKED, see postgres/__init__.py). `store.SQLStore` puts the mixins together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

Row = Any  # a row read by name or position (sqlite3.Row, or the PostgreSQL backend's Row)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Row: ...

    def fetchall(self) -> list[Row]: ...

    def fetchmany(self, size: int = ..., /) -> list[Row]: ...


class Conn(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


class Database(Protocol):
    def get(self) -> Conn:
        """This thread's connection, for reads outside a transaction."""
        ...

    def write(self) -> AbstractContextManager[Conn]:
        """A write transaction, alone among writers; nested calls join the outer one."""
        ...

    def close_all(self) -> None:
        """Close every thread's connection."""
        ...
