"""The console every command prints tables with. In a terminal: rich's tables, fitted
to the terminal's width. Piped (a file, `| grep`, `| awk`): plain columns as kubectl
prints them (no box-drawing characters, no edge), each row on one line however long
(nothing wrapped or cut, whatever COLUMNS says), without trailing padding."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

WIDE_WIDTH = 10_000  # -o wide: never cut or wrap a column


class PipeFriendlyConsole(Console):
    """A rich Console whose output, when it is not a terminal, is plain text columns."""

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if self.is_terminal:
            super().print(*objects, **kwargs)
            return
        for item in objects:
            if isinstance(item, Table):
                plain_columns(item)
        with self.capture() as captured:
            super().print(*objects, **kwargs)
        text = captured.get()
        self.file.write("\n".join(line.rstrip() for line in text.split("\n")))
        self.file.flush()


def plain_columns(table: Table) -> None:
    """kubectl's layout: a header row and columns separated by spaces."""
    table.box = None
    table.show_edge = False
    table.pad_edge = False
    table.show_lines = False
    table.padding = (0, 3, 0, 0)
    table.collapse_padding = False
    table.expand = False
    table.title_justify = "left"


def cli_console(wide: bool = False, **kwargs: Any) -> Console:
    """The console of a command's stdout (``wide``: -o wide, nothing cut; piped: never
    wrapped either, as kubectl's output)."""
    if wide:
        kwargs.setdefault("width", WIDE_WIDTH)
    console = PipeFriendlyConsole(**kwargs)
    if not console.is_terminal and "width" not in kwargs:
        console.width = WIDE_WIDTH
    return console


def count_of(number: int, noun: str) -> str:
    """`1 request`, `2 requests`, `0 requests`: a count with its noun (a regular plural)."""
    return f"{number} {noun}" + ("" if number == 1 else "s")
