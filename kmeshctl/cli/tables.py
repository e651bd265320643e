"""The console every command prints tables with, and the rules every table follows.

One style everywhere: plain columns as kubectl prints them (UPPERCASE headers, columns
separated by spaces, no box-drawing characters); in a terminal the headers are bold and
the table is fitted to the terminal's width (a table's id and name columns are never cut:
narrower than they are, its lines are wider than the terminal), piped (a file, `| grep`, `| awk`) each row
is on one line however long (nothing wrapped or cut, whatever COLUMNS says); a path or a
name is never split mid-word (WholeWordsText), an address (IPv4, IPv6, with its :port) never
at all, and no line ends in blanks. An empty value is printed as EMPTY; a
column empty (blank or EMPTY) in every row is left out. -o wide adds a
table's detail columns (ids, cookies, addresses, node, image: see wide_only) and never
cuts a column."""

from __future__ import annotations

import contextlib
import copy
import os
import re
import textwrap
from dataclasses import fields
from typing import Any, Callable, Iterator

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.containers import Lines
from rich.measure import Measurement
from rich.table import Column, Table
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


def sized_environ() -> dict[str, str]:
    """The environment a Console sizes itself from, less a COLUMNS or LINES that sizes
    nothing (`COLUMNS=0`: rich would print tables, titles and notes 0 wide, that is not
    at all; not a number): as if unset, the terminal's own size is used."""
    return {key: value for key, value in os.environ.items()
            if key not in ("COLUMNS", "LINES") or (value.strip().isdigit() and int(value) > 0)}


class PipeFriendlyConsole(Console):
    """A rich Console whose output, when it is not a terminal, is plain text columns.
    ``every_column`` (-o wide): a column empty in every row is shown too."""

    every_column = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("_environ", sized_environ())
        super().__init__(*args, **kwargs)

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for item in objects:
            if isinstance(item, Table) and not self.every_column:
                drop_empty_columns(item)
        if self.is_terminal:
            needed = self.width
            for item in objects:
                if isinstance(item, Table):
                    terminal_style(item)
                    needed = max(needed, words_kept_whole(item, self))
            if not kwargs.get("soft_wrap") and all(isinstance(o, (str, Text)) for o in objects) and objects:
                objects, kwargs = (wrapped_at_spaces(self, objects, kwargs),), {**kwargs, "soft_wrap": True}
            with self.capture() as captured, _at_least(self, needed):
                super().print(*objects, **kwargs)
            self.file.write(without_trailing_blanks(captured.get()))  # a table's title pads to its width
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


@contextlib.contextmanager
def _at_least(console: Console, width: int) -> Iterator[None]:
    """While inside, ``console`` is at least ``width`` wide: a table whose words do not fit
    whole is printed wider (the terminal folds the line) rather than split mid-word."""
    previous = console.width
    if width <= previous:
        yield
        return
    console.width = width
    try:
        yield
    finally:
        console.width = previous


# Spaces before a line's end, among style codes or not (a bold header pads each column in
# its own bold span): the spaces go, the codes stay; no line ends in blanks.
_STYLE_CODE = re.compile(r"\x1b\[[0-9;]*m")
_TRAILING_BLANKS = re.compile(r"(?:[ \t]|\x1b\[[0-9;]*m)*[ \t](?:[ \t]|\x1b\[[0-9;]*m)*$", re.MULTILINE)


def without_trailing_blanks(text: str) -> str:
    """``text`` with no line ending in spaces: a line's trailing spaces and the style codes
    among them become those codes alone (every span still closed)."""
    return _TRAILING_BLANKS.sub(lambda found: "".join(_STYLE_CODE.findall(found.group())), text)


def wrapped_at_spaces(console: Console, objects: tuple[Any, ...], kwargs: dict[str, Any]) -> Text:
    """Text lines wrapped to the terminal at spaces only: a word longer than a line (a
    path, a name) stays whole on its own line (the terminal folds it, the output never
    splits it), and no line ends in the space it was broken at (rich's wrap keeps it)."""
    text = Text(kwargs.get("sep", " ")).join(
        o if isinstance(o, Text) else console.render_str(o, markup=kwargs.get("markup"),
                                                          highlight=kwargs.get("highlight"))
        for o in objects)
    pieces = []
    for line in text.split("\n", allow_blank=True):
        for piece in line.divide(_space_breaks(line.plain, console.width)):
            piece.rstrip()
            pieces.append(piece)
    return Text("\n").join(pieces)


