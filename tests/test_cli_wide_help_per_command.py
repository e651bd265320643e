"""Issue 14 (helper h69), kind "help that does not fit the command": -o's help named
example detail columns (ids, cookies, node, image) that `sandbox list -o wide` does not
have. Each command whose -o wide adds columns names its own; one without says so.

Real parts: kmeshctl.cli.main in-process (`COMMAND --help`), and each command's real
-o wide table (sandbox list from records in a temporary state root, as test_cli_kinds)."""

from __future__ import annotations

import re
import time

import pytest

from kmeshctl import config_dump, dump
from kmeshctl.cli.common import output_help
from kmeshctl.cli.sandbox import WIDE_LIST_COLUMNS, WIDE_POD_COLUMNS
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_cli_output_style import headers


def _wide_help(capsys, *command: str) -> str:
    code, out, err = cli(capsys, *command, "--help")
    assert code == 0, err
    text = " ".join(out.split())
    found = re.search(r"Output format: table, wide \((.*?); never cut\)", text)
    assert found, text
    return found.group(1)


@pytest.mark.parametrize("command,columns", [
    (("sandbox", "list"), WIDE_LIST_COLUMNS),
    (("sandbox", "status"), WIDE_POD_COLUMNS),
    (("dump", "maps"), dump.WIDE_COLUMNS),
    (("dump", "config"), (*config_dump.SERVICE_DETAIL, *config_dump.WORKLOAD_DETAIL)),
])
def test_each_commands_wide_help_names_its_own_columns(command, columns, capsys) -> None:
    adds = _wide_help(capsys, *command)
    for header in columns:
        assert header in adds, (command, header, adds)
    for other in ("ids, cookies", "IMAGE", "image"):
        assert other not in adds, (command, other, adds)


def test_sandbox_list_help_names_exactly_what_wide_adds(capsys, state_root, no_env, monkeypatch,  # noqa: F811
                                                        tmp_path) -> None:
    from kmeshctl import sandboxes

    monkeypatch.setattr(sandboxes, "bpffs_if_there", lambda _path: str(tmp_path))  # as if its maps were pinned
    state_mod.SandboxState(name="h69w", phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                           created_at=time.time()).save()
    tables = {}
    for output in ("table", "wide"):
        code, out, err = cli(capsys, "sandbox", "list", "-o", output)
        assert code == 0, err
        tables[output] = headers(out.splitlines()[0])
    added = [h for h in tables["wide"] if h not in tables["table"]]
    assert added == list(WIDE_LIST_COLUMNS), tables
    assert _wide_help(capsys, "sandbox", "list") == "the table plus the AGENT ADMIN and BPFFS columns, and its columns empty in every row too"


def test_a_command_without_detail_columns_says_so(capsys) -> None:
    assert _wide_help(capsys, "node", "preflight") == "the same table, its columns empty in every row too: it has no detail columns"
    assert output_help(("A",)) == "Output format: table, wide (the table plus the A column, and its columns empty in every row too; never cut), json or yaml."
