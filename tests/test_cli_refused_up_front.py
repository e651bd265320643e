"""Issue 14, tenth new-user pass, kind "bad input is refused before anything runs":
`sandbox exec POD` without `-- COMMAND` is one line with an example (exit 2), before any
sandbox is looked up, whether one exists or not."""

from __future__ import annotations

import pytest

from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env  # noqa: F401


@pytest.mark.parametrize("tail", [[], ["--"], ["-n", "default"], ["--name", "h45x"], ["-it"]], ids=" ".join)
def test_exec_without_a_command_is_refused_first(tail, capsys, no_env, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(state_mod, "STATE_ROOT", tmp_path / "h45-state")  # no sandbox at all
    code, out, err = cli(capsys, "sandbox", "exec", "netutils", *tail)
    assert code == 2 and not out and err.count("\n") == 1, err
    assert err.startswith("Error: COMMAND is required after `--` (kmeshctl sandbox exec POD -- COMMAND...): "
                          "e.g. `kmeshctl sandbox exec "), err
    assert "-- sh`" in err and err.rstrip().endswith("(see 'kmeshctl sandbox exec --help')"), err
    assert "no sandbox" not in err and "not found" not in err, err


def test_with_a_command_the_sandbox_is_looked_up(capsys, no_env, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(state_mod, "STATE_ROOT", tmp_path / "h45-state")
    code, _, err = cli(capsys, "sandbox", "exec", "netutils", "--", "true")
    assert code == 1 and "no sandbox is up" in err, err
