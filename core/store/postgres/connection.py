"""PostgreSQL connections: one per thread, the shared SQL's `?` placeholders translated, and
write transactions that exclude each other across every node, as BEGIN IMMEDIATE does on one
SQLite file."""

from __future__ import annotations

import functools
import os
import re
import select
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.rows import RowMaker

from ...errors import StoreUnavailable, StoreUnusable, StoreWriteFailed
from ...text import storable
from .. import redacted

T = TypeVar("T")
# what the server rolls a transaction back with to let others on: run it again
ROLLED_BACK = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
LOCK_TIMEOUT = "5s"  # as SQLite's busy timeout: a writer waits this long, then gives up


@functools.lru_cache(maxsize=512)
def translated(sql: str) -> str:
    """`?` placeholders become `%s` (a literal `%` is doubled first); `INDEXED BY`, a SQLite
    planner hint, is dropped. Our SQL holds no `?` inside string literals."""
    sql = re.sub(r"\s+INDEXED BY \w+", "", sql)
    return sql.replace("%", "%%").replace("?", "%s")


class Row(tuple[Any, ...]):
    """A row read by position or by column name, with keys(), as sqlite3.Row."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    names = {column.name: n for n, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row.names = names
        return row

    return make


def _storable(params: Sequence[Any]) -> tuple[Any, ...]:
    """Text stored as the SQLite store stores it (lone surrogates as \\udcNN escapes), and a
    NUL, which PostgreSQL text cannot hold, as the four characters \\x00."""
    return tuple(storable(v).replace("\x00", "\\x00") if isinstance(v, str) else v for v in params)


def reason(exc: Exception) -> str:
    """The first line of a driver error, fit for a one-line message."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class PgConn:
    """One psycopg connection in autocommit mode, speaking the shared SQL."""

    def __init__(self, raw: psycopg.Connection[Row]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Row]:
        with self.failures():
            return self.raw.execute(translated(sql), _storable(parameters))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> None:
        with self.failures(), self.raw.cursor() as cursor:
            cursor.executemany(translated(sql), [_storable(p) for p in parameters])

    @contextmanager
    def failures(self) -> Iterator[None]:
        """A lock waited for too long, or a lost server, as the store's errors."""
        try:
            yield
        except psycopg.errors.LockNotAvailable as exc:
            raise StoreWriteFailed(f"write rolled back: locked for {LOCK_TIMEOUT}") from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"the database is unavailable: {reason(exc)}") from exc


def _went_away(conn: PgConn) -> bool:
    """Whether an idle connection was closed by the server (a restart, an administrator):
    psycopg learns that only when a statement fails, but the socket of an idle connection
    turns readable at once, with the server's last message or the end of the stream. It is
    never readable otherwise: we use no LISTEN."""
    try:
        readable, _, _ = select.select([conn.raw.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return True
    return bool(readable)


class Connections:
    """One connection per thread. One the server closed while it was idle (a restart) is
    replaced before the next statement; a statement that meets a break raises
    StoreUnavailable."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, PgConn]] = []
        self._lock = threading.Lock()
        self._closed = False

    def connect(self) -> PgConn:
        try:
            raw = psycopg.connect(
                self.url,
                autocommit=True,
                row_factory=rows,
                connect_timeout=10,
                application_name=f"cronsole[{os.getpid()}]",
            )
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot connect: {reason(exc)}") from None
        raw.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        return PgConn(raw)

    def get(self) -> PgConn:
        if self._closed:
            raise StoreUnusable(f"{redacted(self.url)}: the store was closed")
        conn: PgConn | None = getattr(self._local, "conn", None)
        if conn is not None and not getattr(self._local, "depth", 0) and _went_away(conn):
            conn.raw.close()  # idle, outside our transactions: nothing of it is lost
        if conn is None or conn.raw.broken or conn.raw.closed:
            conn = self._local.conn = self.connect()
            self._local.depth = 0
            with self._lock:
                ended = [c for t, c in self._all if not t.is_alive() or c.raw.broken]
                for old in ended:
                    old.raw.close()
                self._all = [(t, c) for t, c in self._all if c not in ended]
                self._all.append((threading.current_thread(), conn))
        return conn

    def close_all(self) -> None:
        self._closed = True
        with self._lock:
            for _, conn in self._all:
                conn.raw.close()  # psycopg connections may be closed from any thread
            self._all = []

    @contextmanager
    def write(self) -> Iterator[PgConn]:
        """A transaction that first takes this schema's writer lock; nested calls join it."""
        with self.transaction(exclusive=True) as conn:
            yield conn

    def attempt(self, body: Callable[[PgConn], T], exclusive: bool, tries: int = 3) -> T:
        """`body` in a transaction of its own, run again when the server rolled it back to
        break a deadlock (or a serialization conflict): row-locking writers that meet in a
        different order. Joined to an enclosing transaction, it is not run again here."""
        for attempt in range(tries):
            try:
                with self.transaction(exclusive) as conn:
                    return body(conn)
            except StoreUnavailable as exc:
                rolled_back = isinstance(exc.__cause__, ROLLED_BACK)
                if not rolled_back or attempt + 1 == tries or self._local.depth:
                    raise
        raise AssertionError("unreachable: the last try raises")

    @contextmanager
    def transaction(self, exclusive: bool) -> Iterator[PgConn]:
        """A transaction, alone among writers when `exclusive`; otherwise only row locks
        order it (claims, which lock what they take with SKIP LOCKED)."""
        conn = self.get()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
            return
        self._local.depth = 1
        try:
            with conn.raw.transaction():
                if exclusive:
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext('cronsole:' || current_schema()))"
                    )
                yield conn
        except psycopg.OperationalError as exc:  # at commit: the server went away
            raise StoreUnavailable(
                f"{redacted(self.url)}: write rolled back: {reason(exc)}"
            ) from exc
        finally:
            self._local.depth = 0
