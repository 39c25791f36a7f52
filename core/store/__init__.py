"""The store contract and how to open a store from a database address."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import UsageError
from .base import Store

POSTGRES = ("postgresql://", "postgres://")


def redacted(address: str) -> str:
    """A database address fit to show: a PostgreSQL address without its password."""
    parts = urlsplit(address) if address.startswith(POSTGRES) else None
    if parts is None or parts.password is None:
        return address
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def open_store(address: str, create: bool = True) -> Store:
    """Open the store at a SQLite file path or a postgresql:// address."""
    if address.startswith(POSTGRES):
        try:
            from .postgres import PostgresStore
        except ImportError:
            raise UsageError(
                "a postgresql:// database needs the PostgreSQL driver: "
                "pip install 'cronsole[postgres]'"
            ) from None
        return PostgresStore.open(address, create=create)
    if "://" in address:
        raise UsageError(
            f"unsupported database address {address!r}: give a SQLite file path "
            "or a postgresql:// address"
        )
    from .sqlite import SQLiteStore

    return SQLiteStore.open(Path(address), create=create)


__all__ = ["Store", "open_store", "redacted"]
