"""Helper h79, kind "a help text that says nothing of the command": the -o help of
status, enable-ns/disable-ns, precheck, version, waypoint list/status and the demo was
the generic "its detail columns, where it has them"; each now names what -o wide adds
(or that it only stops cutting). And cluster.py no longer reads rich's private layout
attributes (kmeshctl.cli.tables.overhead is the public replacement).

Real parts: the real CLI's --help in-process (kmeshctl.cli.main), the real source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.table import Table

from test_cli_kinds import cli

REPO = Path(__file__).resolve().parent.parent
GENERIC = "where it has them"


@pytest.mark.parametrize("command,says", [
    (["status"], "the IMAGE column"),
    (["enable-ns"], "the EXPECTED, IP and NODE columns"),
    (["disable-ns"], "the EXPECTED, IP and NODE columns"),
    (["precheck"], "it has no detail columns"),
    (["version"], "each agent's image"),
    (["waypoint", "list"], "it has no detail columns"),
    (["waypoint", "status"], "which Services use it"),
    (["demo", "traffic-shift"], "it has no detail columns"),
])
def test_each_commands_o_help_names_what_wide_adds(command: list[str], says: str, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # the help on one line, words not split
    code, out, err = cli(capsys, *command, "--help")
    assert code == 0, err
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", out).split())
    assert says in text and GENERIC not in text, text


def test_cluster_cli_uses_no_private_rich_layout() -> None:
    source = (REPO / "kmeshctl/cli/cluster.py").read_text()
    assert "_extra_width" not in source and "_get_padding_width" not in source


@pytest.mark.parametrize("edge,pad", [(False, False), (True, True), (True, False)])
def test_overhead_is_what_rich_draws_besides_the_cells(edge: bool, pad: bool) -> None:
    from kmeshctl.cli.tables import overhead

    table = Table("A", "BB", "CCC", show_edge=edge, pad_edge=pad)
    assert overhead(table) == table._extra_width + sum(table._get_padding_width(i) for i in range(3))
