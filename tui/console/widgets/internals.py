"""The one place that touches DataTable's private members (textual 8.2.8), and why.

DataTable.update_cell repaints the whole table: each console refresh rewrote every visible row
to the terminal (23 KB/s idle over SSH in the console benchmark). Writing the cell into the
table's data and repainting only its region costs a few hundred bytes. DataTable also sizes
its columns only when idle, so a table filled as it comes into view would show one frame at
the header widths. Both need private members; if a Textual release renames them, `missing`
names them, LiveTable falls back to the public API (correct, only slower), and
tests/tui/test_internals.py fails saying what changed.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, ColumnKey, RowKey

USED = (
    "_data",  # row key -> column key -> cell value
    "_update_count",  # the render caches' key: bump it and cached lines are drawn again
    "_updated_cells",  # cells to measure for width when idle
    "_require_update_dimensions",  # set: measure when idle
    "_new_rows",  # rows added since the last measure
    "_update_dimensions",  # measure these rows now
)


def missing(table: DataTable[Any]) -> list[str]:
    """The private members this module needs that this Textual's DataTable lacks."""
    return [name for name in USED if not hasattr(table, name)]


def set_cell(table: DataTable[Any], row: str, column: str, value: Any) -> None:
    """Change one cell and repaint only that cell (widening its column when idle if needed)."""
    t: Any = table
    if missing(table):
        table.update_cell(row, column, value, update_width=True)
        return
    t._data[RowKey(row)][ColumnKey(column)] = value
    t._update_count += 1
    if cell_len(str(value)) > table.columns[ColumnKey(column)].content_width:
        t._updated_cells.add(CellKey(RowKey(row), ColumnKey(column)))
        t._require_update_dimensions = True
    table.refresh_coordinate(Coordinate(table.get_row_index(row), table.get_column_index(column)))


def measure_now(table: DataTable[Any]) -> None:
    """Size the columns to the rows added since the table was last idle, now."""
    t: Any = table
    if missing(table) or not t._new_rows:
        return
    t._require_update_dimensions = False
    new_rows, t._new_rows = t._new_rows, set()
    t._update_dimensions(new_rows)


def redraw(table: DataTable[Any]) -> None:
    """Draw every cached line again (the cell cache is not keyed by column width)."""
    t: Any = table
    if not missing(table):
        t._update_count += 1
    table.refresh()
