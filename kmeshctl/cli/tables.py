"""The console every command prints tables with. In a terminal: rich's tables, fitted
to the terminal's width. Piped (a file, `| grep`, `| awk`): plain columns as kubectl
prints them (no box-drawing characters, no edge), each row on one line however long
(nothing wrapped or cut, whatever COLUMNS says), without trailing padding."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

WIDE_WIDTH = 10_000  # -o wide: never cut or wrap a column


def locale_is_utf8() -> bool:
    """The locale the terminal was set up with (LC_ALL, else LC_CTYPE, else LANG, as
    setlocale reads them) encodes UTF-8. Python runs in UTF-8 mode under LANG=C, so
    its streams say utf-8 while the terminal draws only ASCII; nothing set: UTF-8."""
    import os

    lang = os.environ.get("LANG", "")
    if not os.environ.get("LC_ALL") and os.environ.get("LC_CTYPE") in _COERCED and lang in ("C", "POSIX"):
        return False  # Python itself set LC_CTYPE (PEP 538) because the locale was C
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(name)
        if value:
            return "utf-8" in value.lower() or "utf8" in value.lower()
    return True


_COERCED = ("C.UTF-8", "C.utf8", "UTF-8")  # what Python sets LC_CTYPE to under the C locale


def drawing_encoding(stream: Any) -> str:
    """The encoding rich draws for on ``stream``: `ascii` when the locale is not UTF-8
    (every table then has ASCII borders), else the stream's own."""
    return (getattr(stream, "encoding", None) or "utf-8") if locale_is_utf8() else "ascii"


class PipeFriendlyConsole(Console):
    """A rich Console whose output, when it is not a terminal, is plain text columns."""

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if self.is_terminal:
            for item in objects:
                if isinstance(item, Table):
                    words_kept_whole(item, self)
            if not kwargs.get("soft_wrap") and all(isinstance(o, (str, Text)) for o in objects) and objects:
                objects, kwargs = (wrapped_at_spaces(self, objects, kwargs),), {**kwargs, "soft_wrap": True}
            with self.capture() as captured:
                super().print(*objects, **kwargs)
            self.file.write(_TRAILING_BLANKS.sub(r"\1", captured.get()))  # a table's title pads to its width
            self.file.flush()
            return
        for item in objects:
            if isinstance(item, Table):
                plain_columns(item)
        with self.capture() as captured:
            super().print(*objects, **kwargs)
        text = captured.get()
        self.file.write("\n".join(line.rstrip() for line in text.split("\n")))
        self.file.flush()


# Spaces before a line's end, style codes after them kept: no line ends in blanks.
_TRAILING_BLANKS = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


def wrapped_at_spaces(console: Console, objects: tuple[Any, ...], kwargs: dict[str, Any]) -> Text:
    """Text lines wrapped to the terminal at spaces only: a word longer than a line (a
    path, a name) stays whole on its own line (the terminal folds it, the output never
    splits it), and no line ends in the space it was broken at (rich's wrap keeps it)."""
    from rich._wrap import divide_line

    text = Text(kwargs.get("sep", " ")).join(
        o if isinstance(o, Text) else console.render_str(o, markup=kwargs.get("markup"),
                                                          highlight=kwargs.get("highlight"))
        for o in objects)
    pieces = []
    for line in text.split("\n", allow_blank=True):
        for piece in line.divide(divide_line(str(line), console.width, fold=False)):
            piece.rstrip()
            pieces.append(piece)
    return Text("\n").join(pieces)


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


def _plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return ""


def words_kept_whole(table: Table, console: Console) -> None:
    """A table wider than the terminal: rich narrows the columns that wrap as if words
    did not matter, so a free-text column (precheck's DETAIL) splits `reachable` or a
    path mid-word. Instead give each wrapping column at least its longest word and share
    what is left by how much more each needs; only a word longer than any column could
    be (the longest words are narrowed first) is still broken. The spare width goes to
    the columns that need least first (a short CHECK name stays on one line)."""
    columns = table.columns
    texts = [[_plain(column.header), *(_plain(c) for c in column._cells)] for column in columns]
    natural = [max((len(line) for t in cells for line in t.split("\n")), default=0) for cells in texts]
    longest = [max((len(word) for t in cells for word in t.split()), default=0) for cells in texts]
    overhead = table._extra_width + sum(table._get_padding_width(i) for i in range(len(columns)))
    available = console.width - overhead
    if sum(natural) <= available or available <= 0:
        return
    wraps = [c.width is None and not c.no_wrap for c in columns]
    widths = [n if not w else min(n, max(l, c.min_width or 0))
              for n, l, w, c in zip(natural, longest, wraps, columns)]
    while sum(widths) > available:
        candidates = [i for i, w in enumerate(wraps) if w and widths[i] > 1]
        if not candidates:
            return  # nothing can narrow: rich's own fitting
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
    spare = available - sum(widths)
    wants = {i: natural[i] - widths[i] for i in range(len(columns)) if wraps[i] and natural[i] > widths[i]}
    for count, i in enumerate(sorted(wants, key=wants.__getitem__)):  # a short column whole first
        share = min(wants[i], spare // (len(wants) - count))
        widths[i] += share
        spare -= share
    for column, width, wrap in zip(columns, widths, wraps):
        if wrap:
            column.width = width
