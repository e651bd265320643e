"""Helper h79, kind "a signal handled wrongly": `sandbox exec` passed every stop on as
SIGINT (SIGTERM to kmeshctl reached the command as SIGINT, exit 130); a SIGTERM whose
exception was swallowed where it was raised (logging's lock release) let `sandbox up`
report success though `sandbox down` had removed the sandbox; Ctrl-C and SIGTERM ended
a sandbox command with different wordings (Ctrl-C's none at all under -q).

Real parts: real kill(2) of signals to the test process (or a child Python), a real
`sh` with traps as the command, kmeshctl.stopping's real handlers, kmeshctl.cli.main
in-process; the sandbox's own work is replaced (no root, no real sandbox)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kmeshctl import stopping
from kmeshctl.sandbox import sandbox as sandbox_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
TRAPS = 'for s in INT TERM HUP; do trap "echo got $s >$0; exit 9" $s; done; sleep 100 & wait'


def _exec_with_signal(tmp_path: Path, signum: int, script: str) -> tuple[int, str]:
    """_wait_forwarding of a real `sh -c script`, kmeshctl getting ``signum`` meanwhile."""
    seen = tmp_path / "seen"
    process = subprocess.Popen(["sh", "-c", script, str(seen)])
    time.sleep(0.3)  # the traps are set
    threading.Timer(0.2, os.kill, (os.getpid(), signum)).start()
    with stopping.sigterm_stops():
        code = sandbox_mod._wait_forwarding(process)
    return sandbox_mod.shell_status(code), seen.read_text().strip() if seen.exists() else ""


@pytest.mark.parametrize("signum,name", [(signal.SIGTERM, "TERM"), (signal.SIGINT, "INT"), (signal.SIGHUP, "HUP")])
def test_exec_passes_the_signal_on_as_it_came_and_returns_the_commands_code(tmp_path: Path, signum: int,
                                                                          name: str) -> None:
    assert _exec_with_signal(tmp_path, signum, TRAPS) == (9, f"got {name}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_exec_of_a_command_the_signal_kills_returns_128_plus_n(tmp_path: Path, signum: int) -> None:
    assert _exec_with_signal(tmp_path, signum, "exec sleep 100") == (128 + signum, "")


def _swallowing(signum: int):
    """A step of `up` during which the signal's exception is raised where it is swallowed,
    as in logging's _releaseLock ("Exception ignored in ...")."""
    def create(*_args: object, **_kwargs: object) -> None:
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)
        except BaseException:  # noqa: BLE001 - what a __del__ or a lock release does
            pass
    return create


def _plan(name: str) -> sandbox_mod.UpPlan:
    """A checked plan of nothing: `up`'s own work (_create, teardown) is replaced."""
    class Manifests:
        documents: list = []
    return sandbox_mod.UpPlan(name, Manifests(), [], {})  # type: ignore[arg-type]


def test_a_swallowed_sigterm_still_stops_up_before_it_reports_success(state_root, monkeypatch) -> None:  # noqa: F811
    torn: list[str] = []
    monkeypatch.setattr(sandbox_mod, "_create", _swallowing(signal.SIGTERM))
    monkeypatch.setattr(sandbox_mod, "teardown", lambda state, _p: torn.append(state.name))
    monkeypatch.setattr(sandbox_mod.yaml, "safe_dump_all", lambda *_a, **_k: "")
    with stopping.sigterm_stops(), pytest.raises(stopping.Stopped) as stopped:
        sandbox_mod.up("h79s", [], plan=_plan("h79s"))
    assert stopped.value.exit_code == 143 and torn == ["h79s"]


def test_up_of_a_sandbox_removed_meanwhile_is_not_reported_up(state_root, monkeypatch) -> None:  # noqa: F811
    """`sandbox down` removed the record while `up` created it, its SIGTERM lost: up fails."""
    monkeypatch.setattr(sandbox_mod, "_create", lambda state, *_a: shutil.rmtree(state.dir))
    monkeypatch.setattr(sandbox_mod, "teardown", lambda *_a: None)
    monkeypatch.setattr(sandbox_mod.yaml, "safe_dump_all", lambda *_a, **_k: "")
    with pytest.raises(KeyboardInterrupt):
        sandbox_mod.up("h79r", [], plan=_plan("h79r"))


@pytest.mark.parametrize("signum,how,code", [(signal.SIGTERM, "SIGTERM", 143),
                                             (signal.SIGINT, "Ctrl-C (SIGINT)", 130)])
def test_up_says_one_error_line_for_either_signal_even_under_q(signum: int, how: str, code: int, state_root,  # noqa: F811
                                                               capsys, no_env, monkeypatch) -> None:  # noqa: F811
    def up(name: str, *_args: object) -> None:
        os.kill(os.getpid(), signum)
        time.sleep(5)

    monkeypatch.setattr(sandbox_mod, "require_root", lambda: None)
    monkeypatch.setattr(sandbox_mod, "check_up", lambda name, files: None)
    monkeypatch.setattr(sandbox_mod, "up", up)
    got, _, err = cli(capsys, "sandbox", "up", "--name", "h79u", "-q")
    assert got == code, err
    assert err.strip().splitlines() == [f"Error: stopped by {how}: sandbox h79u was not created"], err


@pytest.mark.parametrize("signum,code,how", [(signal.SIGTERM, 143, "SIGTERM"),
                                             (signal.SIGINT, 130, "Ctrl-C (SIGINT)")])
def test_a_waiting_status_stopped_says_so_in_one_line(signum: int, code: int, how: str, tmp_path: Path) -> None:
    """The real console entry in a child process; `status` waiting (an agent that does not
    answer) is a sleep here."""
    script = ("import os, signal, sys, time, threading\n"
              "from kmeshctl.sandbox import sandbox as sb\n"
              "sb.require_root = lambda: None\n"
              f"sb.status = lambda name: (threading.Timer(0.3, os.kill, (os.getpid(), {int(signum)})).start(), "
              "time.sleep(10))\n"
              "from kmeshctl.sandbox import state as st\n"
              f"st.STATE_ROOT = __import__('pathlib').Path({str(tmp_path)!r})\n"
              "st.SandboxState(name='h79st', phase=st.PHASE_READY, created_at=time.time()).save()\n"
              "sys.argv = ['kmeshctl', 'sandbox', 'status', '--name', 'h79st']\n"
              "from kmeshctl.cli import main\nmain()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == code, (done.returncode, done.stderr)
    assert done.stderr.strip().splitlines() == [f"Error: stopped by {how}"], done.stderr
