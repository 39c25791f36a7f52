"""The built-in jobs, written only against cronsole.core's public job API."""

from __future__ import annotations

from types import ModuleType


def builtin_modules() -> list[ModuleType]:
    """Modules holding built-in job definitions (the five families land here with issue #3)."""
    return []
