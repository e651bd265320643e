""""Being created by pid N" quotes the command that is running, as it was typed (tester L2:
the demo's said `kmeshctl sandbox up --sandbox t104b`, dump maps' `kmeshctl sandbox up`,
for a `sandbox up --name t104b`): the running process's own command line, else
`kmeshctl sandbox up --name NAME`.

Records in a temporary state root (test_cli_kinds.state_root); the `up` is a stand-in
process named kmeshctl that only sleeps: no root, no sandbox."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

NAME = "t114b"
TYPED = ["-q", "sandbox", "up", "--name", NAME, "--manifests", "/tmp/h114 manifests"]


def _creating(pid: int) -> None:
    state_mod.SandboxState(name=NAME, up_pid=pid, up_started=state_mod.process_start_time(pid),
                           created_at=time.time()).save()


@pytest.fixture
def stand_in_up(tmp_path: Path):
    """A process whose command line is `.../kmeshctl -q sandbox up --name t114b ...`."""
    script = tmp_path / "kmeshctl"
    script.write_text("import time\ntime.sleep(60)\n")
    process = subprocess.Popen([sys.executable, str(script), *TYPED])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


COMMANDS = [["demo", "traffic-shift", "--sandbox", NAME, "-c", "2"], ["dump", "maps"],
            ["dump", "config", "--sandbox", NAME], ["sandbox", "exec", "--name", NAME, "web", "--", "true"]]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_the_running_up_is_quoted_as_typed(args, stand_in_up, state_root, capsys, no_env) -> None:
    _creating(stand_in_up.pid)
    code, _, err = cli(capsys, *args)
    quoted = "kmeshctl -q sandbox up --name t114b --manifests '/tmp/h114 manifests'"
    assert code == 1 and f"being created by pid {stand_in_up.pid}" in err, err
    assert f"wait for that `{quoted}` to finish" in err, err


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_an_unknown_command_line_quotes_up_with_the_name(args, state_root, capsys, no_env) -> None:
    process = subprocess.Popen(["sleep", "60"])
    try:
        _creating(process.pid)
        code, _, err = cli(capsys, *args)
    finally:
        process.kill()
        process.wait()
    assert code == 1 and f"wait for that `kmeshctl sandbox up --name {NAME}` to finish" in err, err


def test_another_program_or_a_gone_pid_gives_the_fallback() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert state_mod.kmeshctl_command(process.pid, "fallback") == "fallback"
    finally:
        process.kill()
        process.wait()
    assert state_mod.kmeshctl_command(process.pid, "gone") == "gone"
