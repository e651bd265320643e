"""Issue 14, eighth new-user pass: what the list and table commands print, one test per
kind:

11 a table wider than the terminal wraps its free-text columns between words (a word is
   broken only when it is longer than any column could be);
12 a list with nothing in it leaves stdout empty (the note goes to stderr, exit 0, as
   kubectl's "No resources found"); -o json prints `[]`.

Real parts: rich rendering to a terminal-sized console; the CLI through kmeshctl.cli.main
in-process; sandbox records in a temporary state root (never this machine's sandboxes);
the stand-in API server (tests/standin, a named stand-in) for the cluster lists."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.table import Table

from kmeshctl.cli.tables import PipeFriendlyConsole
from kmeshctl.sandbox import state as state_mod
from standin_apiserver import cluster, namespace  # noqa: F401 (fixtures)
from test_cli_kinds import cli, no_env  # noqa: F401
from test_cli_output_style import headers, plain_cells

DETAIL = ("getting credentials: exec plugin /tmp/h8/plugin.sh of user u2 in kubeconfig h8/kc.yaml (context c2) "
          "exited with status 3 (boom); fix the credential plugin (run it by hand to see what it does), or pass "
          "--context NAME of another context")
FIX = "fix the kubeconfig's credential plugin /tmp/h8/plugin.sh (it failed, see DETAIL), or pass --context"


def _rendered(table: Table, width: int) -> list[str]:
    buffer = io.StringIO()
    console = PipeFriendlyConsole(file=buffer, width=width, force_terminal=True, color_system=None)
    console.print(table)
    return buffer.getvalue().splitlines()


def _checks_table(rows: list[tuple[str, str, str, str]]) -> Table:
    """The layout of precheck / node preflight (kmeshctl.cli.cluster.print_checks)."""
    from kmeshctl.cli.cluster import _longest_word

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("CHECK")
    table.add_column("RESULT", no_wrap=True)
    table.add_column("DETAIL", overflow="fold")
    table.add_column("FIX", overflow="fold", min_width=_longest_word([r[3] for r in rows]))
    for row in rows:
        table.add_row(*row)
    return table


def _cells(lines: list[str], column: int) -> list[str]:
    """The text of one column, line by line, its header first (plain columns: each starts
    where its header does)."""
    return [headers(lines[0])[column], *plain_cells(lines, column)]


@pytest.mark.parametrize("width", [60, 72, 80])
def test_the_detail_column_wraps_between_words_in_a_narrow_terminal(width: int) -> None:
    rows = [("API reachable", "fail", DETAIL, FIX), ("kernel headers", "pass",
            "bcc compiles with the host's, /lib/modules/6.18.44-fc-v857/build", "")]
    lines = _rendered(_checks_table(rows), width)
    assert all(len(line) <= width for line in lines), lines
    for column, text in ((2, DETAIL + " bcc compiles with the host's, /lib/modules/6.18.44-fc-v857/build"),
                         (3, FIX)):
        cells = [c for c in _cells(lines, column)[1:] if c]  # below the header
        column_width = max(len(c) for c in cells)
        for word in text.split():
            if len(word) <= column_width:
                assert word in cells or any(word in c.split() for c in cells), (word, cells)


def test_a_word_longer_than_the_column_is_still_shown_whole_across_lines() -> None:
    long_word = "/" + "x" * 70
    lines = _rendered(_checks_table([("API reachable", "fail", f"no file {long_word} here", "")]), 60)
    assert "".join(_cells(lines, 2)).replace(" ", "").count(long_word) == 1, lines


def test_a_table_that_fits_is_left_as_rich_lays_it_out() -> None:
    rows = [("root", "pass", "running as root", "")]
    assert _rendered(_checks_table(rows), 200) == _rendered(_checks_table(rows), 201)


# ------------------------------------------------------------------ 12. nothing to list


@pytest.fixture
def no_sandboxes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(state_mod, "STATE_ROOT", tmp_path / "run")


def test_no_sandboxes_leaves_stdout_empty(capsys, no_env, no_sandboxes) -> None:
    code, out, err = cli(capsys, "sandbox", "list")
    assert code == 0 and out == "" and err.strip() == "No sandboxes. Create one with: kmeshctl sandbox up", err
    for output in ("json", "yaml"):
        code, out, err = cli(capsys, "sandbox", "list", "-o", output)
        assert code == 0 and (json.loads(out) if output == "json" else out.strip()) in ([], "[]"), out
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "wide")
    assert code == 0 and out == ""


def test_no_waypoints_leaves_stdout_empty(cluster) -> None:  # noqa: F811
    from test_cli_cluster_context import gateway_crd

    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))  # as on a real cluster (a missing one is an error: h92)
    for args in (["-n", "default"], ["-A"], ["-A", "-o", "wide"]):
        listed = cluster.kmeshctl("waypoint", "list", *args)
        assert listed.code == 0 and listed.out == "" and listed.err.startswith("No waypoints found"), listed
    listed = cluster.kmeshctl("waypoint", "list", "-A", "-o", "json")
    assert listed.code == 0 and json.loads(listed.out) == [], listed


def test_enrolling_a_namespace_without_pods_lists_no_pods_on_stdout(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("empty"))
    enabled = cluster.kmeshctl("enable-ns", "empty")
    assert enabled.code == 0 and enabled.out.strip() == "namespace empty enrolled", enabled
    assert "No pods in namespace empty." in enabled.err, enabled
    released = cluster.kmeshctl("disable-ns", "empty", "-o", "json")
    assert released.code == 0 and json.loads(released.out)["pods"] == [], released
