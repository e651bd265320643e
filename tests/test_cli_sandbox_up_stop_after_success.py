"""Helper h109, kind "a stop in the window after the work is done": a SIGINT/SIGTERM after
`sandbox up`'s work (sandbox.up) returned and before the CLI printed its result and
exited said `stopped by SIGTERM: sandbox NAME was not created` (a stop while the progress
display closed) or a bare `stopped by SIGTERM` (later), with the sandbox up all the same.
Now a stop in that window is honoured (exit 128 + the signal) and its one line says the
sandbox IS up and how to remove it; a stop before `up` returned still says it was not
created (what it made is removed): the CLI reads the record, not how far its code got.

Real parts: kmeshctl.cli.main in-process and, for the process's exit, the real program
(a script named kmeshctl, so it owns its signals as the console entry does) in a child;
a real kill(2) of the signal to the process at each moment. The sandbox work is replaced
by a record written READY in a temporary state root: no root, no real sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import typer

from kmeshctl import stopping
from kmeshctl.cli import sandbox as cli_sandbox
from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
NAME = "h109u"
IS_UP = f"sandbox {NAME} is up; remove it with `kmeshctl sandbox down --name {NAME}`"
HOW = {signal.SIGTERM: (143, "SIGTERM"), signal.SIGINT: (130, "Ctrl-C (SIGINT)")}


def _stop_here(signum: int) -> None:
    """A real signal to ourselves; its handler raises in the sleep."""
    os.kill(os.getpid(), signum)
    time.sleep(5)
    raise AssertionError("the signal did not stop the command")


def _up_made(name: str, *_args: object) -> state_mod.SandboxState:
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, created_at=time.time())
    state.save()
    return state


@pytest.fixture
def up_works(monkeypatch, state_root, no_env) -> None:  # noqa: F811
    monkeypatch.setattr(sandbox_mod, "check_up", lambda name, files: None)
    monkeypatch.setattr(sandbox_mod, "up", _up_made)


def _after(monkeypatch, where: str, signum: int) -> None:
    """Arrange the signal at ``where``, every moment after sandbox.up returned."""
    once: list[int] = []

    def fire() -> None:
        if not once:
            once.append(signum)
            _stop_here(signum)

    if where == "progress display closing":
        class Closing(cli_sandbox.Progress):
            def __exit__(self, *exc: object) -> None:
                super().__exit__(*exc)
                fire()
        monkeypatch.setattr(cli_sandbox, "Progress", Closing)
    elif where == "warnings":
        monkeypatch.setattr(sandbox_mod, "unenrolled_note", lambda state: fire() or "")
    elif where == "hint":
        real_hint = cli_sandbox.up_hint
        monkeypatch.setattr(cli_sandbox, "up_hint", lambda *a: (fire(), real_hint(*a))[1])
    elif where == "success printed":
        real_echo = typer.echo

        def echo(message: Any = None, *args: Any, **kwargs: Any) -> None:
            real_echo(message, *args, **kwargs)
            if str(message).startswith(f"Sandbox {NAME} is up."):
                fire()
        monkeypatch.setattr(typer, "echo", echo)
    elif where == "command returned":
        real_restore = stopping.restore

        def restore(previous: Any) -> None:  # the command's own sigterm_stops block ending
            real_restore(previous)
            if stopping.installed():  # never once pytest's own handlers are back
                fire()
        monkeypatch.setattr(stopping, "restore", restore)
    else:
        raise AssertionError(where)


MOMENTS = ["progress display closing", "warnings", "hint", "success printed", "command returned"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("where", MOMENTS)
def test_a_stop_after_up_returned_says_the_sandbox_is_up(where: str, signum: int, up_works, capsys,
                                                         monkeypatch) -> None:
    _after(monkeypatch, where, signum)
    code, out, err = cli(capsys, "sandbox", "up", "--name", NAME)
    exit_code, how = HOW[signum]
    assert code == exit_code, (code, out, err)
    stop_lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert stop_lines == [f"Error: stopped by {how}: {IS_UP}"], err
    assert "not created" not in err + out
    assert state_mod.SandboxState.load(NAME).phase == state_mod.PHASE_READY  # left, as the line says
    printed = out.strip().splitlines()
    assert printed == [] or printed[0].startswith(f"Sandbox {NAME} is up. Try: "), out  # success, or nothing


def test_under_quiet_the_stop_still_says_it(up_works, capsys, monkeypatch) -> None:
    _after(monkeypatch, "warnings", signal.SIGTERM)
    code, out, err = cli(capsys, "sandbox", "up", "--name", NAME, "-q")
    assert code == 143 and err.strip().splitlines() == [f"Error: stopped by SIGTERM: {IS_UP}"], err


def test_a_stop_before_up_returned_still_says_not_created(state_root, no_env, capsys, monkeypatch) -> None:  # noqa: F811
    def up(name: str, *_args: object) -> None:
        state = _up_made(name)
        try:
            _stop_here(signal.SIGTERM)
        except KeyboardInterrupt:  # what sandbox.up does: remove what it made
            state_mod.record_path(name).unlink()
            state_mod.state_dir(name).rmdir()  # all of it, as sandbox.up's teardown (h113)
            raise

    monkeypatch.setattr(sandbox_mod, "check_up", lambda name, files: None)
    monkeypatch.setattr(sandbox_mod, "up", up)
    code, _, err = cli(capsys, "sandbox", "up", "--name", NAME)
    assert code == 143 and err.strip().splitlines()[-1] == f"Error: stopped by SIGTERM: sandbox {NAME} was not " \
        "created", err


def test_a_success_without_a_stop_is_unchanged(up_works, capsys) -> None:
    code, out, err = cli(capsys, "sandbox", "up", "--name", NAME, "-q")
    assert code == 0 and out.startswith(f"Sandbox {NAME} is up. Try: ") and "Error" not in err, (out, err)


def test_what_a_run_leaves_is_forgotten_by_the_next_run(up_works, capsys, monkeypatch) -> None:
    """`leaves` belongs to one run: a later command's stop says only its own line."""
    assert cli(capsys, "sandbox", "up", "--name", NAME, "-q")[0] == 0
    monkeypatch.setattr(sandbox_mod, "status", lambda *a, **k: _stop_here(signal.SIGTERM))
    code, _, err = cli(capsys, "sandbox", "status", "--name", NAME)
    assert code == 143 and err.strip().splitlines()[-1] == "Error: stopped by SIGTERM", err


