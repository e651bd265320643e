"""Issue 14, kind "an empty table is a note, not headers": `sandbox status` of a
sandbox with no pods (or no Services) prints kubectl's `No pods in sandbox S.` on stderr
instead of a table of headers only, as the other empty lists do. Real parts:
kmeshctl.cli.sandbox's status printer on a report as sandbox.status builds it."""

from __future__ import annotations

from kmeshctl.cli.common import OutputFormat
from kmeshctl.cli.sandbox import _print_status
from kmeshctl.cli.tables import print_or_note

DAEMON = {"pid": 1, "running": True, "ready": True}


def _report(pods: list, services: list) -> dict:
    return {"name": "h52-empty", "ready": True, "phase": "ready", "problems": [], "pods": pods,
            "services": services, "waypoints": [], "controlplane": DAEMON, "agent": DAEMON, "processes": []}


def test_no_pods_and_no_services_are_notes_on_stderr(capsys) -> None:
    _print_status(_report([], []), OutputFormat.table)
    out, err = capsys.readouterr()
    assert "No pods in sandbox h52-empty." in err and "No services in sandbox h52-empty." in err, err
    assert "NAMESPACE" not in out and "POD" not in out, out


def test_a_table_with_rows_is_printed(capsys) -> None:
    from rich.table import Table

    from kmeshctl.cli.tables import cli_console

    table = Table("A")
    shown = []
    print_or_note(cli_console(), "No rows.", table, lambda: shown.append(1))
    assert not shown and "No rows." in capsys.readouterr().err
    table.add_row("x")
    print_or_note(cli_console(), "No rows.", table, lambda: shown.append(1))
    assert shown == [1] and "No rows." not in capsys.readouterr().err
