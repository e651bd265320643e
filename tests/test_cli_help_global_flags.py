"""Issue 14, tenth new-user pass, kind "a command's help names the global flags": as
kubectl's "Use 'kubectl options' for a list of global command-line options", every
command's own --help ends with the global flags it takes too, and where they are told."""

from __future__ import annotations

import pytest

from kmeshctl.cli.cmdline import GLOBAL_FLAGS
from test_cli_kinds import cli, commands, no_env  # noqa: F401

SUBCOMMANDS = [(words, c) for words, c in commands() if words]


@pytest.mark.parametrize("words", [w for w, _ in SUBCOMMANDS], ids=" ".join)
def test_every_commands_help_names_the_global_flags(words, capsys, monkeypatch, no_env) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = cli(capsys, *words, "--help")
    assert code == 0
    tail = " ".join(out.split("Global flags:", 1)[-1].split())
    assert "Global flags:" in out, out
    for flag in GLOBAL_FLAGS:
        assert flag in tail, (flag, tail)
    assert "(see 'kmeshctl --help')" in tail, tail
