"""The one place that touches DataTable's private members (textual 8.2.8), and why.

DataTable.update_cell repaints the whole table: each console refresh rewrote every visible row
to the terminal (23 KB/s idle over SSH in the console benchmark). Writing the cell into the
table's data and repainting only its region costs a few hundred bytes. DataTable also sizes
its columns only when idle and only ever widens them, so LiveTable sets the widths itself
(public Column fields). The repaints need private members; if a Textual release renames them,
`missing` names them, LiveTable falls back to the public API (correct, only slower), and
tests/tui/test_internals.py fails saying what changed.
"""

from __future__ import annotations

from typing import Any

from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

USED = (
    "_data",  # row key -> column key -> cell value
    "_update_count",  # the render caches' key: bump it and cached lines are drawn again
)


def missing(table: DataTable[Any]) -> list[str]:
    """The private members this module needs that this Textual's DataTable lacks."""
    return [name for name in USED if not hasattr(table, name)]


def set_cell(table: DataTable[Any], row: str, column: str, value: Any) -> None:
    """Change one cell and repaint only that cell (LiveTable.fit sizes the columns)."""
    t: Any = table
    if missing(table):
        table.update_cell(row, column, value, update_width=True)
        return
    t._data[RowKey(row)][ColumnKey(column)] = value
    t._update_count += 1
    table.refresh_coordinate(Coordinate(table.get_row_index(row), table.get_column_index(column)))


def set_widths(table: DataTable[Any], widths: list[int]) -> None:
    """Give the columns these content widths, narrower as well as wider (DataTable itself only
    widens a column), and the table the matching scrollable width."""
    changed = False
    for column, width in zip(table.columns.values(), widths, strict=True):
        if column.auto_width or column.width != width:
            column.auto_width, column.width, changed = False, width, True
    if changed:
        total = sum(column.get_render_width(table) for column in table.columns.values())
        table.virtual_size = Size(total, table.virtual_size.height)
        redraw(table)


def redraw(table: DataTable[Any]) -> None:
    """Draw every cached line again (the cell cache is not keyed by column width)."""
    t: Any = table
    if not missing(table):
        t._update_count += 1
    table.refresh()
