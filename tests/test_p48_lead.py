"""Pass 48, lead: findings of tester t48a fixed by the lead.

- A checkout's wrapper (`python -c 'from kmeshctl.cli import main; ... main()'`) stopped by
  SIGTERM / SIGHUP while kmeshctl still loads ended 143 / 129 with no line: only the console
  script and `python -m kmeshctl` were the program at import time. Real parts: the real
  interpreter in a child process, real kill(2) once its handler shows in /proc/PID/status."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_signal_stop_any_moment import _env, _run_stopped

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = 'import sys; from kmeshctl.cli import main; sys.argv[0] = "kmeshctl"; sys.exit(main())'


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
@pytest.mark.parametrize("delay", [0.0, 0.05])
def test_a_checkout_wrapper_stopped_while_loading_says_the_stop_line(signum: int, delay: float,
                                                                      tmp_path: Path) -> None:
    env = {**_env(tmp_path), "PYTHONPATH": str(ROOT)}
    args = ["render", "--xds-address", "istiod.istio-system.svc:15012", "--cluster-id", "c1"]
    code, _out, err = _run_stopped(args, signum, delay, env, program=[sys.executable, "-P", "-c", WRAPPER])
    assert code == 128 + signum, (code, err)
    assert err.strip().splitlines()[-1:] == [f"Error: stopped by {signal.Signals(signum).name}"], err


def test_a_program_that_only_imports_the_cli_is_not_the_program(tmp_path: Path) -> None:
    code = "import signal, kmeshctl.cli; print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)"
    run = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                         env={**_env(tmp_path), "PYTHONPATH": str(ROOT)}, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "True", run


def test_a_checkout_wrapper_is_the_program_before_its_commands_load(tmp_path: Path) -> None:
    code = ("from kmeshctl.cli import main\nfrom kmeshctl import stopping\n"
            "print(stopping.owns_process())\nif False: main()")
    run = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                         env={**_env(tmp_path), "PYTHONPATH": str(ROOT)}, timeout=60)
    assert run.stdout.strip() == "True", run
