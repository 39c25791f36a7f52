"""The command palette: every action by name ("fire invoice-ingest", "go runs")."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .screens.main import TABS

if TYPE_CHECKING:
    from .app import CronsoleApp


class ConsoleCommands(Provider):
    def commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app: CronsoleApp = self.app  # type: ignore[assignment]
        found: list[tuple[str, Callable[[], Any], str]] = [
            (f"go {tab}", partial(app.action_tab, tab), f"show the {tab.title()} pane")
            for tab in TABS
        ]
        found += [
            (
                "pause all",
                partial(app.act, "pause all", [app.commands.pause_all]),
                "pause the whole scheduler",
            ),
            (
                "resume all",
                partial(app.act, "resume all", [app.commands.resume_all]),
                "resume the whole scheduler",
            ),
            ("help", app.action_help, "keys and panes"),
        ]
        for name in app.engine.jobs:
            found += [
                (
                    f"fire {name}",
                    partial(app.act, "fire", [partial(app.commands.fire, name)]),
                    "run it now",
                ),
                (
                    f"pause {name}",
                    partial(app.act, "pause", [partial(app.commands.pause, name)]),
                    "pause it (no reason given)",
                ),
                (
                    f"resume {name}",
                    partial(app.act, "resume", [partial(app.commands.resume, name)]),
                    "resume it",
                ),
            ]
        return found

    async def discover(self) -> Hits:
        for name, call, help_text in self.commands():
            yield DiscoveryHit(name, call, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, call, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), call, help=help_text)
