"""A global flag refused by the root (`--context ''`, `--context` with nothing after it)
points to the help of the command that was typed, wherever the flag is on the line."""

from __future__ import annotations

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401


@pytest.mark.parametrize("args,path", [
    (["status", "--context", ""], "kmeshctl status"),
    (["--context", "", "sandbox", "list"], "kmeshctl sandbox list"),
    (["sandbox", "list", "--context"], "kmeshctl sandbox list"),
    (["-n", "foo", "status", "--kubeconfig="], "kmeshctl status"),
    (["waypoint", "status", "--context="], "kmeshctl waypoint status"),
    (["--context", ""], "kmeshctl"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_the_pointer_names_the_typed_command(args, path, capsys, no_env) -> None:
    code, out, err = cli(capsys, *args)
    assert code == 2 and not out and err.count("\n") == 1, (code, err)
    assert err.rstrip("\n").endswith(f" (see '{path} --help')"), err
