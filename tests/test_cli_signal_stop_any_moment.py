"""Helper h89, kind "a signal's exit code and line depend on the moment it comes": SIGTERM
gave 130 in a window of kmeshctl's start (its handler raised a bare KeyboardInterrupt,
which typer turns into 130) and 143 elsewhere; Ctrl-C while the commands loaded printed
click's `Aborted.`; before the handler was installed SIGTERM killed it without a word.
Now, whatever the command and the moment (loading, click's parsing, the command, its
exit): SIGTERM is exit 143 with one `Error: stopped by SIGTERM` line, Ctrl-C 130 with
one `Error: stopped by Ctrl-C (SIGINT)` line, never `Aborted.`.

Real parts: the real console script in child processes (its signal handler seen in
/proc/PID/status before the delay starts: Python's own start, before any kmeshctl code,
is not kmeshctl's to answer), real kill(2); a real TCP listener on loopback that never
answers (a command waiting on the API server); kmeshctl.cli.main in-process for the
cases a child cannot time (a stop swallowed where it was raised). No root, no cluster."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import pytest

from kmeshctl import stopping
from test_cli_kinds import cli, no_env  # noqa: F401

KMESHCTL = str(Path(sys.executable).with_name("kmeshctl"))
LINES = {signal.SIGTERM: "Error: stopped by SIGTERM", signal.SIGINT: "Error: stopped by Ctrl-C (SIGINT)"}


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMESHCTL_")}
    return {**env, "KUBECONFIG": str(tmp / "h89-no-such-config"), "HOME": str(tmp), "COLUMNS": "120"}


def _handler_installed(pid: int) -> bool:
    """kmeshctl catches SIGTERM: its own code runs (Python alone never catches it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # gone: finished
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def _run_stopped(args: list[str], signum: int, delay: float, env: dict[str, str],
                 program: Sequence[str] = ()) -> tuple[int, str, str]:
    """kmeshctl ARGS (or ``program`` ARGS: another launcher) signalled ``delay`` s after its handler shows."""
    process = subprocess.Popen([*(program or [KMESHCTL]), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    deadline = time.monotonic() + 20
    while not _handler_installed(process.pid) and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def _check_stopped(signum: int, code: int, err: str, what: str) -> None:
    assert "Aborted" not in err and "Traceback" not in err, (what, err)
    lines = err.strip().splitlines()
    assert code == 128 + signum and lines[-1:] == [LINES[signum]], (what, code, err)
    assert sum("stopped by" in line for line in lines) == 1, (what, err)


QUICK = [["version", "--client"], ["sandbox", "list"], ["help"]]
DELAYS = [0.0, 0.05, 0.2, 0.5]  # after the handler is installed: loading, click's parsing, the command


def test_a_signal_at_any_moment_of_a_quick_command_is_one_line_and_its_own_code(tmp_path: Path) -> None:
    env = _env(tmp_path)
    finished = {tuple(args): subprocess.run([KMESHCTL, *args], capture_output=True, text=True, env=env)
                for args in QUICK}
    cases = [(args, signum, delay) for args in QUICK for signum in LINES for delay in DELAYS]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda case: _run_stopped(case[0], case[1], case[2], env), cases))
    stopped = 0
    for (args, signum, delay), (code, out, err) in zip(cases, results):
        what = f"{' '.join(args)} {signal.Signals(signum).name} {delay}"
        done = finished[tuple(args)]
        # finished before the signal (`sandbox list`'s output may differ: sandboxes of another run here)
        if code == done.returncode and "stopped by" not in err and (err, out) == (done.stderr, done.stdout) or \
                code == done.returncode == 0 and not err.strip().startswith("Error:"):
            assert delay > 0, f"{what}: a signal sent as the handler is installed did not stop it"
            continue  # it had finished before the signal
        stopped += 1
        _check_stopped(signum, code, err, what)
    assert stopped >= len(QUICK) * len(LINES)


@pytest.fixture
def silent_api_server():
    """A loopback listener that accepts and never answers: a command waits on it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_while_a_command_waits_is_one_line_and_its_own_code(signum: int, silent_api_server: int,
                                                                    tmp_path: Path) -> None:
    config = tmp_path / "h89-kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: h89\n"
        f"clusters: [{{name: h89, cluster: {{server: 'https://127.0.0.1:{silent_api_server}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: h89, user: {token: x}}]\ncontexts: [{name: h89, context: {cluster: h89, user: h89}}]\n")
    started = time.monotonic()
    code, _out, err = _run_stopped(["--kubeconfig", str(config), "--request-timeout", "20s", "version"], signum,
                                   1.5, _env(tmp_path))
    assert time.monotonic() - started < 15, err  # stopped, not timed out
    _check_stopped(signum, code, err, "version waiting on the API server")


# ------------------------------------------------------------------ in-process: the one mechanism


def _signalled_report(signum: int, swallow: bool):
    def version_report(*_args: object, **_kwargs: object) -> None:
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler raises here
        except BaseException:  # noqa: BLE001 - where a __del__ or a lock release loses it
            if not swallow:
                raise
        raise AssertionError("not stopped") if not swallow else SystemExit(0)
    return version_report


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("swallow", [False, True], ids=["raised", "swallowed"])
def test_a_command_that_does_not_handle_its_stop_exits_by_the_signal(signum: int, swallow: bool, capsys,
                                                                     monkeypatch, no_env) -> None:  # noqa: F811
    from kmeshctl import versions

    before = {sig: signal.getsignal(sig) for sig in stopping.STOP_SIGNALS}
    monkeypatch.setattr(versions, "version_report", _signalled_report(signum, swallow))
    code, _out, err = cli(capsys, "version", "--client")
    assert code == 128 + signum and err.strip().splitlines() == [LINES[signum]], (code, err)
    assert {sig: signal.getsignal(sig) for sig in stopping.STOP_SIGNALS} == before  # the caller's, back


def test_a_plain_keyboard_interrupt_is_ctrl_c(capsys, monkeypatch, no_env) -> None:  # noqa: F811
    from kmeshctl import versions

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(versions, "version_report", interrupted)
    code, _out, err = cli(capsys, "version", "--client")
    assert code == 130 and err.strip().splitlines() == [LINES[signal.SIGINT]], (code, err)


def test_a_command_that_says_its_stop_is_not_said_twice(capsys) -> None:
    """A command's own line (stopping.say) is the run's stop line: no second one after it,
    whatever its wording; an error line that is not said with say is no stop line."""
    with stopping.sigterm_stops():
        print("Error: the pod stopped answering", file=sys.stderr)
        assert not stopping.said()
        stopping.say("waypoint apply stopped by SIGTERM: applied Gateway x")
        stopping.say_once(stopping.Stopped(signal.SIGTERM))
        assert stopping.said()
    assert capsys.readouterr().err.splitlines() == [
        "Error: the pod stopped answering", "Error: waypoint apply stopped by SIGTERM: applied Gateway x"]
    with stopping.sigterm_stops():  # the next run says its own
        assert not stopping.said()
