"""Issue 14 (helper h69), kind "a path or a name split mid-word": a table folded to the
terminal breaks a word longer than its column only after a `/` or a `.` (`node preflight`
at 60 columns printed `/lib/modules/6.18.44-fc-v1045/buil` + `d`); when even those pieces
do not fit, the table is printed wider (the terminal folds its lines) instead of splitting
one. Also kind "rich's private API": the tables code keeps and drops columns through rich's
public Column.cells / add_column / add_row, with the same result.

Real parts: kmeshctl.cli.tables' console in a forced terminal of COLUMNS width writing into
a buffer, the check table of precheck / node preflight (kmeshctl.cli.cluster.print_checks)
and kmeshctl.dump's map tables."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kmeshctl import dump
from kmeshctl.cli.tables import (PipeFriendlyConsole, WholeWordsText, drop_empty_columns, overhead, wide_only,
                                 with_columns)
from test_cli_output_style import plain_cells
from test_cli_table_width import _dumps, _Ids

REPO = Path(__file__).resolve().parent.parent
HEADERS_PATH = "/lib/modules/6.18.44-fc-v1045/build"


def _terminal(width: int) -> tuple[PipeFriendlyConsole, io.StringIO]:
    buffer = io.StringIO()
    return PipeFriendlyConsole(file=buffer, width=width, force_terminal=True, color_system=None), buffer


def _check_lines(width: int) -> list[str]:
    """`node preflight`'s table (kernel headers found at HEADERS_PATH) at ``width`` columns."""
    import kmeshctl.cli.cluster as cluster
    from kmeshctl.cli.common import OutputFormat

    rows = [{"name": "kernel version", "status": "pass", "detail": "6.18.44-fc-v1045 (>= 5.10)", "fix": ""},
            {"name": "kernel headers", "status": "pass", "fix": "",
             "detail": f"bcc compiles with the host's, {HEADERS_PATH}"},
            {"name": "cgroup v2", "status": "pass", "detail": "mounted at /sys/fs/cgroup/unified", "fix": ""}]
    console, buffer = _terminal(width)
    saved = cluster.out
    cluster.out = lambda output=OutputFormat.table: console  # type: ignore[assignment]
    try:
        cluster.print_checks(rows, OutputFormat.table)
    finally:
        cluster.out = saved
    return buffer.getvalue().splitlines()


def _pieces_whole(fragments: list[str], word: str) -> None:
    """``fragments`` (a word's lines, in order) put back make ``word``, and each but the
    last ends where a piece ends: after a `/` or a `.`."""
    assert "".join(fragments) == word, fragments
    for fragment in fragments[:-1]:
        assert fragment.endswith(("/", ".")), (fragment, fragments)


@pytest.mark.parametrize("width", [60, 62, 64])
def test_preflight_at_60_columns_folds_a_path_only_after_a_slash(width: int) -> None:
    lines = _check_lines(width)
    assert all(len(line) <= width for line in lines), lines
    check, detail = plain_cells(lines, 0), plain_cells(lines, 2)
    start = next(i for i, cell in enumerate(detail) if cell.startswith("/lib/"))
    fragments = [detail[start]]
    for number in range(start + 1, len(detail)):
        if check[number] or not detail[number]:
            break  # the next check's row
        fragments.append(detail[number])
    _pieces_whole(fragments, HEADERS_PATH)
    assert "kernel version" in plain_cells(lines, 0), lines  # the short cells still on one line


def test_a_free_text_column_wraps_at_spaces_before_breaking_a_path() -> None:
    table = Table("CHECK", "DETAIL")
    table.add_row("cgroup v2 (the unified hierarchy)", "mounted at /sys/fs/cgroup/unified/kmesh/pods")
    console, buffer = _terminal(40)
    console.print(table)
    detail = plain_cells(buffer.getvalue().splitlines(), 1)
    assert detail[0] == "mounted at", detail  # not `mounted at /sys/`: a whole word moves to the next line
    _pieces_whole([d for d in detail[1:] if d], "/sys/fs/cgroup/unified/kmesh/pods")


def test_whole_words_text_breaks_only_after_a_slash_or_a_dot() -> None:
    console = Console(width=80)
    lines = [line.plain.rstrip() for line in WholeWordsText("see /var/run/kmesh-cni/cni.sock now").wrap(console, 12)]
    assert lines == ["see", "/var/run/", "kmesh-cni/", "cni.sock now"], lines
    assert WholeWordsText("a /bb/cccc.dd").least_width() == 5  # `cccc.`
    # a piece wider than the column is never cut: it overflows (the table prints wider)
    lines = [line.plain for line in WholeWordsText("/reachable-kubernetes/x", overflow="fold").wrap(console, 8)]
    assert lines[0].startswith("/") and "reachable-kubernetes/" in "".join(lines), lines
    styled = WholeWordsText.from_markup("[bold]/a/b[/bold]")
    assert styled.spans, styled  # markup kept as a style


