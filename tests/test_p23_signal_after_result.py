"""Helper d24, finding "a signal right after the result ends the command silently": a
Ctrl-C, SIGTERM or SIGHUP sent once a command had printed its result ended it with
128+N and no `Error:` line when the program was a console script under another name
than `kmeshctl` (a copy, a wrapper such as kmeshctl-dev): main put Python's own handlers
back once the command returned, and a signal in Python's exit (100s of ms on a loaded
machine) was the default action. Now any script that imports kmeshctl.cli.main to run
it is the kmeshctl program: a signal after the result is either too late (exit 0, the
work done and reported) or says one `Error: stopped by ...` line with 128+N.

Real parts: the real console script (as pip writes it) in child processes, as
`kmeshctl`, as a copy under another name and as `python -m kmeshctl`; real kill(2) at
delays swept across the end of the output. No root, no cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = (f"#!{sys.executable}\nimport sys\nfrom kmeshctl.cli import main\nif __name__ == '__main__':\n"
          "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n    sys.exit(main())\n")
DELAYS_MS = [0, 0.5, 1, 1.5, 2, 3, 4, 6, 9, 14]
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMESHCTL_")}
    env.update(HOME=str(tmp), KUBECONFIG=str(tmp / "d24-no-such-config"), PYTHONPATH=str(REPO))
    return env


def _launcher(kind: str, tmp: Path) -> list[str]:
    if kind == "module":
        return [sys.executable, "-m", "kmeshctl"]
    script = tmp / ("kmeshctl" if kind == "kmeshctl" else "d24-kmeshctl-dev")
    script.write_text(SCRIPT)
    script.chmod(0o755)
    return [str(script)]


def _stopped_after_result(command: list[str], signum: int, delay_ms: float, tmp: Path) -> tuple[int, str, str]:
    out_path, err_path = tmp / "d24-out", tmp / "d24-err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen([*command, "version", "--client"], stdout=out, stderr=err, cwd=tmp,
                                   env=_env(tmp))
        deadline = time.monotonic() + 60
        while out_path.stat().st_size == 0 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0002)
        time.sleep(delay_ms / 1000)
        process.send_signal(signum)  # a zombie takes it too: then the run was over, exit 0
        process.wait(timeout=60)
    return process.returncode, out_path.read_text(), err_path.read_text()


@pytest.mark.parametrize("kind", ["renamed", "kmeshctl", "module"])
def test_a_signal_after_the_result_is_exit_0_or_one_line_and_128_plus_n(kind: str, tmp_path: Path) -> None:
    command = _launcher(kind, tmp_path)
    silent: list[tuple[str, float, int]] = []
    for signum in SIGNALS:
        for delay_ms in DELAYS_MS:
            code, out, err = _stopped_after_result(command, signum, delay_ms, tmp_path)
            assert out.startswith("Client: "), (kind, out, err)  # the result was printed
            errors = [line for line in err.splitlines() if line.startswith("Error:")]
            if code == 0:
                assert not errors, (kind, err)
                continue
            if code != 128 + signum or len(errors) != 1 or "Traceback" in err:
                silent.append((signal.Signals(signum).name, delay_ms, code))
                continue
            assert errors[0].startswith("Error: stopped by "), (kind, err)
    assert not silent, f"{kind}: exit without its one line (signal, ms after the result, code): {silent}"
