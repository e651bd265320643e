"""Helper h96, kind "a stop's bookkeeping guessed, forgotten or hidden" (review of
kmeshctl.stopping): a bug in the cleanup a stop ran was reported as the stop alone (its
exception followed through __context__); whether the process is kmeshctl was guessed from
its SIGTERM handler (a caller's main() could be ended with os._exit; a process started
with SIGTERM ignored was not its own); a nested sigterm_stops block forgot a stop; the
line could name the last signal and the code the first; the exit after the command used
CPython internals. Now: a cleanup's bug is its own traceback (before the stop's line when
a signal stopped the run), own_process sets an explicit flag, stops are read from where
the run began, line and code from the first signal, and the program's last atexit call
exits with the code main decided.

Real parts: kmeshctl.cli.main in child processes and in-process, real kill(2), a real
atexit call and a real non-daemon thread in the child's exit. No root, no cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmeshctl import stopping
from test_cli_kinds import cli, no_env  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


def _child(script: str, tmp: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMESHCTL_")}
    env.update(HOME=str(tmp), KUBECONFIG=str(tmp / "h96-no-such-config"))
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO, env=env)


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("Error:")]


# ------------------------------------------------------------------ the exit after the command

_SLOW_EXIT = '''
import atexit, os, sys, threading, time
from kmeshctl import stopping
stopping.own_process()  # what the kmeshctl program does on its first line

def slow_exit():
    os.write(2, b"h96 exiting\\n")
    time.sleep(0.5)
    os.write(2, b"h96 exit work done\\n")

def after_main():  # a non-daemon thread: Python's exit waits for it
    while stopping._exit_code is None:
        time.sleep(0.005)
    slow_exit()

if {mode!r} == "atexit":
    atexit.register(slow_exit)  # registered after own_process's call: runs before it
else:
    threading.Thread(target=after_main).start()
sys.argv = ["kmeshctl", *{args!r}]
from kmeshctl.cli import main
main()
'''


@pytest.mark.parametrize("mode", ["atexit", "thread"])
def test_a_sigterm_in_pythons_own_exit_is_one_line_and_143(mode: str, tmp_path: Path) -> None:
    process = _child(_SLOW_EXIT.format(mode=mode, args=["version", "--client"]), tmp_path)
    assert process.stderr is not None
    first = process.stderr.readline()
    assert first == "h96 exiting\n", first  # main has returned, its code stored
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, (out, err)
    assert _errors(err) == ["Error: stopped by SIGTERM"] and "h96 exit work done" not in err, err
    assert "Traceback" not in err and out.startswith("Client: "), (out, err)


def test_without_a_signal_the_exit_waits_and_keeps_mains_code(tmp_path: Path) -> None:
    process = _child(_SLOW_EXIT.format(mode="atexit", args=["version", "--h96-no-such-flag"]), tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2, (out, err)  # the usage error's code, after the other atexit call ran
    assert "h96 exit work done" in err and len(_errors(err)) == 1, err


def test_main_in_a_process_that_is_not_kmeshctl_raises_system_exit(tmp_path: Path) -> None:
    """An install() nobody undid (a test, a library user) does not make the caller's
    process kmeshctl's: main raises SystemExit and the caller goes on."""
    script = ("import sys\nfrom kmeshctl import stopping\nstopping.install()\n"
              "from kmeshctl.cli import main\nsys.argv = ['kmeshctl', 'version', '--client']\n"
              "try:\n    main()\nexcept SystemExit as done:\n    print('h96 SystemExit', done.code)\n"
              "print('h96 the caller goes on')\n")
    process = _child(script, tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and out.splitlines()[-2:] == ["h96 SystemExit 0", "h96 the caller goes on"], \
        (out, err)


def test_a_process_started_with_sigterm_ignored_is_still_kmeshctls(tmp_path: Path) -> None:
    """nohup-style: SIGTERM stays ignored, and the process is the program all the same."""
    script = ("import atexit, signal, sys\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "from kmeshctl import stopping\nstopping.own_process()\n"
              "assert stopping.owns_process() and signal.getsignal(signal.SIGTERM) is signal.SIG_IGN\n"
              "atexit.register(lambda: print('h96 stored', stopping._exit_code, flush=True))\n"
              "sys.argv = ['kmeshctl', 'version', '--h96-no-such-flag']\n"
              "from kmeshctl.cli import main\nmain()\n")
    process = _child(script, tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and out.splitlines() == ["h96 stored 2"], (out, err)


def test_a_test_process_stores_no_exit_code() -> None:
    assert not stopping.owns_process()
    stopping.exiting(3)
    assert stopping._exit_code is None


# ------------------------------------------------------------------ a bug in a stop's cleanup


def _cleanup_with_a_bug(signum: int | None):
    def version_report(*_args: object, **_kwargs: object) -> None:
        try:
            if signum is None:
                raise KeyboardInterrupt
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler raises here
        finally:
            {}["h96-cleanup-bug"]  # noqa: B018 (the bug in the cleanup the stop runs)
    return version_report


def test_a_bug_in_a_stops_cleanup_is_its_own_error(capsys, monkeypatch, no_env) -> None:  # noqa: F811
    from kmeshctl import versions

    monkeypatch.setattr(versions, "version_report", _cleanup_with_a_bug(None))
    with pytest.raises(KeyError, match="h96-cleanup-bug"):
        cli(capsys, "version", "--client")
    assert "stopped by" not in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_bug_in_the_cleanup_of_a_signal_is_shown_before_the_stop(signum: int, capsys, monkeypatch,
                                                                    no_env) -> None:  # noqa: F811
    from kmeshctl import versions

    monkeypatch.setattr(versions, "version_report", _cleanup_with_a_bug(signum))
    code, _out, err = cli(capsys, "version", "--client")
    assert code == 128 + signum, err
    assert "KeyError: 'h96-cleanup-bug'" in err and _errors(err) == [stopping.Stopped(signum).line], err
    assert err.splitlines()[-1] == stopping.Stopped(signum).line, err


# ------------------------------------------------------------------ what a run remembers


def _swallowed(signum: int) -> None:
    try:
        os.kill(os.getpid(), signum)
        time.sleep(5)
    except KeyboardInterrupt:
        pass  # where a __del__ or a lock release loses it


def test_a_nested_block_forgets_no_stop() -> None:
    with stopping.sigterm_stops():
        _swallowed(signal.SIGTERM)
        with stopping.sigterm_stops():  # a helper guarding its own step
            with pytest.raises(stopping.Stopped, match="SIGTERM"):
                stopping.check_not_stopped()
        with pytest.raises(stopping.Stopped, match="SIGTERM"):
            stopping.check_not_stopped()
    with stopping.sigterm_stops():  # the next run starts clean
        stopping.check_not_stopped()


def test_the_line_and_the_code_are_the_first_signals(capsys, monkeypatch, no_env) -> None:  # noqa: F811
    from kmeshctl import versions

    def version_report(*_args: object, **_kwargs: object) -> None:
        _swallowed(signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)

    with stopping.sigterm_stops():
        _swallowed(signal.SIGTERM)
        _swallowed(signal.SIGINT)
        assert stopping.received().signum == signal.SIGTERM
    monkeypatch.setattr(versions, "version_report", version_report)
    code, _out, err = cli(capsys, "version", "--client")
    assert code == 143 and _errors(err) == ["Error: stopped by SIGTERM"], (code, err)


def test_a_passed_on_signal_is_no_stop_of_the_run() -> None:
    with stopping.sigterm_stops():
        _swallowed(signal.SIGTERM)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt as err:
            assert stopping.pass_on(err) == signal.SIGINT
        assert stopping.received().signum == signal.SIGTERM  # the earlier stop is kept


# ------------------------------------------------------------------ what install puts back


def test_the_unraisablehook_is_put_back() -> None:
    before = sys.unraisablehook
    with stopping.sigterm_stops():
        assert sys.unraisablehook is not before
        with stopping.sigterm_stops():
            pass
        assert getattr(sys.unraisablehook, "stops_silenced", False)
    assert sys.unraisablehook is before


def test_a_handler_set_from_c_is_left_in_place(monkeypatch) -> None:
    """getsignal() is None: a handler Python cannot name, so could not put back."""
    set_to: list[int] = []
    real = stopping._signal.getsignal
    monkeypatch.setattr(stopping, "_signal", type(sys)("h96_signal"))
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIG_DFL", "SIG_IGN", "default_int_handler"):
        setattr(stopping._signal, name, getattr(signal, name))
    stopping._signal.getsignal = lambda sig: None if sig == signal.SIGHUP else real(sig)
    stopping._signal.signal = lambda sig, _handler: set_to.append(sig)
    previous = stopping.install()
    stopping.restore(previous)
    assert signal.SIGHUP not in set_to and signal.SIGTERM in set_to
