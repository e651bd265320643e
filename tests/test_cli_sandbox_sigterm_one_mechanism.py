"""Issue 14 (helper h69), kind "a third copy of one mechanism": the sandbox commands had
their own SIGTERM exception and handler (sandbox.Terminated, installed by the `sandbox`
group) beside kmeshctl.stopping, which the demo and uninstall use. Now every sandbox
command stops through kmeshctl.stopping; the behaviour is the same: SIGTERM runs the
cleanup Ctrl-C runs, says `stopped by SIGTERM` and exits 143; Ctrl-C exits 130.

Real parts: kmeshctl.cli.main in-process and as the real console entry in a child
process, a real kill(2) of SIGTERM / SIGINT to the process at a known step (the sandbox
work itself replaced: no root, no real sandbox; records in a temporary state root)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


def _signalled(signum: int):
    def step(*_args: object, **_kwargs: object) -> None:
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler raises here
        raise AssertionError("the signal did not stop the command")
    return step


def _record(name: str) -> None:
    state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                           created_at=time.time()).save()


def test_there_is_one_sigterm_mechanism() -> None:
    source = "\n".join(p.read_text() for p in (REPO / "kmeshctl").rglob("*.py"))
    for gone in ("class Terminated", "terminate_on_sigterm", "sigterm_terminates", "interrupt_status"):
        assert gone not in source, gone
    for path in ("kmeshctl/cli/sandbox.py", "kmeshctl/sandbox/sandbox.py"):
        assert not re.search(r"signal\.signal\(\s*signal\.SIGTERM", (REPO / path).read_text()), path
    assert "from kmeshctl.stopping import" in (REPO / "kmeshctl/cli/sandbox.py").read_text()


@pytest.mark.parametrize("signum,code,how", [(signal.SIGTERM, 143, "stopped by SIGTERM"),
                                             (signal.SIGINT, 130, "stopped by Ctrl-C (SIGINT)")])
def test_a_stopped_down_names_the_half_removed_sandbox(signum, code, how, state_root, capsys, no_env,  # noqa: F811
                                                       monkeypatch) -> None:
    _record("h69d")
    signalled = _signalled(signum)

    def down(*args: object, **kwargs: object) -> None:  # stopped once it began removing (f38d: else nothing was)
        state = state_mod.SandboxState.load("h69d")
        state.phase = state_mod.PHASE_REMOVING
        state.save()
        signalled()

    monkeypatch.setattr(sandbox_mod, "down", down)
    got, out, err = cli(capsys, "sandbox", "down", "--name", "h69d")
    assert got == code, err
    assert err.strip().splitlines()[-1] == (f"Error: {how}: sandbox h69d is half-removed; run `kmeshctl sandbox "
                                            "down --name h69d` to finish"), err
    handler = signal.getsignal(signal.SIGTERM)
    assert getattr(handler, "__qualname__", "") != "sigterm_stops.<locals>.stop", handler  # the CLI's is back


def test_a_stopped_up_removes_what_it_made_and_exits_143(state_root, capsys, no_env, monkeypatch) -> None:  # noqa: F811
    cleaned: list[str] = []

    def up(name: str, *_args: object) -> None:
        try:
            _signalled(signal.SIGTERM)()
        except KeyboardInterrupt:  # the Ctrl-C cleanup of sandbox.up runs for SIGTERM too
            cleaned.append(name)
            raise

    monkeypatch.setattr(sandbox_mod, "require_root", lambda: None)
    monkeypatch.setattr(sandbox_mod, "check_up", lambda name, files: None)
    monkeypatch.setattr(sandbox_mod, "up", up)
    got, _, err = cli(capsys, "sandbox", "up", "--name", "h69u", "-q")
    assert got == 143 and cleaned == ["h69u"], err
    assert err.strip().splitlines()[-1] == "Error: stopped by SIGTERM: sandbox h69u was not created", err


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_the_real_command_exits_128_plus_the_signal(signum: int, code: int, tmp_path: Path) -> None:
    """`sandbox status` of a record, its work replaced by a kill(2) of ourselves: the real
    console entry, in a child process, as a shell or CI runner sees it."""
    script = ("import os, signal, sys, time\n"
              "from kmeshctl.sandbox import sandbox as sb\n"
              "sb.require_root = lambda: None\n"
              f"sb.status = lambda name: (os.kill(os.getpid(), {int(signum)}), time.sleep(5))\n"
              "from kmeshctl.sandbox import state as st\n"
              f"st.STATE_ROOT = __import__('pathlib').Path({str(tmp_path)!r})\n"
              "st.SandboxState(name='h69s', phase=st.PHASE_READY, created_at=time.time()).save()\n"
              "sys.argv = ['kmeshctl', 'sandbox', 'status', '--name', 'h69s']\n"
              "from kmeshctl.cli import main\nmain()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    if signum == signal.SIGTERM:
        assert done.stderr.strip().splitlines()[-1] == "Error: stopped by SIGTERM", done.stderr