def test_names_that_cannot_fit_overflow_whole_instead_of_splitting(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    buffer = io.StringIO()
    console = PipeFriendlyConsole(file=buffer, force_terminal=True, color_system=None)
    dump.render_tables(_dumps()[:1], _Ids(), console)  # type: ignore[arg-type]
    drawn = buffer.getvalue().split("\n(not shown")[0]  # the note on the columns left out wraps over lines
    lines = [line for line in drawn.splitlines() if line and not line.startswith(("km_", "("))]
    table = lines[:lines.index(next(line for line in lines if line.startswith("PORTS")))] if any(
        line.startswith("PORTS") for line in lines) else lines
    service = [cell for cell in plain_cells(table, 0) if cell]
    # the id and name columns are never cut nor wrapped (h103): each name whole on its row,
    # the other columns left out, the line as wide as the names
    assert service == ["default/fortio.default.svc.cluster.local"] * 2, lines
    assert "BACKEND" in table[0] and all("Kubernetes//Pod/default/fortio-v" in row for row in table[1:]), lines
    assert "not shown at this width: OWN TARGET PORTS" in " ".join(buffer.getvalue().split()), lines


# ------------------------------------------------------------------ rich's public API only


def test_tables_code_uses_no_private_rich_attribute() -> None:
    for path in ("kmeshctl/cli/tables.py", "kmeshctl/dump.py"):
        source = (REPO / path).read_text()
        found = re.findall(r"\._(?:cells|index|extra_width|get_padding_width)\b", source)
        assert not found, (path, found)


def _styled_table() -> Table:
    table = Table("NAME", "EMPTY", "IMAGE", show_edge=False, pad_edge=False)
    table.columns[0].min_width, table.columns[0].overflow, table.columns[2].justify = 9, "fold", "right"
    table.add_row("h69-a", "", "img:1", style="bold")
    table.add_row("h69-b", "<none>", Text("img:2"), end_section=True)
    return table


def test_dropping_columns_keeps_cells_settings_and_row_styles() -> None:
    table = _styled_table()
    drop_empty_columns(table)
    assert [c.header for c in table.columns] == ["NAME", "IMAGE"]
    assert [list(c.cells) for c in table.columns][0] == ["h69-a", "h69-b"]
    assert table.columns[0].min_width == 9 and table.columns[0].overflow == "fold"
    assert table.columns[1].justify == "right" and isinstance(list(table.columns[1].cells)[1], Text)
    assert [r.style for r in table.rows] == ["bold", None] and table.rows[1].end_section
    wide_only(table, ("IMAGE",), False)
    assert [c.header for c in table.columns] == ["NAME"]
    narrow = with_columns(_styled_table(), [_styled_table().columns[2]])
    assert [c.header for c in narrow.columns] == ["IMAGE"] and narrow.show_edge is False


def test_a_rebuilt_table_renders_as_one_built_with_those_columns() -> None:
    rebuilt = _styled_table()
    drop_empty_columns(rebuilt)
    direct = Table("NAME", "IMAGE", show_edge=False, pad_edge=False)
    direct.columns[0].min_width, direct.columns[0].overflow, direct.columns[1].justify = 9, "fold", "right"
    direct.add_row("h69-a", "img:1", style="bold")
    direct.add_row("h69-b", Text("img:2"), end_section=True)
    shown = []
    for table in (rebuilt, direct):
        console = Console(record=True, width=60, color_system="standard", force_terminal=True)
        console.print(table)
        shown.append(console.export_text(styles=True))
    assert shown[0] == shown[1], shown


@pytest.mark.parametrize("settings", [{}, {"show_edge": False, "pad_edge": False}, {"box": None},
                                      {"collapse_padding": True}, {"padding": (0, 3, 0, 0), "box": None,
                                                                   "pad_edge": False}])
def test_overhead_is_what_rich_draws_besides_the_cells(settings: dict) -> None:
    table = Table("A", "BB", "CCC", **settings)
    table.add_row("1", "22", "333")
    private = table._extra_width + sum(table._get_padding_width(i) for i in range(3))  # rich's own count
    assert overhead(table) == private
    if table.collapse_padding:
        return  # rich draws collapsed padding its own way; the count above is what it lays out by
    console = Console(width=100, record=True)
    console.print(table)
    longest = max(len(line) for line in console.export_text().splitlines())
    assert longest == 6 + overhead(table)  # the cells' 1 + 2 + 3 characters, and the rest is overhead
