"""The console every command prints tables with, and the rules every table follows.

One style everywhere: plain columns as kubectl prints them (UPPERCASE headers, columns
separated by spaces, no box-drawing characters); in a terminal the headers are bold and
the table is fitted to the terminal's width, piped (a file, `| grep`, `| awk`) each row
is on one line however long (nothing wrapped or cut, whatever COLUMNS says). An empty
value is printed as EMPTY; a column empty in every row is left out. -o wide adds a
table's detail columns (ids, cookies, addresses, node, image: see wide_only) and never
cuts a column."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kmeshctl.params import TABLE_EMPTY as _EMPTY, TABLE_FOLD_FLOOR as _FOLD_FLOOR, TABLE_SHORT_COLUMN as _SHORT_COLUMN

WIDE_WIDTH = 10_000  # -o wide: never cut or wrap a column
EMPTY = _EMPTY  # an empty cell of every table (kubectl's marker); JSON / YAML keep null or []


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
        for item in objects:
            if isinstance(item, Table):
                drop_empty_columns(item)
        if self.is_terminal:
            for item in objects:
                if isinstance(item, Table):
                    terminal_style(item)
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


def terminal_style(table: Table) -> None:
    """The one look of every table in a terminal, whichever command prints it: the plain
    columns of a piped table (kubectl's), only the headers bold (not under NO_COLOR or
    TERM=dumb: no styling at all there)."""
    plain_columns(table)
    if not styled_terminal():
        table.header_style = ""
        for column in table.columns:
            column.header_style = ""


def styled_terminal() -> bool:
    """Styles (bold headers) are wanted: NO_COLOR (https://no-color.org: set and not empty)
    and TERM=dumb turn them off."""
    import os

    return not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def drop_empty_columns(table: Table) -> None:
    """Leave out each column that is empty in every row (preflight's FIX when every check
    passed): a header over nothing only puzzles. A table without rows keeps its columns."""
    if not table.row_count:
        return
    _keep_columns(table, [c for c in table.columns if any(_plain(cell).strip() for cell in c._cells)])


def wide_only(table: Table, headers: tuple[str, ...], wide: bool) -> Table:
    """``table`` without its detail columns ``headers`` (ids, cookies, addresses, node,
    image) unless ``wide``: -o wide adds them, as kubectl's does, whatever the terminal."""
    if not wide:
        _keep_columns(table, [c for c in table.columns if str(c.header).upper() not in {h.upper() for h in headers}])
    return table


def _keep_columns(table: Table, kept: list[Any]) -> None:
    """``table`` with only the ``kept`` columns (rich lays a column out by its index)."""
    table.columns[:] = kept
    for index, column in enumerate(kept):
        column._index = index


def overhead(table: Table) -> int:
    """The characters ``table`` draws besides its cells (rules, padding), in its style."""
    return table._extra_width + sum(table._get_padding_width(i) for i in range(len(table.columns)))


def fit_columns(table: Table, width: int, keys: tuple[str, ...], min_other: int) -> tuple[Table, list[str]]:
    """``table`` for a terminal ``width`` columns wide, and the headers of the columns
    left out. The ``keys`` columns (ids, names: what tells the rows apart) are kept; the
    others wrap (at least ``min_other`` wide) and, while the table is still too wide, are
    left out from the right. When the keys alone are too wide, the longest of them (a
    name) fold and the short ones (ids) stay whole: never wider than ``width``."""
    terminal_style(table)
    for column in table.columns:
        column.no_wrap = str(column.header) in keys
        if not column.no_wrap:
            column.overflow = "fold"  # a long word wraps too: no cell loses its end to "…"
    kept = list(table.columns)
    dropped: list[str] = []
    while _needed(table, kept, keys, min_other) > width:
        others = [c for c in kept if str(c.header) not in keys]
        if not others:
            break
        kept.remove(others[-1])
        dropped.insert(0, str(others[-1].header))
    narrow = table
    if dropped:
        narrow = Table(show_header=table.show_header)
        terminal_style(narrow)
        for column in kept:
            narrow.add_column(column.header, no_wrap=column.no_wrap, overflow=column.overflow)
        for row in zip(*(c._cells for c in kept)):
            narrow.add_row(*row)
    _fold_longest_keys(narrow, width, min_other)
    return narrow, dropped


def _needed(table: Table, columns: list[Any], keys: tuple[str, ...], min_other: int) -> int:
    widths = [_natural(c) if str(c.header) in keys else _wrapped(c, min_other) for c in columns]
    per_column = overhead(table) / max(1, len(table.columns))
    return sum(widths) + round(per_column * len(columns))


def _wrapped(column: Any, min_other: int) -> int:
    """The width a wrapping column needs: ``min_other``, or more for a cell that wraps only
    at its own boundaries (kmeshctl.dump.BoundaryText: a name never split mid-word)."""
    least = max((c.least_width() for c in column._cells if hasattr(c, "least_width")), default=0)
    return min(_natural(column), max(min_other, least))


def _natural(column: Any) -> int:
    return max(len(line) for text in (_plain(column.header), *(_plain(c) for c in column._cells))
               for line in text.split("\n"))


def _fold_longest_keys(table: Table, width: int, min_other: int) -> None:
    """Whole key columns wider than ``width`` together: the longest names fold, one by
    one, until the rest fit whole; ids (digits only) never fold."""
    def named(column: Any) -> bool:
        return any(not _plain(c).replace(".", "").isdigit() for c in column._cells)

    for column in sorted(table.columns, key=_natural, reverse=True):
        whole = sum(_natural(c) for c in table.columns if c.no_wrap)
        wrapping = sum(_wrapped(c, min_other) for c in table.columns if not c.no_wrap)
        if whole + wrapping + overhead(table) <= width:
            return
        if column.no_wrap and _natural(column) > _SHORT_COLUMN and named(column):
            column.no_wrap, column.overflow = False, "fold"


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


def print_or_note(console: Console, note: str, table: Table, show: Any) -> None:
    """``show()`` the table, or when it has no rows the kubectl-style ``note`` (`No pods
    in sandbox S.`) on stderr instead of a table of headers only."""
    if table.row_count:
        show()
        return
    import sys

    console.file.flush()
    print(note, file=sys.stderr, flush=True)


def count_of(number: int, noun: str) -> str:
    """`1 request`, `2 requests`, `0 requests`: a count with its noun (a regular plural)."""
    from kmeshctl.params import counted

    return counted(number, noun)


def _plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return ""


def words_kept_whole(table: Table, console: Console) -> None:
    """A table wider than the terminal: rich narrows the columns that wrap as if words
    did not matter, so a free-text column (precheck's DETAIL) splits `reachable` or a
    path mid-word, and a short cell (`kernel version`) wraps inside its row. Instead the
    long columns narrow first, widest first, down to their longest word; then further,
    folding their longest words (never below min_width: FIX keeps a flag whole); only
    then do the short columns (names of checks, states) wrap, between words; anything
    still too wide is rich's own fitting."""
    columns = table.columns
    texts = [[_plain(column.header), *(_plain(c) for c in column._cells)] for column in columns]
    natural = [max((len(line) for t in cells for line in t.split("\n")), default=0) for cells in texts]
    longest = [max((len(word) for t in cells for word in t.split()), default=0) for cells in texts]
    available = console.width - overhead(table)
    if sum(natural) <= available or available <= 0:
        return
    wraps = [c.width is None and not c.no_wrap for c in columns]
    widths = list(natural)
    short = [n <= _SHORT_COLUMN for n in natural]
    floors = [  # per stage: how far each wrapping column may narrow (None: not in this stage)
        [max(l, c.min_width or 0) if w and not s else None for l, c, w, s in zip(longest, columns, wraps, short)],
        [max(_FOLD_FLOOR, c.min_width or 0) if w and not s else None for c, w, s in zip(columns, wraps, short)],
        [max(l, c.min_width or 0) if w and s else None for l, c, w, s in zip(longest, columns, wraps, short)],
    ]
    for floor in floors:
        _narrow(widths, floor, available)
    if sum(widths) > available:
        return  # nothing more narrows without breaking short words: rich's own fitting
    for column, width, wrap in zip(columns, widths, wraps):
        if wrap:
            column.width = width


def _narrow(widths: list[int], floor: list[int | None], available: int) -> None:
    """Narrow the widest column above its ``floor`` one character at a time until the
    widths fit ``available``."""
    while sum(widths) > available:
        candidates = [i for i, f in enumerate(floor) if f is not None and widths[i] > f]
        if not candidates:
            return
        widths[max(candidates, key=lambda i: widths[i])] -= 1
