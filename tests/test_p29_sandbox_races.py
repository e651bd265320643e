"""Pass 29 (issue 14), sandbox races:
1. Two `sandbox up` of one name that both passed their checks: the record is claimed
   atomically (state.claim); the loser is refused with `being created by pid N`, makes
   nothing and removes nothing of the winner's.
2. A signal while the stop's line is said is handled once it is said (stopping.held): the
   line once, never twice, and no further line or traceback.
3. A signal once `sandbox down` removed the sandbox: its line says it was removed (inside
   down: test_sandbox_stop_windows_and_counts); and a
   `python -c` launcher of main (a checkout's wrapper script) is the program too (a signal
   after the command says its line, no traceback).
Signals are raised at the chosen point (os.kill from inside the code path), not timed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kmeshctl import sandboxes, stopping
from kmeshctl.errors import KmeshctlError
from kmeshctl.cli import sandbox as cli_sandbox
from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "run"
    monkeypatch.setattr(state_mod, "STATE_ROOT", root)
    monkeypatch.setattr(state_mod, "BPFFS_ROOT", tmp_path / "bpf")
    monkeypatch.delenv(state_mod.NAME_ENV, raising=False)
    return root


@pytest.fixture
def other_up() -> Any:
    """A live process standing in for the other `sandbox up` (its pid and start time)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def _claimed_by(name: str, pid: int) -> state_mod.SandboxState:
    state = state_mod.SandboxState(name=name, up_pid=pid, up_started=state_mod.process_start_time(pid),
                                   created_at=time.time())
    state.save()
    return state


# ------------------------------------------------------------------ 1. one `up` claims the name


def test_the_record_is_claimed_once(state_root: Path) -> None:
    first = state_mod.SandboxState(name="f29s-c", up_pid=11)
    second = state_mod.SandboxState(name="f29s-c", up_pid=22)
    assert first.claim() and not second.claim()
    assert state_mod.SandboxState.load("f29s-c").up_pid == 11
    assert sorted(p.name for p in first.dir.iterdir()) == ["state.json"]  # no temporary file left


