"""Issue 14, kinds "a table fits the terminal" and "one table style":

- every table in a terminal is at most COLUMNS wide (the columns that are not ids or names
  are left out; ids and names stay whole, wider than COLUMNS when they alone are), and a short cell (a check's name,
  `kernel version`) is not wrapped inside its row when the long columns can narrow instead;
- every command's table in a terminal has the same look: kubectl's plain columns, as
  piped (the new-user review: boxed in a terminal, plain when piped, puzzled; see
  test_cli_output_style).

Real parts: the rich rendering of kmeshctl.cli.tables (PipeFriendlyConsole, width from
COLUMNS as in a terminal) with kmeshctl.dump's map tables; the real kmeshctl in a
pseudo-terminal whose window is 60 / 40 columns (`node preflight --no-mount`, which reads
only this machine)."""

from __future__ import annotations

import io
import os
import re

import pytest
from rich.table import Table

from kmeshctl import dump
from kmeshctl.cli.tables import PipeFriendlyConsole
from kmeshctl.maps import ENDPOINT, IDREG, EndpointKey, EndpointValue, IdKind, IdRegKey, IdRegValue
from shell_pty import run_in_terminal
from test_cli_kinds import KMESHCTL
from test_cli_output_style import plain_cells

SERVICE = "default/fortio.default.svc.cluster.local"
RULES = set("│┃━╇")
EDGES = set("┏┓┗┛┡┩└┘┌┐")


class _Ids:
    names = {1014011164: SERVICE, 3492541779: "Kubernetes//Pod/default/fortio-v1-0",
             4105537086: "Kubernetes//Pod/default/fortio-v2-0"}

    def name_of(self, id_: int) -> str | None:
        return self.names.get(id_)

    def kind_of(self, _id: int) -> None:
        return None


def _dumps() -> list[dump.MapDump]:
    endpoints = [(EndpointKey(1014011164, 0, i), EndpointValue(uid, (8080,)))
                 for i, uid in enumerate((3492541779, 4105537086), 1)]
    names = [(IdRegKey(id_), IdRegValue(IdKind(1), name)) for id_, name in _Ids.names.items()]
    return [dump.MapDump(ENDPOINT, endpoints), dump.MapDump(IDREG, names)]


def _terminal(monkeypatch, columns: int) -> tuple[PipeFriendlyConsole, io.StringIO]:
    monkeypatch.setenv("COLUMNS", str(columns))
    buffer = io.StringIO()
    return PipeFriendlyConsole(file=buffer, force_terminal=True, color_system=None), buffer


def _drawn(text: str) -> list[str]:
    """The lines of the tables in ``text``: not a map's title, a note on the columns left
    out (wrapped over lines), nor a blank line."""
    lines, in_note = [], False
    for line in text.splitlines():
        in_note = (in_note or line.startswith("(")) and bool(line)
        if line and not in_note and not line.startswith("km_"):
            lines.append(line)
    return lines


def _firsts(lines: list[str]) -> list[str]:
    """The first column of each table's rows (the header is the first line)."""
    return plain_cells(lines, 0)


# km_endpoint's id and name columns (SERVICE PRIO INDEX BACKEND) alone, as drawn (h103)
ENDPOINT_KEYS_WIDTH = len(SERVICE) + 3 + len("PRIO") + 3 + len("INDEX") + 3 + len("Kubernetes//Pod/default/fortio-v1-0")


@pytest.mark.parametrize("columns", [120, 100, 80, 60, 40, 20])
def test_map_tables_are_never_wider_than_columns(columns: int, monkeypatch) -> None:
    """Never wider than COLUMNS, unless the id and name columns alone are: those are
    never cut nor wrapped, the line is then as wide as they are (h103, finding 6)."""
    console, buffer = _terminal(monkeypatch, columns)
    dump.render_tables(_dumps(), _Ids(), console)  # type: ignore[arg-type]
    text = buffer.getvalue()
    lines = _drawn(text)
    assert lines and all(len(line) <= max(columns, ENDPOINT_KEYS_WIDTH) for line in lines), (columns, text)
    for name in (SERVICE, *_Ids.names.values()):
        assert any(name in line for line in lines), (name, text)  # every name whole on its line
    for uid in ("3492541779", "4105537086", "1014011164"):
        assert uid in text, (uid, text)  # ids are never folded nor left out
    if columns < 120:  # the note wraps at the terminal's width (20: over four lines)
        assert "(not shown at this width:" in " ".join(text.split()), text


