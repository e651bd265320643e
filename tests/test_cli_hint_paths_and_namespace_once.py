"""Hints quote only what works when pasted (tester on the real tier, pass 18): the
`(see '... --help')` pointer names commands, never a global flag's value (a kubeconfig
path, a context, a duration), and a namespace typed both as -n and as an argument of a
command that takes namespaces as arguments is given once in the fix."""

from __future__ import annotations

from typing import Any

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401


@pytest.mark.parametrize("flags", [["--kubeconfig", "/tmp/h-nokc"], ["--context", "tier-a"],
                                   ["--request-timeout", "10s"]])
def test_the_help_pointer_names_commands_not_global_flag_values(capsys: Any, no_env: Any, flags: list[str]) -> None:
    code, _out, err = cli(capsys, *flags, "waypoint", "--name", "x", "status")
    assert code == 2
    assert "(see 'kmeshctl waypoint status --help')" in err, err
    assert f"`kmeshctl {' '.join(flags)} waypoint status --name x`" in err, err


@pytest.mark.parametrize("args, fixed", [
    (["-n", "team-c", "enable-ns", "team-c"], "kmeshctl enable-ns team-c"),
    (["enable-ns", "-n", "team-c", "team-c"], "kmeshctl enable-ns team-c"),
    (["enable-ns", "-nteam-c", "team-c", "team-d"], "kmeshctl enable-ns team-c team-d"),
    (["-n", "team-c", "disable-ns", "team-d"], "kmeshctl disable-ns team-c team-d"),
])
def test_a_namespace_typed_twice_is_given_once_in_the_fix(capsys: Any, no_env: Any, args: list[str],
                                                          fixed: str) -> None:
    code, _out, err = cli(capsys, *args)
    assert code == 2
    assert f"give the namespaces as arguments: `{fixed}`" in err, err
