"""The DataTable private members LiveTable relies on (tui/widgets/internals.py): present in the
pinned Textual, and doing what the one-cell repaint needs. A Textual upgrade that changes them
fails here, by name, instead of as a console that stops updating."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from cronsole.tui.console.widgets import internals
from cronsole.tui.console.widgets.tables import LiveTable


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield LiveTable(["name", "count"], id="t")


def test_the_pinned_textual_has_every_private_member_used() -> None:
    lacking = internals.missing(DataTable())
    assert lacking == [], (
        f"this Textual's DataTable lacks {lacking}: update tui/widgets/internals.py "
        "(LiveTable falls back to the public API meanwhile)"
    )


def line(table: LiveTable, row: int) -> str:
    return table.render_line(row + 1).text  # row 0 is the header


async def test_set_cell_repaints_the_cell_with_its_new_value() -> None:
    app = OneTable()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one("#t", LiveTable)
        table.show({"a": [Text("alpha"), Text("1")], "b": [Text("beta"), Text("2")]})
        await pilot.pause()
        assert "alpha" in line(table, 0) and "1" in line(table, 0)
        table.show({"a": [Text("alpha"), Text("41")], "b": [Text("beta"), Text("2")]})
        await pilot.pause()
        assert "41" in line(table, 0) and "beta" in line(table, 1)


async def test_the_public_fallback_still_changes_the_cell(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(internals, "USED", ("_renamed_in_a_future_textual",))
    app = OneTable()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one("#t", LiveTable)
        table.show({"a": [Text("alpha"), Text("1")]})
        table.show({"a": [Text("alpha"), Text("99")]})
        await pilot.pause()
        assert "99" in line(table, 0)