def test_an_up_that_lost_the_name_makes_and_removes_nothing(state_root: Path, other_up: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    name = "f29s-l"
    theirs = _claimed_by(name, other_up.pid)
    (theirs.logs_dir).mkdir(parents=True)
    (theirs.logs_dir / "controlplane.log").write_text("theirs\n")
    touched: list[str] = []
    monkeypatch.setattr(sb, "_create", lambda *_a: touched.append("create"))
    monkeypatch.setattr(sb, "teardown", lambda *_a: touched.append("teardown"))
    monkeypatch.setattr(sb, "_keep_logs", lambda *_a: touched.append("keep logs"))
    plan = sb.UpPlan(name, manifests_mod.Manifests(), [], {})  # its checks passed before the other began
    with pytest.raises(KmeshctlError) as refused:
        sb.up(name, [], plan=plan)
    assert str(refused.value).startswith(f"sandbox {name} is being created by pid {other_up.pid} (not ready yet): "
                                         f"wait for that "), refused.value
    assert touched == []
    assert state_mod.SandboxState.load(name).up_pid == other_up.pid  # the winner's record, as it was
    assert (theirs.logs_dir / "controlplane.log").read_text() == "theirs\n"


def test_a_stop_in_the_claim_comes_after_it(state_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal while the record is claimed: the record is this `up`'s and it removes it
    (not left as a half-created sandbox whose `up` is gone)."""
    real_claim = state_mod.SandboxState.claim
    removed: list[str] = []

    def claim_then_signal(self: state_mod.SandboxState) -> bool:
        done = real_claim(self)
        os.kill(os.getpid(), signal.SIGINT)  # delivered before claim returns, were it not held
        return done

    monkeypatch.setattr(state_mod.SandboxState, "claim", claim_then_signal)
    monkeypatch.setattr(sb, "teardown", lambda state, _p: (removed.append(state.name), sb._remove_record(state)))
    plan = sb.UpPlan("f29s-s", manifests_mod.Manifests(), [], {})
    with stopping.sigterm_stops(), pytest.raises(KeyboardInterrupt):
        sb.up("f29s-s", [], plan=plan, keep_logs_if_interrupted=False)
    assert removed == ["f29s-s"] and state_mod.SandboxState.load("f29s-s") is None


# ------------------------------------------------------------------ 2. the line said once


class _SignalledStream:
    """stderr whose write is interrupted by a second signal as it returns (timeout's to the
    process group, a Ctrl-C pressed again)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.lines.append(text)
        os.kill(os.getpid(), signal.SIGINT)
        return len(text)

    def flush(self) -> None:
        return None


def test_a_signal_while_the_line_is_said_says_no_second_line(monkeypatch: pytest.MonkeyPatch,
                                                             capfd: pytest.CaptureFixture) -> None:
    stream = _SignalledStream()
    capfd.readouterr()
    stopped_after = False
    with stopping.sigterm_stops():
        monkeypatch.setattr(sys, "stderr", stream)
        try:
            stopping.say("stopped by Ctrl-C (SIGINT): sandbox f29s-d is half-removed")
        except KeyboardInterrupt:
            stopped_after = True
        monkeypatch.undo()
        assert stopping.said()
        stopping.say_once(stopping.Stopped(signal.SIGINT))  # the next handler up: nothing more
    assert stopped_after  # the signal still stops, once the line is said
    assert stream.lines == ["Error: stopped by Ctrl-C (SIGINT): sandbox f29s-d is half-removed\n"]
    assert capfd.readouterr().err == ""  # not written again to the descriptor


def test_a_signal_while_the_exit_line_is_said_exits_once(tmp_path: Path) -> None:
    """stop_at_once's handler: a second signal while it says the line does not say it again."""
    script = ("import os, signal, sys\nfrom kmeshctl import stopping\nstopping.own_process()\n"
              "class S:\n    def write(self, t):\n"
              "        os.write(2, t.encode()); os.kill(os.getpid(), signal.SIGINT)\n"
              "    def flush(self): pass\n"
              "with stopping.sigterm_stops():\n    pass\nstopping.stop_at_once()\nsys.stderr = S()\n"
              "os.kill(os.getpid(), signal.SIGINT)\nprint('f29s not reached')\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 130 and run.stderr == "Error: stopped by Ctrl-C (SIGINT)\n", run
    assert "f29s not reached" not in run.stdout


# ------------------------------------------------------------------ 3. once the work is done


@pytest.fixture
def removable(state_root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Sandbox f29s-r recorded; `down` removes its record (nothing else is made)."""
    name = "f29s-r"
    state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY).save()

    def down(name: str, _progress: object = None, force: bool = False) -> bool:
        sb._remove_record(state_mod.SandboxState(name=name))
        return True

    monkeypatch.setattr(sb, "down", down)
    return name


def test_a_signal_after_down_returned_says_the_sandbox_was_removed(removable: str, capsys: pytest.CaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_remove = cli_sandbox._remove

    def remove_then_signal(*args: Any) -> None:
        real_remove(*args)
        os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C as the command returns

    monkeypatch.setattr(cli_sandbox, "_remove", remove_then_signal)
    code, out, err = cli(capsys, "sandbox", "down", "--name", removable)
    assert out == f"Sandbox {removable} removed.\n"
    assert (code, err) == (130, f"Error: stopped by Ctrl-C (SIGINT): sandbox {removable} was removed\n")


def test_a_python_c_launcher_is_the_program(tmp_path: Path) -> None:
    """A checkout's wrapper, `python -c 'from kmeshctl.cli import main; sys.exit(main())'`:
    a signal once the command's code is decided says its line and exits 130, no traceback
    (it was Python's own KeyboardInterrupt: the caller's handler was back)."""
    script = ("import os, signal, sys\nfrom kmeshctl.cli import main\nimport kmeshctl.cli as cli\n"
              "decided = cli._exit_code\n"
              "def signalled(code, stop):\n    os.kill(os.getpid(), signal.SIGINT)\n    return decided(code, stop)\n"
              "cli._exit_code = signalled\nsys.argv[0] = 'kmeshctl'\nsys.exit(main())\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMESHCTL_")}
    run = subprocess.run([sys.executable, "-P", "-c", script, "version", "--client"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert run.returncode == 130, run
    assert run.stderr == "Error: stopped by Ctrl-C (SIGINT)\n", run.stderr
    assert run.stdout.startswith("Client: ")


# ------------------------------------------------------------------ 1, on a real sandbox


@pytest.mark.root
@pytest.mark.slow
def test_two_ups_past_their_checks_one_makes_it_the_other_is_refused(run_id: str) -> None:
    """The tester's case: both `up`s passed check_up (the name free) before either wrote
    its record; the one that claims second is refused, and the first one's sandbox is up."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    name = f"f29s{run_id}"[:16]
    files = manifests_mod.default_files()
    plan = sb.check_up(name, files)  # this `up`'s checks, passed before the other one began
    env = {k: v for k, v in os.environ.items() if k not in ("KMESHCTL_SANDBOX_NAME", "KUBECONFIG")}
    other = subprocess.Popen([sys.executable, "-m", "kmeshctl", "sandbox", "up", "--name", name, "-q"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while state_mod.SandboxState.load(name) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(KmeshctlError) as refused:
            sb.up(name, files, plan=plan)
        assert f"sandbox {name} is being created by pid {other.pid} (not ready yet)" in str(refused.value)
        out, err = other.communicate(timeout=180)
        assert other.returncode == 0, err
        assert state_mod.SandboxState.load(name).phase == state_mod.PHASE_READY
        assert name not in sandboxes.failed_up_names()
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
        sb.down(name)
    assert sb.leftovers(name) == []