# A backticked span (a suggested command, pasted as it is) with the characters touching it
# is one word: it is never split, and longer than a line it stays whole on its own line.
_BACKTICKED = r"(?:[^\s`]*`[^`\n]*`)+[^\s`]*"
_WORD = re.compile(rf"\s*(?:{_BACKTICKED}|\S+)\s*")
_CHUNK = re.compile(rf"\s+|{_BACKTICKED}|\S+")


def wrap_chunks(text: str) -> list[str]:
    """``text`` as words and the spaces between them, each backticked span one word
    (textwrap's chunks: see WholeWordsWrapper)."""
    return _CHUNK.findall(text)


class WholeWordsWrapper(textwrap.TextWrapper):
    """textwrap that breaks lines at spaces only: never inside a backticked command (a
    suggested fix stays pasteable), at a '-' or in a word longer than the line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("break_on_hyphens", False)
        kwargs.setdefault("break_long_words", False)
        super().__init__(*args, **kwargs)

    def _split(self, text: str) -> list[str]:
        return wrap_chunks(text)

    def _handle_long_word(self, reversed_chunks: list[str], cur_line: list[str], cur_len: int,
                          width: int) -> None:
        # textwrap's own (click's help wrapper cuts every long word, whatever break_long_words says)
        textwrap.TextWrapper._handle_long_word(self, reversed_chunks, cur_line, cur_len, width)


def _space_breaks(line: str, width: int) -> list[int]:
    """Where ``line`` breaks to fit ``width`` cells: before each word that would pass the
    end; a word longer than a whole line (a backticked command is one word) stays whole
    on its own."""
    breaks, start = [], 0
    for word in _WORD.finditer(line):
        if word.start() > start and cell_len(line[start:word.end()].rstrip()) > width:
            breaks.append(word.start())
            start = word.start()
    return breaks


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
    """Leave out each column that is empty in every row, blank or EMPTY (preflight's FIX when
    every check passed, a map's WAYPOINT when no service has one): a header over nothing
    only puzzles. A table without rows keeps its columns."""
    if not table.row_count:
        return
    kept = [c for c in table.columns if any(_plain(cell).strip() not in ("", EMPTY) for cell in c.cells)]
    if len(kept) < len(table.columns):
        _keep_columns(table, kept)


def wide_only(table: Table, headers: tuple[str, ...], wide: bool) -> Table:
    """``table`` without its detail columns ``headers`` (ids, cookies, addresses, node,
    image) unless ``wide``: -o wide adds them, as kubectl's does, whatever the terminal."""
    kept = [c for c in table.columns if wide or str(c.header).upper() not in {h.upper() for h in headers}]
    if len(kept) < len(table.columns):
        _keep_columns(table, kept)
    return table


def _keep_columns(table: Table, kept: list[Column]) -> None:
    """``table`` itself with only the ``kept`` columns, in that order (callers keep their
    reference to it): emptied and filled again through rich's public add_column / add_row,
    which number the columns as rich lays them out."""
    _refill(table, table, kept)


def with_columns(table: Table, kept: list[Column]) -> Table:
    """A new table of ``table``'s style with only the ``kept`` columns and their cells."""
    new = copy.copy(table)
    new.columns, new.rows = [], []
    _refill(new, table, kept)
    return new


def with_cells(table: Table, convert: Callable[[Column, Any], Any]) -> None:
    """``table`` itself with every cell replaced by ``convert(column, cell)``."""
    _refill(table, table, list(table.columns), convert)


# What a column is made with (Column's public fields): header, widths, overflow, styles...
_COLUMN_SETTINGS = tuple(f.name for f in fields(Column) if not f.name.startswith("_"))


def _refill(target: Table, source: Table, kept: list[Column],
            convert: Callable[[Column, Any], Any] | None = None) -> None:
    """``target`` emptied, then given the ``kept`` columns of ``source`` and every row of
    ``source`` (its style and section end kept) restricted to them."""
    cells = [[convert(c, cell) if convert else cell for cell in c.cells] for c in kept]
    settings = [{name: getattr(c, name) for name in _COLUMN_SETTINGS} for c in kept]
    rows = list(source.rows)
    target.columns.clear()
    target.rows.clear()
    for setting in settings:
        target.add_column(**setting)
    for number, row in enumerate(rows):
        target.add_row(*(column[number] for column in cells), style=row.style, end_section=row.end_section)


def overhead(table: Table) -> int:
    """The characters ``table`` draws besides its cells (rules, padding), in its style:
    rich's own layout rules, read from the table's public settings."""
    count = len(table.columns)
    rules = (count - 1 + (2 if table.show_edge else 0)) if table.box and count else 0
    return rules + sum(_padding_width(table, index) for index in range(count))


def _padding_width(table: Table, index: int) -> int:
    _, right, _, left = table.padding
    if table.collapse_padding:
        left = 0
    if not table.pad_edge:
        left = 0 if index == 0 else left
        right = 0 if index == len(table.columns) - 1 else right
    return left + right


def fit_columns(table: Table, width: int, keys: tuple[str, ...], min_other: int) -> tuple[Table, list[str], int]:
    """``table`` for a terminal ``width`` columns wide, the headers of the columns left
    out, and the width to print it at. The ``keys`` columns (ids, names: what tells the
    rows apart) are kept whole at any width; the others wrap (at least ``min_other``
    wide, and never narrower than a cell's least width: a name stays whole) and, while
    the table is still too wide, are left out from the right (then each one left out
    that fits beside those kept comes back). When the keys alone are
    wider than ``width``, the width returned is theirs: the line is wider than the
    terminal (it folds it) rather than a name cut or split."""
    terminal_style(table)
    for column in table.columns:
        column.no_wrap = str(column.header) in keys
        if not column.no_wrap:
            column.overflow = "fold"  # a long word wraps too: no cell loses its end to "…"
    kept = list(table.columns)
    while _needed(table, kept, keys, min_other) > width:
        others = [c for c in kept if str(c.header) not in keys]
        if not others:
            break
        kept.remove(others[-1])
    for column in [c for c in table.columns if c not in kept]:  # a narrow one past a wide one left out
        tried = [c for c in table.columns if c in kept or c is column]
        if _needed(table, tried, keys, min_other) <= width:
            kept = tried
    dropped = [str(c.header) for c in table.columns if c not in kept]  # in the table's order
    narrow = with_columns(table, kept) if dropped else table
    whole = sum(_natural(c) if c.no_wrap else _wrapped(c, min_other) for c in narrow.columns)
    return narrow, dropped, max(width, whole + overhead(narrow))


def _needed(table: Table, columns: list[Any], keys: tuple[str, ...], min_other: int) -> int:
    widths = [_natural(c) if str(c.header) in keys else _wrapped(c, min_other) for c in columns]
    per_column = overhead(table) / max(1, len(table.columns))
    return sum(widths) + round(per_column * len(columns))


def _wrapped(column: Any, min_other: int) -> int:
    """The width a wrapping column needs: ``min_other``, or more for a cell that wraps only
    at its own boundaries (WholeWordsText: a name never split mid-word)."""
    least = max((c.least_width() for c in column.cells if isinstance(c, WholeWordsText)), default=0)
    return min(_natural(column), max(min_other, least))


def _natural(column: Any) -> int:
    return max(len(line) for text in (_plain(column.header), *(_plain(c) for c in column.cells))
               for line in text.split("\n"))


# Where a word longer than its column may break: after a `/` or a `.` (a path
# `/lib/modules/` `6.18.44/`, a name `default/fortio.` `default.svc`; `//` stays whole),
# never inside a piece; an address is one piece (_ADDRESS).
_PIECE = re.compile(r"[^/.]*[/.]+|[^/.]+")
# An IP address, IPv4 or IPv6 (`[::1]` too), with its :port or /prefix and the `,` or `;`
# a list puts after it: never split, a line copies it whole (not `10.96.` + `188.91`).
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_IPV6 = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
_ADDRESS = re.compile(rf"\(?(?:{_IPV4}|\[?(?:{_IPV6}|[0-9A-Fa-f:]*:{_IPV4})\]?)(?::\d+|/\d+)?[,;)]*\Z")


def _pieces(word: str) -> list[tuple[int, int]]:
    """The (start, end) of each piece of ``word`` no line may split (see _PIECE, _ADDRESS)."""
    if _ADDRESS.match(word):
        return [(0, len(word))]
    return [found.span() for found in _PIECE.finditer(word)]


def _least_width(text: str) -> int:
    """The width of the longest piece of ``text`` no line may split (see _PIECE, _ADDRESS)."""
    return max((end - start for word in text.split() for start, end in _pieces(word)), default=0)


class WholeWordsText(Text):
    """A cell that wraps between words, and a word longer than the column (a path, a name)
    only after a `/` or a `.`: never mid-word, so each line copies as a piece of it (not
    `/lib/modules/6.18/buil` + `d`). Its least width is its longest piece."""

    def least_width(self) -> int:
        return _least_width(self.plain)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.least_width(), max(len(line) for line in self.plain.split("\n")))

    def wrap(self, console: Console, width: int, **kwargs: Any) -> Lines:
        if kwargs.get("no_wrap") or width <= 0:
            return super().wrap(console, width, **kwargs)
        cuts = _cuts(self.plain, width)
        broken = Text("\n").join(self.divide(cuts)) if cuts else self.copy()
        return Text.wrap(broken, console, width, **kwargs)


