"""Tables that update cells in place (no clear-and-rebuild), with vim keys, marks, a filter, a
sort column, columns fitted to the rows they show, and a cursor that can follow the newest row."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from . import internals

Row = Sequence[Text | str]
MARK = Text("●", style="bold cyan")
ARROWS = {False: " ▲", True: " ▼"}
FOLDS = 3  # columns that give way this readily are folded away when cutting is not enough


@dataclass(frozen=True)
class Fit:
    """How a column gives way when the table is wider than its pane."""

    give: int = 0  # the highest gives way first; 0: never narrower than its widest cell
    least: int = 0  # the narrowest it becomes (0: as wide as its header)


def natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that compares the numbers in a cell as numbers: #9 before #84."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", text)
        if part
    )


def cut(cell: Text | str) -> Text:
    """A cell that a narrowed column cuts with "…" (never folds onto a hidden line)."""
    text = Text(cell) if isinstance(cell, str) else cell
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


class LiveTable(DataTable[Text | str]):
    """A DataTable fed whole snapshots; only changed cells are redrawn."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
        Binding("space", "mark", "Mark", show=False),
        Binding("s", "sort", "Sort", show=False),
        Binding("S", "sort_reverse", "Reverse", show=False),
    ]

    class Captioned(Message):
        """What the pane's title says about this table changed (rows new above the cursor)."""

        def __init__(self, table: LiveTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> LiveTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[str],
        fits: Sequence[Fit] = (),
        follow: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.column_names = ["", *columns]
        self.fits = [Fit(least=1), *fits, *[Fit()] * (len(columns) - len(fits))]
        self.follow = follow  # newest first: the cursor on the top row stays on the top row
        self.rows_by_key: Mapping[str, Row] = {}
        self.sort_keys: Mapping[str, Sequence[object]] = {}
        self.marked: set[str] = set()
        self.filter_text = ""
        self.sort_by: int | None = None  # a column index (into `columns`), None: as given
        self.descending = False
        self.new_above = 0  # rows that arrived above the cursor since it left the top
        self.widths: list[int] = []

    def on_mount(self) -> None:
        for name in self.column_names:
            self.add_column(name, key=name or "mark")

    def on_idle(self) -> None:
        """DataTable keeps cells it drew before at the old column widths (its cell cache is
        not keyed by width): redraw once when widths change."""
        widths = [column.get_render_width(self) for column in self.columns.values()]
        if widths != self.widths:
            self.widths = widths
            internals.redraw(self)

    def on_resize(self) -> None:
        self.fit()

    def show(
        self, rows: Mapping[str, Row], keys: Mapping[str, Sequence[object]] | None = None
    ) -> None:
        """Make the table show these rows (in this order for new ones, unless sorted by a
        column), changing only what changed. `keys` are the rows' sort keys, one per column,
        where a cell's text would sort wrongly (ages, countdowns)."""
        shown, self.rows_by_key = self.rows_by_key, rows
        self.sort_keys = keys or {}
        top = self.cursor_row == 0 or not self.row_count
        wanted = {k: r for k, r in rows.items() if self._matches(r)}
        gone = [k.value for k in list(self.rows) if k.value not in wanted]
        for key in gone:
            if key is not None:
                self.remove_row(key)
        added, changed = [], bool(gone)
        for key, row in wanted.items():
            cells = [MARK if key in self.marked else "", *map(cut, row)]
            if key not in self.rows:
                self.add_row(*cells, key=key)
                added.append(key)
            elif shown.get(key) is not row:  # the very row shown last time: nothing to compare
                changed = self._update(key, cells) or changed
        order = self._ordered(wanted)
        self._keep_order(order)
        if self.follow:
            self._follow(top, added, order)
        if changed or added:
            self.fit()  # it measures every cell: only when one changed

    def _ordered(self, rows: Mapping[str, Row]) -> list[str]:
        if self.sort_by is None:
            return list(rows)
        column = self.sort_by

        def key(row: str) -> Any:
            given = self.sort_keys.get(row)
            if given is not None and given[column] is not None:
                return given[column]
            return natural(str(rows[row][column]))

        return sorted(rows, key=key, reverse=self.descending)

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

    def _follow(self, top: bool, added: list[str], order: list[str]) -> None:
        """On the top row, stay on the top row (as `tail -f` does); elsewhere keep the row and
        count what arrived above it."""
        if top:
            self.move_cursor(row=0)
            return
        cursor = self.cursor_row
        above = sum(1 for key in added if order.index(key) < cursor)
        if above:
            self.new_above += above
            self.post_message(self.Captioned(self))

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        if new.row == 0 and self.new_above:
            self.new_above = 0
            self.post_message(self.Captioned(self))

    def caption(self) -> str:
        return f"↑{self.new_above} new" if self.new_above else ""

    def _update(self, key: str, cells: Sequence[Text | str]) -> bool:
        """Set the cells that differ; whether any did."""
        current = self.get_row(key)
        changed = False
        for name, old, new in zip(self.column_names, current, cells, strict=True):
            if str(old) != str(new) or getattr(old, "style", None) != getattr(new, "style", None):
                self.set_cell(key, name or "mark", new)
                changed = True
        return changed

    def set_cell(self, key: str, column: str, value: Text | str) -> None:
        """`update_cell`, repainting only this cell (see internals.py for why)."""
        internals.set_cell(self, key, column, value)

    def fit(self) -> None:
        """Each column as wide as its widest shown cell (so it narrows again when that row
        goes). When that is wider than the pane, the low-priority columns (`give` of FOLDS
        and more) give way first: cut (each cell ends in "…") to their least width, then
        folded away; only then are the others cut, first to give way first."""
        columns = list(self.columns.values())
        if len(columns) != len(self.column_names):
            return  # not mounted yet
        widths = [cell_len(str(c.label)) for c in columns]
        widths[0] = 1  # the mark column, marks or not
        for key in self.rows:
            for n, cell in enumerate(self.get_row(key)):
                widths[n] = max(widths[n], cell_len(str(cell)))
        room = self.scrollable_content_region.width
        excess = sum(widths) + 2 * self.cell_padding * len(widths) - room if room else 0

        def shrink(n: int, least: int) -> None:
            nonlocal excess
            cut = max(0, min(excess, widths[n] - least))
            widths[n] -= cut
            excess -= cut

        order = sorted(range(len(widths)), key=lambda n: -self.fits[n].give)
        low = [n for n in order if self.fits[n].give >= FOLDS]
        for n in low:
            shrink(n, self.fits[n].least or cell_len(str(columns[n].label)))
        for n in low:
            shrink(n, 0)  # folded away; its padding stays, two blank cells
        for n in order:
            if 0 < self.fits[n].give < FOLDS:
                shrink(n, self.fits[n].least or cell_len(str(columns[n].label)))
        internals.set_widths(self, widths)

    def _matches(self, row: Row) -> bool:
        needle = self.filter_text.lower()
        return not needle or any(needle in str(cell).lower() for cell in row)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.show(self.rows_by_key, self.sort_keys)

    # sorting: `s` moves the sort to the next column (after the last: the pane's own order)

    def action_sort(self) -> None:
        count = len(self.column_names) - 1
        self.sort_by = 0 if self.sort_by is None else self.sort_by + 1
        if self.sort_by >= count:
            self.sort_by = None
        self.descending = False
        self._resort()

    def action_sort_reverse(self) -> None:
        if self.sort_by is None:
            self.sort_by = 0
        else:
            self.descending = not self.descending
        self._resort()

    def _resort(self) -> None:
        for n, (name, column) in enumerate(
            zip(self.column_names, self.columns.values(), strict=True)
        ):
            arrow = ARROWS[self.descending] if n - 1 == self.sort_by else ""
            column.label = Text(name + arrow)
        self.show(self.rows_by_key, self.sort_keys)
        self.fit()  # the header's arrow takes room
        internals.redraw(self)
        name = "their own order" if self.sort_by is None else self.column_names[self.sort_by + 1]
        self.notify(f"sorted by {name}" + (" (descending)" if self.descending else ""))

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