# ------------------------------------------------------------------ the real program, to its exit


def _program(tmp_path: Path, where: str) -> subprocess.CompletedProcess:
    """`kmeshctl sandbox up` as the program (a script named kmeshctl owns its signals), the
    work replaced, SIGTERM ``where``."""
    script = tmp_path / "h109" / "kmeshctl"
    script.parent.mkdir()
    script.write_text(
        "import atexit, os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from kmeshctl.sandbox import sandbox as sb, state as st\n"
        f"st.STATE_ROOT = Path({str(tmp_path / 'run')!r})\n"
        "sb.check_up = lambda name, files: None\n"
        "def up(name, *args):\n"
        "    state = st.SandboxState(name=name, phase=st.PHASE_READY, created_at=time.time())\n"
        "    state.save()\n"
        "    return state\n"
        "sb.up = up\n"
        "def stop(*_args):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(5)\n"
        "    return ''\n"
        + ("sb.unenrolled_note = stop\n" if where == "warnings" else "")
        + f"sys.argv = ['kmeshctl', 'sandbox', 'up', '--name', {NAME!r}]\n"
        "from kmeshctl.cli import main\n"
        + ("atexit.register(stop)\n" if where == "exit" else "")  # after the program's own: runs before it
        + "main()\n")
    env = {k: v for k, v in os.environ.items() if k not in ("KMESHCTL_SANDBOX_NAME", "KUBECONFIG")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=REPO,
                          env=env)


@pytest.mark.parametrize("where", ["warnings", "exit"])
def test_the_real_program_says_the_sandbox_is_up_when_stopped_after_up(tmp_path: Path, where: str) -> None:
    done = _program(tmp_path, where)
    assert done.returncode == 143, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("Error:")] == \
        [f"Error: stopped by SIGTERM: {IS_UP}"], done.stderr
    if where == "exit":  # the work and its report were done: the success is there, then the stop
        assert done.stdout.startswith(f"Sandbox {NAME} is up. Try: "), done.stdout
