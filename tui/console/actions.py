"""Operator actions of the console: each calls core Commands in a worker and toasts the result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from textual.app import App
from textual.message import Message
from textual.widgets import TabbedContent

from cronsole.core.clock import parse_moment
from cronsole.core.commands import Commands
from cronsole.core.durations import parse_duration
from cronsole.core.engine import Engine
from cronsole.core.errors import CronsoleError, UsageError
from cronsole.core.jobsettings import parse_assignments
from cronsole.core.models import Command, CommandStatus, Watermark
from cronsole.core.periods import check_period
from cronsole.core.snapshot import Snapshot
from cronsole.core.text import visible

from .screens.details import JobScreen, RunScreen
from .screens.modals import ConfirmModal, Field, FormModal, Values
from .widgets.tables import LiveTable

Call = Callable[[], Command]


class RefreshRequested(Message):
    """Something changed: read a snapshot soon."""


class ActionResult(Message):
    """One command of an action was sent (or refused): say so. `waiting` is the id of a
    command left for the scheduler (an observing console): its outcome is said when applied."""

    def __init__(self, text: str, failed: bool, waiting: int | None = None) -> None:
        super().__init__()
        self.text, self.failed, self.waiting = text, failed, waiting


class CommandsApplied(Message):
    """Commands this console left for the scheduler were applied (or failed there)."""

    def __init__(self, commands: list[Command]) -> None:
        super().__init__()
        self.commands = commands


class ActionsDone(Message):
    """Every command of an action was sent: clear the marks and read a snapshot."""


class Actions(App[int]):
    engine: Engine
    commands: Commands
    snapshot: Snapshot | None
    awaiting: tuple[int, ...] = ()  # commands left for the scheduler, said when applied

    # where an action applies

    def table(self, name: str) -> LiveTable:
        """A table of the main screen, wherever the operator is (a detail screen, a modal)."""
        for screen in reversed(self.screen_stack):
            found: list[LiveTable] = list(screen.query(f"#{name}-table").results(LiveTable))
            if found:
                return found[0]
        raise LookupError(f"no {name} table")

    def current_tab(self) -> str:
        """The active tab when the main screen is in front, else ""."""
        if not self.screen_stack:
            return ""
        tabs = self.screen.query(TabbedContent)
        return (tabs.first().active or "jobs") if tabs else ""

    def selected_jobs(self) -> list[str]:
        """The job screen's job, or the marked jobs (else the one under the cursor)."""
        if isinstance(self.screen, JobScreen):
            return [self.screen.key]
        jobs = self.table("jobs").targets() if self.current_tab() == "jobs" else []
        if not jobs:
            self.notify("select a job first (tab 1)", severity="warning")
        return jobs

    def selected_runs(self) -> list[int]:
        if isinstance(self.screen, RunScreen):
            return [int(self.screen.key)]
        runs = (
            [int(k) for k in self.table("runs").targets()] if self.current_tab() == "runs" else []
        )
        if not runs:
            self.notify("select a run first (tab 3)", severity="warning")
        return runs

    # running commands

    def act(self, describe: str, calls: Sequence[Call]) -> None:
        self.run_worker(
            partial(self._apply, describe, calls), thread=True, group="actions", exit_on_error=False
        )

    def _apply(self, describe: str, calls: Sequence[Call]) -> None:
        for call in calls:
            try:
                command = call()
            except CronsoleError as exc:
                self.post_message(ActionResult(f"{describe}: {exc}", True))
                continue
            failed = command.status is CommandStatus.FAILED
            waiting = command.status is CommandStatus.PENDING
            text = command.result or f"{command.action}: waiting for the scheduler"
            self.post_message(ActionResult(text, failed, command.id if waiting else None))
        self.post_message(ActionsDone())

    # workers reach the UI one way: they post a message, handled here on the UI thread

    def on_action_result(self, message: ActionResult) -> None:
        self.toast(message.text, message.failed)
        if message.waiting is not None:
            self.awaiting = (*self.awaiting, message.waiting)  # one atomic swap: workers read it

    def applied(self) -> list[Command]:
        """Of the commands awaited, those the scheduler has finished (on a worker thread)."""
        found = [self.engine.store.get_command(i) for i in self.awaiting]
        return [c for c in found if c and c.status in (CommandStatus.APPLIED, CommandStatus.FAILED)]

    def on_commands_applied(self, message: CommandsApplied) -> None:
        done = {c.id for c in message.commands}
        self.awaiting = tuple(i for i in self.awaiting if i not in done)
        for command in message.commands:
            self.toast(
                command.result or command.status.value, command.status is CommandStatus.FAILED
            )

    def on_actions_done(self, message: ActionsDone) -> None:
        self.clear_marks()
        self.post_message(RefreshRequested())

    def toast(self, text: str, error: bool = False) -> None:
        self.notify(
            visible(text, 500),
            severity="error" if error else "information",
            markup=False,
            timeout=8 if error else 4,
        )

    def clear_marks(self) -> None:
        for name in ("jobs", "runs", "tenants"):
            self.table(name).clear_marks()

    # the actions

    def action_fire(self) -> None:
        jobs = self.selected_jobs()
        self.act("fire", [partial(self.commands.fire, j) for j in jobs])

    def action_fire_with(self) -> None:
        jobs = self.selected_jobs()
        if not jobs:
            return
        job = self.engine.jobs[jobs[0]]

        def check(values: Values) -> str:
            overrides = parse_assignments(values["overrides"].split())
            return f"settings for this run: {job.settings(self.job_settings(job.name), overrides)}"

        def done(values: Values | None) -> None:
            if values is not None:
                overrides = parse_assignments(values["overrides"].split())
                self.act("fire", [partial(self.commands.fire, j, overrides) for j in jobs])

        self.push_screen(
            FormModal(
                f"Fire {', '.join(jobs)} with overrides",
                [
                    Field(
                        "overrides", "key=value pairs, space separated", placeholder="batch_size=10"
                    )
                ],
                check,
            ),
            done,
        )

    def action_pause(self) -> None:
        self.pause_form(self.selected_jobs())

    def pause_form(self, jobs: list[str]) -> None:
        """Ask for the reason (kept in the audit) and an optional duration, then pause."""
        if not jobs:
            return

        def check(values: Values) -> str:
            seconds = self._duration(values["duration"])
            until = f"until {seconds / 60:g} min from now" if seconds else "until resumed"
            return f"pause {len(jobs)} job(s) {until}"

        def done(values: Values | None) -> None:
            if values is not None:
                seconds = self._duration(values["duration"])
                reason = values["reason"] or None
                self.act("pause", [partial(self.commands.pause, j, reason, seconds) for j in jobs])

        self.push_screen(
            FormModal(
                f"Pause {', '.join(jobs)}",
                [
                    Field("reason", "Reason (kept in the audit)", placeholder="disk swap"),
                    Field("duration", "For how long (optional)", placeholder="30m, 2h"),
                ],
                check,
            ),
            done,
        )

    @staticmethod
    def _duration(text: str) -> float | None:
        seconds = parse_duration(text, "duration") if text else None
        if seconds is not None and seconds <= 0:
            raise UsageError("the duration must be longer than zero")
        return seconds

    def action_resume(self) -> None:
        jobs = self.selected_jobs()
        self.act("resume", [partial(self.commands.resume, j) for j in jobs])

    def action_pause_all(self) -> None:
        paused = bool(self.snapshot and self.snapshot.paused_all)
        question = (
            "Resume the whole scheduler?"
            if paused
            else "Pause the whole scheduler? No job starts until it is resumed."
        )

        def done(yes: bool | None) -> None:
            if yes:
                call: Call = self.commands.resume_all if paused else self.commands.pause_all
                self.act("scheduler", [call])

        self.push_screen(ConfirmModal(question), done)

    def job_settings(self, name: str) -> dict[str, Any]:
        view = next(
            (v for v in (self.snapshot.jobs if self.snapshot else []) if v.name == name), None
        )
        return dict(view.settings) if view else {}

    def action_edit_period(self) -> None:
        """The processing period (for jobs that have one) and the watermark, in one form;
        an emptied watermark resets it."""
        jobs = self.selected_jobs()
        if not jobs:
            return
        name = jobs[0]
        try:
            current: str | None = self.commands.current_period(name)
        except CronsoleError:
            current = None  # no period: the watermark alone
        mark = self.engine.store.get_watermark(name)
        at, key = (mark.at, mark.key) if mark else ("", "")
        resets = "period" in self.engine.jobs[name].resets_watermark

        def changes(values: Values) -> tuple[bool, bool]:
            """(period changed, watermark to set): a period change that resets the
            watermark wins over an edit of it."""
            period = current is not None and values["period"] != current
            return period, (values["at"], values["key"]) != (at, key) and not (period and resets)

        def check(values: Values) -> str:
            period, marked = changes(values)
            said = []
            if period:
                check_period(values["period"])
                self.engine.jobs[name].settings(
                    self.job_settings(name), {"period": values["period"]}
                )
                said.append(
                    f"period {current} → {values['period']}"
                    + (
                        "; the watermark resets, files of that period are scanned again"
                        if resets
                        else ""
                    )
                )
            if marked:
                if values["key"] and not values["at"].strip():
                    raise ValueError("a watermark key needs a position")
                said.append(
                    "the watermark resets"
                    if not values["at"].strip()
                    else f"watermark → {values['at']}"
                    + (f" {values['key']}" if values["key"] else "")
                )
            return "; ".join(said) or "no change"

        def done(values: Values | None) -> None:
            if values is None:
                return
            period, marked = changes(values)
            calls: list[Call] = []
            if period:
                calls.append(partial(self.commands.set, name, {"period": values["period"]}))
            if marked:
                new = Watermark(values["at"], values["key"]) if values["at"].strip() else None
                calls.append(partial(self.commands.watermark, name, new))
            if calls:
                self.act("period", calls)

        fields = [Field("period", "YYYY-MM", current)] if current is not None else []
        fields += [Field("at", "watermark (empty: reset)", at), Field("key", "watermark key", key)]
        title = "Period and watermark" if current is not None else "Watermark"
        self.push_screen(FormModal(f"{title} of {name}", fields, check), done)

    def action_step_period(self, months: int) -> None:
        self.act(
            "period",
            [partial(self.commands.step_period, name, months) for name in self.selected_jobs()],
        )

    def action_backfill(self) -> None:
        jobs = self.selected_jobs()
        if not jobs:
            return
        name = jobs[0]

        def span(values: Values) -> tuple[datetime, datetime]:
            zone = self.engine.jobs[name].schedule.tz
            return (
                parse_moment(values["start"], "start", zone),
                parse_moment(values["end"], "end", zone),
            )

        def check(values: Values) -> str:
            ticks = self.commands.backfill_preview(name, *span(values))
            new = [t for t in ticks if t.existing_run is None]
            lines = [f"{len(new)} run(s) to create, {len(ticks) - len(new)} tick(s) already ran:"]
            lines += [f"  {t.at:%Y-%m-%d %H:%M %Z}" for t in new[:5]]
            return "\n".join(lines + ([f"  … and {len(new) - 5} more"] if len(new) > 5 else []))

        def done(values: Values | None) -> None:
            if values is not None:
                self.act("backfill", [partial(self.commands.backfill, name, *span(values))])

        now = self.engine.clock.now().astimezone(self.engine.jobs[name].schedule.tz)
        self.push_screen(
            FormModal(
                f"Backfill {name}",
                [
                    Field(
                        "start",
                        "From: YYYY-MM-DD or YYYY-MM-DDTHH:MM, in the job's zone",
                        f"{now:%Y-%m-%d}T00:00",
                    ),
                    Field("end", "To (the same format)", f"{now:%Y-%m-%dT%H:%M}"),
                ],
                check,
            ),
            done,
        )

    def action_cancel_run(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.act("cancel", [partial(self.commands.cancel, r) for r in runs])

        self.push_screen(
            ConfirmModal(f"Cancel {len(runs)} run(s): {', '.join(f'#{r}' for r in runs)}?"), done
        )

    def action_retry_run(self) -> None:
        runs = self.selected_runs()
        self.act("retry", [partial(self.commands.retry, r) for r in runs])

    def action_copy_id(self) -> None:
        """Copy the selected row's id (OSC 52 reaches the local clipboard over SSH)."""
        key = self.focused.selected_key if isinstance(self.focused, LiveTable) else None
        if key:
            self.copy_to_clipboard(key)
            self.toast(f"copied {key}")
