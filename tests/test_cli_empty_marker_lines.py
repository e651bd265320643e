"""An empty value in a printed line is the one marker every table uses (TABLE_EMPTY,
`<none>`), never a bare `-`: `waypoint status` (services, istiod address, used by)."""

from __future__ import annotations

from kmeshctl.cli import waypoint as waypoint_cli
from kmeshctl.params import TABLE_EMPTY
from kmeshctl.waypoint.deploy import WaypointState


def test_waypoint_status_lines_use_the_table_marker(capsys) -> None:
    state = WaypointState("h63", "wp", True, 1, ["wp-0"], [], "no status from istiod yet", [])
    reports = {"wp-0": {"envoy": {"ready": True, "acked": True}, "services": [], "routes": {}, "problems": []}}
    waypoint_cli._print_status(state, reports, [], wide=True)
    out = capsys.readouterr().out
    assert f"istiod address: {TABLE_EMPTY} (no status from istiod yet)" in out, out
    assert f"used by: {TABLE_EMPTY}" in out and f"services: {TABLE_EMPTY}" in out, out
    assert ": -" not in out and "- (" not in out, out
