"""The store contract and how to open a store from a database address."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from .base import Store


def open_store(address: str, create: bool = True) -> Store:
    """Open the store for a path (SQLite); PostgreSQL addresses arrive with issue #8."""
    if "://" in address:
        raise UsageError(f"unsupported database address {address!r}: give a SQLite file path")
    from .sqlite import SQLiteStore

    return SQLiteStore.open(Path(address), create=create)


__all__ = ["Store", "open_store"]