def _cuts(text: str, width: int) -> list[int]:
    """Where each word of ``text`` longer than ``width`` is broken, after a `/` or a `.`, so
    that each of its lines is at most ``width`` wide (a piece wider stays whole)."""
    cuts: list[int] = []
    for word in re.finditer(r"\S+", text):
        if len(word.group()) <= width:
            continue
        line_start = end = word.start()
        for _, piece_end in _pieces(word.group()):
            if end > line_start and word.start() + piece_end - line_start > width:
                cuts.append(end)
                line_start = end
            end = word.start() + piece_end
    return cuts


class NamesText(WholeWordsText):
    """A cell of names and addresses (`default/fortio.default.svc.cluster.local`, an IPv6
    address): it wraps only between words, never inside one, so each name copies whole
    from one line. Its least width is its longest word."""

    def least_width(self) -> int:
        return max((len(word) for word in self.plain.split()), default=0)

    def wrap(self, console: Console, width: int, **kwargs: Any) -> Lines:
        return Text.wrap(self, console, width, **kwargs)


def whole_names(cell: Any) -> Any:
    """``cell`` (a str with markup, or a Text) as a NamesText, styles kept; anything else (a
    nested renderable) as it is."""
    if isinstance(cell, NamesText) or not isinstance(cell, (str, Text)):
        return cell
    text = Text.from_markup(cell) if isinstance(cell, str) else cell
    return NamesText(text.plain, style=text.style, justify=text.justify, overflow=text.overflow,
                     no_wrap=text.no_wrap, end=text.end, tab_size=text.tab_size, spans=list(text.spans))


