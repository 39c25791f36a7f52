"""Tables that update cells in place (no clear-and-rebuild), with vim keys, marks and a filter."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from . import internals

Row = Sequence[Text | str]
MARK = Text("●", style="bold cyan")


class LiveTable(DataTable[Text | str]):
    """A DataTable fed whole snapshots; only changed cells are redrawn."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
        Binding("space", "mark", "Mark", show=False),
    ]

    def __init__(self, columns: Sequence[str], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.column_names = ["", *columns]
        self.rows_by_key: dict[str, Row] = {}
        self.marked: set[str] = set()
        self.filter_text = ""
        self.widths: list[int] = []

    def on_mount(self) -> None:
        for name in self.column_names:
            self.add_column(name, key=name or "mark")

    def on_idle(self) -> None:
        """DataTable measures new rows when idle, but keeps cells it drew before at the old
        column widths (its cell cache is not keyed by width): redraw once when widths change."""
        widths = [column.content_width for column in self.columns.values()]
        if widths != self.widths:
            self.widths = widths
            internals.redraw(self)

    def show(self, rows: dict[str, Row]) -> None:
        """Make the table show these rows (in this order for new ones), changing only what
        changed."""
        shown, self.rows_by_key = self.rows_by_key, rows
        wanted = {k: r for k, r in rows.items() if self._matches(r)}
        for key in [k.value for k in list(self.rows) if k.value not in wanted]:
            if key is not None:
                self.remove_row(key)
        for key, row in wanted.items():
            cells = [MARK if key in self.marked else "", *row]
            if key not in self.rows:
                self.add_row(*cells, key=key)
            elif shown.get(key) is not row:  # the very row shown last time: nothing to compare
                self._update(key, cells)
        self._keep_order(list(wanted))

    def _keep_order(self, order: list[str]) -> None:
        """Rows in the given order (newest first, worst first), moving only when it differs;
        the cursor stays on the row it was on."""
        if [row.key.value for row in self.ordered_rows] == order:
            return
        selected = self.selected_key
        # sort() sees cell values only: rank rows by the identity of their stored first cell
        first = self.column_names[1]
        rank = {id(self.get_cell(key, first)): n for n, key in enumerate(order)}
        self.sort(key=lambda values: rank[id(values[1])])
        if selected in order:
            self.move_cursor(row=self.get_row_index(selected))

    def _update(self, key: str, cells: Sequence[Text | str]) -> None:
        current = self.get_row(key)
        for name, old, new in zip(self.column_names, current, cells, strict=True):
            if str(old) != str(new) or getattr(old, "style", None) != getattr(new, "style", None):
                self.set_cell(key, name or "mark", new)

    def set_cell(self, key: str, column: str, value: Text | str) -> None:
        """`update_cell`, repainting only this cell (see internals.py for why)."""
        internals.set_cell(self, key, column, value)

    def measure(self) -> None:
        """Size the columns to the rows added since the table was last idle, now, not when
        idle as DataTable does: a table filled as it comes into view would otherwise show a
        frame at the header widths, names cut to a few letters."""
        internals.measure_now(self)

    def _matches(self, row: Row) -> bool:
        needle = self.filter_text.lower()
        return not needle or any(needle in str(cell).lower() for cell in row)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.show(self.rows_by_key)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def targets(self) -> list[str]:
        """Marked rows when there are any, else the row under the cursor."""
        if self.marked:
            return sorted(self.marked)
        return [self.selected_key] if self.selected_key else []

    def action_mark(self) -> None:
        key = self.selected_key
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        self.set_cell(key, "mark", MARK if key in self.marked else "")
        self.action_cursor_down()

    def clear_marks(self) -> None:
        for key in list(self.marked):
            self.marked.discard(key)
            if key in self.rows:
                self.set_cell(key, "mark", "")
