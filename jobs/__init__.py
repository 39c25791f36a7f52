"""The built-in jobs, written only against cronsole.core's public job API.

Each ships disabled and is enabled by a `[jobs.NAME]` table in cronsole.toml.
"""

from __future__ import annotations

from types import ModuleType


def builtin_modules() -> list[ModuleType]:
    """Modules holding the built-in job definitions, for the registry."""
    from . import demo, ingest, nightly, rollup, tenants
    from .batches import checker

    return [ingest, checker, nightly, rollup, tenants, demo]
