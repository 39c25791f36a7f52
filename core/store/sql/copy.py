"""Copying every row of one store into another, either backend to either (migrate-store)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ...errors import UsageError
from ..base import Store
from . import Conn, Database, Row

# parents before children is not needed (no foreign keys); this is the order rows are copied
TABLES = (
    "jobs",
    "job_state",
    "control",
    "nodes",
    "runs",
    "items",
    "item_attempts",
    "tenant_counts",
    "commands",
    "logs",
    "records",
    "archive",
    "incidents",
)
CHUNK = 1000


class CopyMixin:
    _db: Database
    describe: Callable[[], str]  # the backend's

    def _rows(self, table: str) -> Iterator[list[Row]]:
        cursor = self._db.get().execute(f"SELECT * FROM {table}")
        while chunk := cursor.fetchmany(CHUNK):
            yield chunk

    def _after_copy(self, c: Conn) -> None:
        """Bring id counters past the copied ids (PostgreSQL's identity sequences)."""

    def copy_into(
        self, target: Store, progress: Callable[[str, int], None] = lambda table, rows: None
    ) -> dict[str, int]:
        if not isinstance(target, CopyMixin):  # both backends are; another would copy its own way
            raise UsageError(f"cannot copy into {target.describe()}")
        copied: dict[str, int] = {}
        with target._db.write() as c:
            for table in TABLES:
                if c.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                    raise UsageError(
                        f"{target.describe()}: already holds data ({table}); "
                        "copy into a new, empty database"
                    )
            for table in TABLES:
                copied[table] = 0
                for chunk in self._rows(table):
                    columns = list(chunk[0].keys())
                    names = ", ".join(f'"{name}"' for name in columns)
                    marks = ", ".join("?" for _ in columns)
                    c.executemany(
                        f"INSERT INTO {table} ({names}) VALUES ({marks})",
                        [tuple(row[name] for name in columns) for row in chunk],
                    )
                    copied[table] += len(chunk)
                    progress(table, copied[table])
            target._after_copy(c)
        return copied
