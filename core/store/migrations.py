"""The schema's migrations, in order. Both backends apply exactly these, each once, under these
names (SQLite in sqlite-utils' `_sqlite_migrations`, PostgreSQL in `cronsole_migrations`); a
database that records a name not listed here was written by a newer cronsole and is refused.
A new migration is added here first, then written for each backend."""

from __future__ import annotations

MIGRATIONS = (
    ("0001_initial", "jobs, job state, control, runs, items, tenant counts, commands, nodes, logs"),
    ("0002_records_and_archive", "record collections, the retention archive, items by update"),
    ("0003_item_history", "item_attempts (each failed try), items.started_at and reserved_for"),
    ("0004_item_lookups", "an item's attempts, a tenant's items (the console's drill-downs)"),
    ("0005_item_tracebacks", "item_attempts.traceback: where each failed try raised"),
    ("0006_one_tenant_index", "one index of items by tenant and state, for claims and listings"),
    ("0007_change_counters", "a counter per table the console shows, bumped by every write"),
    ("0008_incidents", "alert incidents: one open row per job and kind"),
)
NAMES = tuple(name for name, _ in MIGRATIONS)
