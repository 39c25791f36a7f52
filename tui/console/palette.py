"""The command palette: every action by name ("fire invoice-ingest", "go runs"), and command
mode with arguments (`pause tenant-queue 1h deploy window`, `fire invoice-ingest batch_size=5`,
`period invoice-ingest 2025-02`, `go runs`), checked as it is typed, errors said inline."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.command import CommandInput, DiscoveryHit, Hit, Hits, Provider

from cronsole.core.durations import parse_duration
from cronsole.core.errors import CronsoleError, UsageError
from cronsole.core.jobsettings import field_types, parse_assignments
from cronsole.core.periods import check_period
from cronsole.core.text import visible

from .screens.main import TABS

if TYPE_CHECKING:
    from .app import CronsoleApp

Found = tuple[str, Callable[[], Any], str]


def escape(text: str) -> str:
    """Text that Textual reads as markup (a hit's name and help) shown as written: its usage
    lines hold brackets (`fire JOB [KEY=VALUE…]`), which crashed the palette as bad markup.
    (textual.markup.escape leaves brackets that do not look like a tag.)"""
    return text.replace("[", "\\[")


USAGE = {
    "pause": "pause JOB [DURATION] [REASON…]",
    "fire": "fire JOB [KEY=VALUE…]",
    "period": "period JOB YYYY-MM",
    "resume": "resume JOB",
    "go": f"go {'|'.join(TABS)}",
}


class ConsoleCommands(Provider):
    @property
    def console(self) -> CronsoleApp:
        return self.app  # type: ignore[return-value]

    def commands(self) -> list[Found]:
        app = self.console
        found: list[Found] = [
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
                (f"pause {name}", partial(app.pause_form, [name]), "pause it (asks why)"),
                (
                    f"resume {name}",
                    partial(app.act, "resume", [partial(app.commands.resume, name)]),
                    "resume it",
                ),
            ]
        return found

    def command_line(self, query: str) -> Found | None:
        """The query read as a command with arguments; None when it is not one (yet). A
        command that cannot work raises UsageError, which is shown as the only hit."""
        verb, *args = query.split() or [""]
        if verb not in USAGE or not args or (len(args) == 1 and verb in ("pause", "fire")):
            return None  # the plain entries ("fire JOB") complete the job names
        app = self.console
        if verb == "go":
            if args[0] not in TABS:
                raise UsageError(f"no pane {args[0]!r}: {USAGE['go']}")
            return (f"go {args[0]}", partial(app.action_tab, args[0]), "show it")
        name, rest = args[0], args[1:]
        job = app.engine.jobs.get(name)
        if job is None:
            raise UsageError(f"no job {name!r}: {USAGE[verb]}")
        if verb == "resume":
            return (
                f"resume {name}",
                partial(app.act, "resume", [partial(app.commands.resume, name)]),
                "resume it",
            )
        if verb == "pause":
            seconds, until = None, ""
            try:
                seconds, until = parse_duration(rest[0], "duration"), f" for {rest[0]}"
                rest = rest[1:]
            except CronsoleError:
                pass  # not a duration: the reason starts here
            reason = " ".join(rest) or None
            call = partial(app.commands.pause, name, reason, seconds)
            said = f"pause {name}{until}" + (f": {reason}" if reason else "")
            return (
                said,
                partial(app.act, "pause", [call]),
                "pause it, the reason kept in the audit",
            )
        if verb == "fire":
            overrides = parse_assignments(rest)
            job.settings(app.job_settings(name), overrides)  # checked now: bad keys said here
            call = partial(app.commands.fire, name, overrides)
            return (
                f"fire {name} {' '.join(rest)}",
                partial(app.act, "fire", [call]),
                "run it now with these settings",
            )
        if len(rest) != 1:
            raise UsageError(USAGE["period"])
        check_period(rest[0])
        job.settings(app.job_settings(name), {"period": rest[0]})
        call = partial(app.commands.set, name, {"period": rest[0]})
        return (
            f"period {name} {rest[0]}",
            partial(app.act, "period", [call]),
            "set its processing period",
        )

    async def discover(self) -> Hits:
        for name, call, help_text in self.commands():
            yield DiscoveryHit(escape(name), call, help=escape(help_text))

    def setting_keys(self, query: str) -> list[str]:
        """`fire JOB … PREFIX`, a setting's key being typed: the lines its keys complete."""
        verb, *args = query.split() or [""]
        job = self.console.engine.jobs.get(args[0]) if verb == "fire" and args else None
        if job is None or len(args) < 2 or "=" in args[-1]:
            return []
        head = query[: len(query) - len(args[-1])]
        return [
            f"{head}{key}=" for key in field_types(job.settings_cls) if key.startswith(args[-1])
        ]

    def complete(self, line: str) -> None:
        """The palette again, holding `line` (a setting's key), for its value to be typed."""
        self.app.action_command_palette()

        def fill() -> None:
            self.app.screen.query_one(CommandInput).value = line

        self.app.call_after_refresh(fill)

    async def search(self, query: str) -> Hits:
        if keys := self.setting_keys(query.strip()):
            for completed in keys:
                yield Hit(
                    1.0,
                    Text(visible(completed, 200)),
                    partial(self.complete, completed),
                    help="a setting: enter, then type its value",
                )
            return
        try:
            line = self.command_line(query.strip())
        except (CronsoleError, ValueError) as exc:
            said = f"✖ {visible(str(exc), 200)}"
            yield Hit(
                1.0,
                Text(said, style="bold red"),
                partial(self.app.notify, said, markup=False),
                help=escape(USAGE.get(query.split()[0], "")),
            )
            return
        if line is not None:
            name, call, help_text = line
            yield Hit(1.0, Text(visible(name, 200)), call, help=escape(help_text))
            return
        matcher = self.matcher(query)
        for name, call, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), call, help=escape(help_text))
