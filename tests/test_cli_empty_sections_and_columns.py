"""Issue 14 (helper h69), kind "a header over nothing": `dump config` printed a section's
title over an empty section (`authorization policies (0)` and a header row) and kept
columns that are `<none>` in every row (WAYPOINT, PORTS). Now an empty section prints
nothing (every section empty: one `No ...` line on stderr, as kubectl's `No resources
found`), and a column of `<none>` only is left out as a blank one is, in every table.

Real parts: kmeshctl.cli.main in-process against a real HTTP server on a free loopback
port answering as an agent's admin endpoint (test_cli_malformed_answers' `serve`); the
cache and map tables of kmeshctl.config_dump / kmeshctl.dump; the tables console."""

from __future__ import annotations

import io
import json

from rich.table import Table

from kmeshctl import config_dump
from kmeshctl.cli.tables import EMPTY, PipeFriendlyConsole, drop_empty_columns
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_cli_malformed_answers import serve  # noqa: F401
from test_cli_output_style import headers

WORKLOAD = {"uid": "Kubernetes//Pod/default/fortio-v1-0", "name": "fortio-v1-0", "addresses": ["10.244.0.3"],
            "status": "HEALTHY"}
SERVICE = {"name": "fortio", "namespace": "default", "hostname": "fortio.default.svc.cluster.local",
           "addresses": ["10.96.0.10"]}


def _answer(cache: dict) -> dict:
    return {config_dump.CACHE_PATH: (200, json.dumps(cache).encode(), "application/json")}


def test_dump_config_prints_no_title_over_an_empty_section(serve, capsys, state_root, no_env) -> None:  # noqa: F811
    port = serve(_answer({"services": [SERVICE], "workloads": [WORKLOAD], "policies": []}))
    code, out, err = cli(capsys, "dump", "config", "--admin-port", str(port))
    assert code == 0 and err == "", err
    assert "authorization policies" not in out and "NAMESPACE/NAME" not in out, out
    assert out.splitlines()[0] == "services (1)" and "workloads (1)" in out.splitlines(), out


def test_dump_config_of_an_empty_cache_is_one_note_on_stderr(serve, capsys, state_root, no_env) -> None:  # noqa: F811
    port = serve(_answer({"services": [], "workloads": [], "policies": []}))
    code, out, err = cli(capsys, "dump", "config", "--admin-port", str(port))
    assert code == 0 and out == "", out
    assert err.strip() == "No services, workloads or authorization policies.", err
    code, out, _ = cli(capsys, "dump", "config", "--admin-port", str(port), "-o", "json")
    assert code == 0 and json.loads(out)["policies"] == []  # the data keeps its empty lists


def test_dump_config_leaves_out_columns_that_are_none_in_every_row(serve, capsys, state_root,  # noqa: F811
                                                                   no_env) -> None:  # noqa: F811
    port = serve(_answer({"services": [SERVICE], "workloads": [WORKLOAD], "policies": []}))
    for output in ("table", "wide"):
        code, out, err = cli(capsys, "dump", "config", "--admin-port", str(port), "-o", output)
        assert code == 0, err
        lines = out.splitlines()
        service_headers = headers(lines[1])
        workload_headers = headers(lines[lines.index("workloads (1)") + 1])
        assert "NAMESPACE/HOSTNAME" in service_headers and "UID" in workload_headers, out
        if output == "wide":  # -o wide shows every column, those empty in every row too (t39a 6)
            assert {"PORTS", "WAYPOINT", "NODE", "SERVICES"} <= {*service_headers, *workload_headers}, out
            continue
        assert "PORTS" not in service_headers and "WAYPOINT" not in workload_headers, out
        assert "NODE" not in workload_headers and "SERVICES" not in workload_headers, out
        assert EMPTY not in out, out


def test_a_column_of_the_empty_marker_only_is_left_out_in_every_table() -> None:
    table = Table("NAME", "WAYPOINT", "NODE")
    table.add_row("h69-a", EMPTY, "node-1")
    table.add_row("h69-b", EMPTY, EMPTY)
    drop_empty_columns(table)
    assert [c.header for c in table.columns] == ["NAME", "NODE"]  # a column with one value stays
    for terminal in (True, False):
        table = Table("NAME", "PORTS")
        table.add_row("h69-c", EMPTY)
        buffer = io.StringIO()
        PipeFriendlyConsole(file=buffer, width=80, force_terminal=terminal, color_system=None).print(table)
        assert buffer.getvalue().splitlines()[0].strip() == "NAME", buffer.getvalue()
