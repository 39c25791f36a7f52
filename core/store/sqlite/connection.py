"""Opening the SQLite file safely, one connection per thread, and BEGIN IMMEDIATE writes."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from ...errors import StateFileUnsafe, StoreUnusable, StoreWriteFailed
from ...text import storable
from .schema import APPLICATION_ID, KNOWN, migrations

HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000
# SQLite reuses the WAL file after a checkpoint but keeps it at its largest unless told a
# size to truncate it back to, when the log starts over
WAL_LIMIT = 16 * 1024 * 1024
CHECKPOINT_WAIT = 2.0


def refuse_links(*paths: Path) -> None:
    """One line naming the first of these that is a symbolic link (dangling ones too)."""
    for path in paths:
        if path.is_symlink():
            raise StateFileUnsafe(
                f"{path}: is a symbolic link; cronsole does not follow "
                "links for the files it keeps (give the real path)"
            )


def check_file(path: Path) -> None:
    """Refuse anything but an empty file or a whole cronsole database, touching nothing; the
    database and its sidecars must not be symbolic links."""
    refuse_links(path, *(path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal")))
    if not path.exists() or path.stat().st_size == 0:
        return
    _check_header(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreUnusable(f"{path}: cannot open the database: {exc}") from None
    try:
        _check_identity(conn, path)
    except sqlite3.DatabaseError as exc:
        raise StoreUnusable(f"{path}: the database is damaged: {exc}") from None
    finally:
        conn.close()


def _check_header(path: Path) -> None:
    """A file shorter than its header says is truncated, unless a live process is writing it:
    a checkpoint writes page 1 before the pages after it, with the -wal file still beside it.
    Such a file is read again until it is whole (at most CHECKPOINT_WAIT seconds)."""
    deadline = time.monotonic() + CHECKPOINT_WAIT
    while _shorter_than_header(path):
        in_use = any(path.with_name(path.name + end).exists() for end in ("-wal", "-journal"))
        if (not in_use and _shorter_than_header(path)) or time.monotonic() > deadline:
            raise StoreUnusable(f"{path}: the database file is truncated")
        time.sleep(0.02)


def _shorter_than_header(path: Path) -> bool:
    with path.open("rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(HEADER):
        raise StoreUnusable(f"{path}: not a SQLite database")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    change_counter = int.from_bytes(header[24:28], "big")
    return valid_for == change_counter and path.stat().st_size < pages * page_size


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if app_id != APPLICATION_ID:
        if tables:
            raise StoreUnusable(f"{path}: not a cronsole database (it holds other tables)")
        return
    if "_sqlite_migrations" in tables:
        applied = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'cronsole'"
            )
        }
        if applied - KNOWN:
            raise StoreUnusable(
                f"{path}: the database was written by a newer cronsole "
                f"(schema {sorted(applied - KNOWN)[-1]}); upgrade cronsole to use it"
            )
    # No quick_check here: it reads the whole file (0.7 s at 500 MB, on every command). Pages
    # damaged later are reported when a statement meets them (StorableText.execute).


def prepare_file(path: Path) -> None:
    """Create the state directory 0700 and the database file 0600, whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _storable(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: storable(v) if isinstance(v, str) else v for k, v in params.items()}
    return tuple(storable(v) if isinstance(v, str) else v for v in params)


class DamageReported(sqlite3.Cursor):
    """A damaged page met by a statement is a StoreUnusable naming the file, like damage found
    at open: one line for the operator (exit 4), not a traceback."""

    path: Path | None = None

    @contextmanager
    def _reported(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:  # damage, not a lock or a full disk
                raise StoreUnusable(f"{self.path}: the database is damaged: {exc}") from exc
            raise

    def execute(self, sql: str, parameters: Any = (), /) -> DamageReported:
        with self._reported():
            return super().execute(sql, parameters)

    def fetchone(self) -> Any:
        with self._reported():
            return super().fetchone()

    def fetchall(self) -> list[Any]:
        with self._reported():
            return super().fetchall()


class StorableText(sqlite3.Connection):
    """A connection that stores any text: lone surrogates (bytes of a file name or argument
    that are not UTF-8) become \\udcNN escapes instead of failing the write."""

    path: Path | None = None

    def _cursor(self) -> DamageReported:
        cursor = self.cursor(DamageReported)
        cursor.path = self.path
        return cursor

    def execute(self, sql: str, parameters: Any = (), /) -> DamageReported:
        try:
            return self._cursor().execute(sql, parameters)
        except UnicodeEncodeError:  # raised while binding, before anything ran
            return self._cursor().execute(sql, _storable(parameters))

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return super().executemany(sql, (_storable(row) for row in parameters))


class Connections:
    """One sqlite3 connection per thread; each opened in autocommit mode with our pragmas."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._closed = False

    def get(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnusable(f"{self.path}: the store was closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._lock:
                self._close_orphans()
                self._all.append((threading.current_thread(), conn))
        return conn

    def _close_orphans(self) -> None:
        """Close the connections of threads that have ended (every run has its own threads):
        without this each run would keep a connection, and its file handles, forever."""
        ended = [(t, c) for t, c in self._all if not t.is_alive()]
        for _, conn in ended:
            conn.close()
        if ended:
            self._all = [(t, c) for t, c in self._all if t.is_alive()]

    def _open(self) -> StorableText:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, factory=StorableText
        )
        conn.row_factory = sqlite3.Row
        conn.path = self.path
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}")
        return conn

    def close_all(self) -> None:
        """Close our connections. One still owned by another live thread is left to that thread:
        closing a connection another thread is using crashes the interpreter."""
        self._closed = True
        me = threading.current_thread()
        with self._lock:
            keep = [(t, c) for t, c in self._all if t is not me and t.is_alive()]
            for thread, conn in self._all:
                if (thread, conn) not in keep:
                    conn.close()
            self._all = keep

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A BEGIN IMMEDIATE transaction; nested calls on one thread join the outer one. A
        full disk or a lock held past the busy timeout rolls it back whole and raises
        StoreWriteFailed with SQLite's reason."""
        conn = self.get()
        if conn.in_transaction:
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise StoreWriteFailed(f"{self.path}: write rolled back: {exc}") from exc


def migrate(connections: Connections) -> None:
    """WAL mode, our application id and every migration; processes that start together take
    turns (the id is set inside the write transaction: set outside it, two processes could
    each hold a read lock and want to write, which SQLite answers with 'locked' at once)."""
    conn = connections.get()
    _when_unlocked(lambda: conn.execute("PRAGMA journal_mode = WAL"))
    db = Database(conn, execute_plugins=False)
    conn.execute("BEGIN IMMEDIATE")  # one migrator at a time when processes start together
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        migrations.apply(db)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _when_unlocked(
    statement: Callable[[], object], seconds: float = BUSY_TIMEOUT_MS / 1000
) -> None:
    """Switching to WAL needs the file to itself and does not wait for it: retry a while."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
