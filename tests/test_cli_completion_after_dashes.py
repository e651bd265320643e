"""Issue 14, kind "completion after `--`": in `sandbox exec POD -- cur<TAB>` the first
word after `--` completes the host's command names and the words after it file names,
as bash completes `kubectl exec POD -- ...` (once nothing was offered). Real parts: the
completion protocol through a kmeshctl process, and a real interactive bash (and zsh,
fish when installed) in a pseudo-terminal (tests/shell_pty.py) sourcing `kmeshctl
completion SHELL`; the test_cli_value_completion fixtures (sandbox records in a
temporary state root, a wrapper kmeshctl first on PATH)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kmeshctl.cli.completion import COMMAND_LINE, FILE_LINE, NOTHING_LINE
from test_cli_value_completion import (answer, interactive, protocol, tree,  # noqa: F401 (fixtures)
                                       zsh_installed)

TOOL = "h52tool-only-here"  # a command name nothing else on the machine has


def _with_tool(tree: Path) -> None:  # noqa: F811
    tool = tree / "bin" / TOOL
    tool.write_text("#!/bin/sh\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


def test_the_protocol_answers_command_then_file(tree: Path) -> None:  # noqa: F811
    assert protocol("kmeshctl sandbox exec netutils -- ", tree) == [COMMAND_LINE]
    assert protocol("kmeshctl sandbox exec netutils -- cu", tree) == [COMMAND_LINE]
    assert protocol("kmeshctl sandbox exec -n h46-one netutils -- cat kmesh", tree) == [FILE_LINE]
    assert protocol("kmeshctl sandbox exec netutils ", tree) == [NOTHING_LINE]  # before `--`: unchanged


@pytest.mark.parametrize("shell", ["bash", pytest.param("zsh", marks=zsh_installed)])
def test_the_shell_completes_a_command_then_files(shell: str, tree: Path) -> None:  # noqa: F811
    _with_tool(tree)
    shown = interactive(shell, "kmeshctl sandbox exec netutils -- h52tool-", tree)
    assert TOOL in shown, shown
    shown = interactive(shell, "kmeshctl sandbox exec netutils -- cat kmesh-no", tree)
    assert "kmesh-notes.txt" in shown, shown