def test_wide_output_is_still_every_column_whole(monkeypatch) -> None:
    console, buffer = _terminal(monkeypatch, 40)
    dump.render_tables(_dumps(), _Ids(), console, wide=True)  # type: ignore[arg-type]
    text = buffer.getvalue()
    assert SERVICE in text and "OWN TARGET PORTS" in text and "not shown" not in text, text


def _checks(width: int) -> list[str]:
    from kmeshctl.cli.cluster import print_checks  # the table of precheck / node preflight
    from kmeshctl.cli.common import OutputFormat

    rows = [{"name": "kernel version", "status": "pass", "detail": "6.18.44-fc-v1045 (>= 5.10)", "fix": ""},
            {"name": "kernel headers", "status": "pass", "fix": "",
             "detail": "bcc compiles with the host's, /lib/modules/6.18.44-fc-v1045/build"},
            {"name": "cgroup v2", "status": "pass", "detail": "mounted at /sys/fs/cgroup/unified", "fix": ""}]
    buffer = io.StringIO()
    import kmeshctl.cli.cluster as cluster

    saved = cluster.out
    cluster.out = lambda output=OutputFormat.table: PipeFriendlyConsole(  # type: ignore[assignment]
        file=buffer, width=width, force_terminal=True, color_system=None, highlight=False, soft_wrap=True)
    try:
        print_checks(rows, OutputFormat.table)
    finally:
        cluster.out = saved
    return buffer.getvalue().splitlines()


@pytest.mark.parametrize("width", [60, 72])
def test_short_cells_stay_on_one_line_when_long_columns_can_narrow(width: int) -> None:
    lines = _checks(width)
    assert all(len(line) <= width for line in lines), lines
    firsts = _firsts(lines)
    for name in ("kernel version", "kernel headers", "cgroup v2"):
        assert name in firsts, (name, lines)


# ------------------------------------------------------------------ the real tool in a pty


def _in_pty(argv: list[str], columns: int) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "KMESHCTL_SANDBOX_NAME")}
    env.update(TERM="xterm", LANG="C.UTF-8")
    output = run_in_terminal(argv, env, columns)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output).replace("\r", "")


@pytest.mark.skipif(os.geteuid() != 0, reason="node preflight reads root-only state")
@pytest.mark.parametrize("columns", [60, 80])
def test_preflight_in_a_real_terminal_fits_and_keeps_check_names_whole(columns: int) -> None:
    shown = _in_pty([KMESHCTL, "node", "preflight", "--no-mount"], columns)
    lines = [line for line in shown.splitlines() if line.strip()]
    assert lines and all(len(line) <= columns for line in lines), shown
    firsts = _firsts(lines[lines.index(next(line for line in lines if line.startswith("CHECK"))):])
    assert "kernel version" in firsts and "bpf syscall" in firsts, shown


# ------------------------------------------------------------------ one style


def _styled(table: Table) -> str:
    buffer = io.StringIO()
    PipeFriendlyConsole(file=buffer, width=100, force_terminal=True, color_system=None).print(table)
    return buffer.getvalue()


@pytest.mark.parametrize("build", [lambda: Table("A", "B"), lambda: Table("A", "B", show_edge=False, pad_edge=False),
                                   lambda: Table("A", "B", show_edge=True)],
                         ids=["default", "edgeless", "boxed"])
def test_every_terminal_table_has_one_style(build) -> None:
    table = build()
    table.add_row("x", "y")
    text = _styled(table)
    assert text.splitlines()[0] == "A   B", text
    assert not (EDGES | RULES) & set(text), text


def test_a_map_table_and_a_list_table_look_alike(monkeypatch) -> None:
    console, buffer = _terminal(monkeypatch, 100)
    dump.render_tables(_dumps()[1:], _Ids(), console)  # type: ignore[arg-type]
    text = buffer.getvalue()
    assert "ID           KIND" in text and not (EDGES | RULES) & set(text), text