def whole_words(cell: Any) -> Any:
    """``cell`` (a str with markup, or a Text) as a WholeWordsText, styles kept; anything
    else (a nested renderable) as it is."""
    if isinstance(cell, WholeWordsText) or not isinstance(cell, (str, Text)):
        return cell
    text = Text.from_markup(cell) if isinstance(cell, str) else cell
    return WholeWordsText(text.plain, style=text.style, justify=text.justify, overflow=text.overflow,
                          no_wrap=text.no_wrap, end=text.end, tab_size=text.tab_size, spans=list(text.spans))


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


def plain_styles(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every Console's settings: no automatic highlighting (rich would bold a `(`, colour
    numbers and addresses), and with NO_COLOR (or TERM=dumb) no escape at all, bold and
    italic too (rich's own NO_COLOR drops colours only)."""
    import os

    kwargs.setdefault("highlight", False)
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        kwargs.setdefault("color_system", None)
    return kwargs


def cli_console(wide: bool = False, **kwargs: Any) -> Console:
    """The console of a command's stdout (``wide``: -o wide, nothing cut; piped: never
    wrapped either, as kubectl's output)."""
    if wide:
        kwargs.setdefault("width", WIDE_WIDTH)
    console = PipeFriendlyConsole(**plain_styles(kwargs))
    console.every_column = wide  # -o wide: every column, as its help says
    if not console.is_terminal and "width" not in kwargs:
        console.width = WIDE_WIDTH
    return console


FIT_MIN_OTHER = 12  # the width a column that wraps keeps at least (dump maps' too)


def print_fitted(console: Console, table: Table, keys: tuple[str, ...], min_other: int = FIT_MIN_OTHER) -> None:
    """``table`` on ``console`` as dump maps prints its tables: in a terminal, the ``keys``
    columns (headers of what tells the rows apart: namespace, name) whole, every cell
    wrapping only between words (a name or an address is never split across lines), the
    other columns that still do not fit left out from the right and named on a line under
    it (fit_columns); piped, or -o wide (a WIDE_WIDTH console), every column whole."""
    if not console.is_terminal or console.width >= WIDE_WIDTH:
        console.print(table)
        return
    from kmeshctl.dump import note_lines

    drop_empty_columns(table)  # before fitting: a column of <none> only would push others out
    with_cells(table, lambda _column, cell: whole_names(cell))
    fitted, dropped, needed = fit_columns(table, console.width, keys, min_other)
    with _at_least(console, needed):
        console.print(fitted)
    if dropped:
        note = f"(not shown at this width: {', '.join(dropped)}; -o wide shows every column)"
        for line in note_lines(note, console.width):
            console.print(line, highlight=False, soft_wrap=True)


def print_or_note(console: Console, note: str, table: Table, show: Any) -> None:
    """``show()`` the table, or when it has no rows the kubectl-style ``note`` (`No pods
    in sandbox S.`) on stderr instead of a table of headers only (-q: no note)."""
    if table.row_count:
        show()
        return
    from kmeshctl.cli.common import run_options
    from kmeshctl.cli.progress import note as quiet_note

    console.file.flush()
    quiet_note(note, run_options().quiet)


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


def words_kept_whole(table: Table, console: Console) -> int:
    """A table wider than the terminal: rich narrows the columns that wrap as if words
    did not matter, so a free-text column (precheck's DETAIL) splits `reachable` or a
    path mid-word, and a short cell (`kernel version`) wraps inside its row. Instead the
    long columns narrow first, widest first, down to their longest word; then further,
    a word longer than its column breaking only after a `/` or a `.` (a path, a name:
    WholeWordsText; never below min_width: FIX keeps a flag whole); only then do the
    short columns (names of checks, states) wrap, between words; last, any wrapping
    column narrows to its longest piece between those breaks. Still too wide, every
    word stays whole: the width the table needs is returned, wider than the console (the
    terminal folds its lines; the output never splits a word); else the console's."""
    columns = table.columns
    texts = [[_plain(column.header), *(_plain(c) for c in column.cells)] for column in columns]
    natural = [max((len(line) for t in cells for line in t.split("\n")), default=0) for cells in texts]
    longest = [max((len(word) for t in cells for word in t.split()), default=0) for cells in texts]
    least = [max((_least_width(t) for t in cells), default=0) for cells in texts]
    available = console.width - overhead(table)
    if sum(natural) <= available or available <= 0:
        return console.width
    wraps = [c.width is None and not c.no_wrap for c in columns]
    widths = list(natural)
    short = [n <= _SHORT_COLUMN for n in natural]
    floors = [  # per stage: how far each wrapping column may narrow (None: not in this stage)
        [max(l, c.min_width or 0) if w and not s else None for l, c, w, s in zip(longest, columns, wraps, short)],
        [max(_FOLD_FLOOR, p, c.min_width or 0) if w and not s else None
         for p, c, w, s in zip(least, columns, wraps, short)],
        [max(l, c.min_width or 0) if w and s else None for l, c, w, s in zip(longest, columns, wraps, short)],
        [max(p, c.min_width or 0) if w else None for p, c, w in zip(least, columns, wraps)],
    ]
    for floor in floors:
        _narrow(widths, floor, available)
    for column, width, wrap in zip(columns, widths, wraps):
        if wrap:
            column.width = width
    with_cells(table, lambda column, cell: whole_words(cell) if column.width is not None and not column.no_wrap
               else cell)
    return max(console.width, sum(widths) + overhead(table))


def _narrow(widths: list[int], floor: list[int | None], available: int) -> None:
    """Narrow the widest column above its ``floor`` one character at a time until the
    widths fit ``available``."""
    while sum(widths) > available:
        candidates = [i for i, f in enumerate(floor) if f is not None and widths[i] > f]
        if not candidates:
            return
        widths[max(candidates, key=lambda i: widths[i])] -= 1
