"""Kind "a narrow terminal drops the informative column and splits a flag" (new-user tester,
F19J): at 30 columns `dump maps --map km_frontend` left out UPSTREAM (the name its id
stands for) but kept KIND, and the note `(not shown at this width: ...; -o wide shows every
column)`, wrapped at 40 whatever the terminal, was folded with `-o` and `wide` on two lines.
Now UPSTREAM is one of km_frontend's key columns (kept whole: tester pass 23 found the
name split across lines), and the note wraps at the terminal's width with `-o wide` on
one line (kmeshctl.dump.render_tables through PipeFriendlyConsole as in a terminal;
kmeshctl.cli.tables.fit_columns)."""

from __future__ import annotations

import io
import ipaddress

import pytest
from rich.table import Table

from kmeshctl import dump
from kmeshctl.cli.tables import PipeFriendlyConsole, fit_columns, whole_names
from kmeshctl.maps import FRONTEND, FrontendKey, FrontendValue
from test_cli_map_key_columns_at_80 import NAMES, SVC_ID, _Ids

NOTE = "(not shown at this width: KIND; -o wide shows every column)"


def _frontend(monkeypatch, width: int) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(width))
    buffer = io.StringIO()
    console = PipeFriendlyConsole(file=buffer, force_terminal=True, color_system=None)
    rows = [(FrontendKey(ipaddress.ip_address("10.96.33.1")), FrontendValue(SVC_ID))]
    dump.render_tables([dump.MapDump(FRONTEND, rows)], _Ids(), console, pods={})  # type: ignore[arg-type]
    return buffer.getvalue().splitlines()


def _note(lines: list[str]) -> list[str]:
    start = next(number for number, line in enumerate(lines) if line.startswith("(not shown"))
    return lines[start:]


def test_km_frontend_at_30_columns_keeps_the_upstream_and_leaves_out_the_kind(monkeypatch) -> None:
    lines = _frontend(monkeypatch, 30)
    header = next(n for n, line in enumerate(lines) if line.startswith("ADDRESS"))  # after the title, wrapped
    assert all(len(line) <= 30 for line in lines[:header]), lines
    assert lines[header].split() == ["ADDRESS", "UPSTREAM"], lines
    assert lines[header + 1].split() == ["10.96.33.1", NAMES[SVC_ID]], lines  # the name whole on its row
    assert " ".join(" ".join(_note(lines)).split()) == NOTE, lines


@pytest.mark.parametrize("width", [30, 24, 20])
def test_the_note_fits_the_terminal_and_keeps_the_flag_with_its_value(monkeypatch, width: int) -> None:
    note = _note(_frontend(monkeypatch, width))
    assert all(len(line) <= width for line in note), note
    assert any("-o wide" in line for line in note) and not any(line.endswith("-o") for line in note), note


@pytest.mark.parametrize("width", range(8, 70))
def test_note_lines_never_part_a_short_flag_from_its_value(width: int) -> None:
    text = "(not shown at this width: OWN TARGET PORTS, AS A WAYPOINT; -o wide shows every column)"
    lines = dump.note_lines(text, width)
    assert " ".join(lines) == text
    assert not any(line.endswith("-o") or line.startswith("wide") for line in lines), lines
    assert all(len(line) <= width or line.strip() in ("-o wide", "WAYPOINT;") for line in lines), lines


def test_fit_columns_leaves_columns_out_from_the_right_and_never_splits_a_name() -> None:
    table = Table("ID", "NAME", "KIND", "STATE")
    table.add_row(*(whole_names(cell) for cell in ("1", "default/a-rather-long-name-here", "service", "ready")))
    _, dropped, _ = fit_columns(table, 40, ("ID",), 12)
    assert dropped == ["KIND", "STATE"]  # NAME (least width: the whole name) fits only alone
    _, dropped, _ = fit_columns(Table("ID", "NAME", "KIND"), 3, ("ID",), 12)
    assert dropped == ["NAME", "KIND"]


@pytest.mark.parametrize("width", [60, 80, 100, 120, 140])
def test_no_name_is_split_across_lines_in_any_map_table(monkeypatch, width: int) -> None:
    """Tester pass 23: km_frontend's UPSTREAM and km_service's WAYPOINT were split after
    their dots at 60-120 columns. Every name of every map's table is whole on one line,
    or its column is left out with the note."""
    from test_cli_map_key_columns_at_80 import POD_OF_COOKIE, POLICY, _entries
    from kmeshctl.maps import AUTHZ_POL, MAP_NAMES

    monkeypatch.setenv("COLUMNS", str(width))
    for name in MAP_NAMES:
        buffer = io.StringIO()
        console = PipeFriendlyConsole(file=buffer, force_terminal=True, color_system=None)
        dumps = [dump.MapDump(dump.SPECS_BY_NAME[name], _entries()[name]), dump.MapDump(AUTHZ_POL, _entries()[AUTHZ_POL.name])]
        dump.render_tables(dumps[:1], _Ids(), console, pods={}, policies=dump._policy_names(dumps))  # type: ignore[arg-type]
        words = buffer.getvalue().split()
        for whole in (*NAMES.values(), POLICY):
            heads = [word for word in words if word != whole and whole.startswith(word) and word[-1] in "/."]
            assert not heads, (name, width, whole, buffer.getvalue())
