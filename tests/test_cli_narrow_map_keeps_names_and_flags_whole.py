"""Kind "a narrow terminal drops the informative column and splits a flag" (new-user tester,
F19J): at 30 columns `dump maps --map km_frontend` left out UPSTREAM (the name its id
stands for) but kept KIND, and the note `(not shown at this width: ...; -o wide shows every
column)`, wrapped at 40 whatever the terminal, was folded with `-o` and `wide` on two lines.
Now a map's name columns are left out only after its other columns, and the note wraps at
the terminal's width with `-o wide` on one line (kmeshctl.dump.render_tables through
PipeFriendlyConsole as in a terminal; kmeshctl.cli.tables.fit_columns)."""

from __future__ import annotations

import io
import ipaddress

import pytest
from rich.table import Table

from kmeshctl import dump
from kmeshctl.cli.tables import PipeFriendlyConsole, fit_columns
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
    assert lines[1].split() == ["ADDRESS", "UPSTREAM"], lines
    assert "default/fortio." in lines[2] and "".join(line.strip() for line in lines[2:5]).endswith(
        NAMES[SVC_ID].split("/")[1]), lines  # the name, wrapped after its dots
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


def test_fit_columns_leaves_the_last_columns_out_only_after_the_others() -> None:
    table = Table("ID", "NAME", "KIND", "STATE")
    table.add_row("1", "default/a-rather-long-name-here", "service", "ready")
    _, dropped, _ = fit_columns(table, 20, ("ID",), 12, last=("NAME",))
    assert dropped == ["KIND", "STATE"]  # NAME kept while another column can go (the table's order)
    _, dropped, _ = fit_columns(Table("ID", "NAME", "KIND"), 3, ("ID",), 12, last=("NAME",))
    assert dropped == ["NAME", "KIND"]  # narrower still: it goes too
