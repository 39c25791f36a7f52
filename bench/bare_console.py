"""The peer of figures 1-3: a bare Textual app with the console's widgets and nothing behind
them. `python -m bench.bare_console` updates one label every second (idle);
`--live RATE` also appends RATE log lines a second to a `Log`, each as it arrives, the way a
naive tail would; key 4 shows the Log tab, as in the console."""

from __future__ import annotations

import argparse
import threading
import time
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Footer, Log, Static, TabbedContent, TabPane

from cronsole.tui.console.rows import AUDIT_COLUMNS, JOB_COLUMNS, RUN_COLUMNS, TENANT_COLUMNS, names

ROWS = 100


class BareConsole(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [("4", "show_logs", "Logs")]
    CSS = """
    #status { height: 1; background: $panel; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    DataTable, Log { height: 1fr; }
    #progress { height: auto; max-height: 8; border-top: solid $primary-darken-2; }
    """

    def __init__(self, live: float) -> None:
        super().__init__()
        self.live = live

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with TabbedContent(initial="jobs"):
            for title in ("1 Jobs", "2 Tenants", "3 Runs"):
                name = title.split()[1].lower()
                with TabPane(title, id=name):
                    yield DataTable(id=f"{name}-table", cursor_type="row", zebra_stripes=True)
            with TabPane("4 Logs", id="logs"):
                yield Log(max_lines=5000)
            with TabPane("5 Audit", id="audit"):
                yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="progress")
        yield Footer()

    def on_mount(self) -> None:
        for name, columns in (
            ("jobs", names(JOB_COLUMNS)),
            ("tenants", names(TENANT_COLUMNS)),
            ("runs", names(RUN_COLUMNS)),
            ("audit", names(AUDIT_COLUMNS)),
        ):
            table = self.query_one(f"#{name}-table", DataTable)
            table.add_columns(*columns)
            for n in range(ROWS if name != "audit" else 0):
                table.add_row(f"{name[:-1]}-{n:03d}", *["-"] * (len(columns) - 1))
        self.tick()
        self.set_interval(1.0, self.tick)
        if self.live:
            threading.Thread(target=self.feed, daemon=True).start()

    def action_show_logs(self) -> None:
        self.query_one(TabbedContent).active = "logs"

    def tick(self) -> None:
        self.query_one("#status", Static).update(
            f" bare  RUNNING  {time.strftime('%H:%M:%S')}", layout=False
        )  # the cheapest update

    def feed(self) -> None:
        log = self.query_one(Log)
        n = 0
        start = time.monotonic()
        while True:
            n += 1
            line = (
                f"{time.strftime('%H:%M:%S')} INFO    live-{n % 5}#{n % 5 + 1}: processed item"
                f" {n} of tenant-{n % 100:03d} in {n % 37} ms"
            )
            self.call_from_thread(log.write_line, line)
            time.sleep(max(0.0, start + n / self.live - time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--live", type=float, default=0.0, help="log lines per second")
    BareConsole(parser.parse_args().live).run()


if __name__ == "__main__":
    main()
