"""Fixer G2, finding 7 of tester 124, on a real sandbox (root): fortio-v2-0's server
killed while the demo runs. The FAIL line names it, as the pre-run check words it, and
`kmeshctl sandbox status --name NAME`; the identical failures past 20 are counted on one
line instead of one line each (the tester saw 232)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from kmeshctl.sandbox.state import SandboxState

pytestmark = pytest.mark.root


def _kmeshctl(*args: str, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kmeshctl", *args], capture_output=True, text=True, **popen)


@pytest.fixture
def sandbox(run_id: str) -> Iterator[str]:
    name = f"g2r{run_id}"
    env = {k: v for k, v in os.environ.items() if k != "KMESHCTL_SANDBOX_NAME"}
    try:
        made = _kmeshctl("sandbox", "up", "--name", name, "-q", env=env)
        assert made.returncode == 0, made.stderr
        yield name
    finally:
        _kmeshctl("sandbox", "down", "--name", name, "--ignore-not-found", env=env)


def _server_pid(name: str) -> int:
    state = SandboxState.load(name)
    assert state is not None
    return next(r.pid for r in state.processes if r.pod == "fortio-v2-0" and r.role == "container")


def _wait_for(err: Path, text: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in err.read_text():
        assert process.poll() is None and time.monotonic() < deadline, err.read_text()
        time.sleep(0.05)


def test_a_server_killed_mid_run_is_the_reason_and_its_failures_are_counted(sandbox: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KMESHCTL_SANDBOX_NAME"}
    err = tmp_path / "demo.err"
    with open(err, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "kmeshctl", "demo", "traffic-shift", "--sandbox", sandbox,
                                    "-c", "300", "--weights", "50/50"], stdout=subprocess.PIPE, stderr=stderr,
                                   text=True, env=env)
        _wait_for(err, "[ 20/300]", process)
        os.kill(_server_pid(sandbox), signal.SIGTERM)
        out, _ = process.communicate(timeout=120)
    lines = err.read_text().splitlines()
    fail = out.strip().splitlines()[-1]
    assert process.returncode == 1 and fail.startswith(f"FAIL: target local {sandbox}, "), out
    assert "; likeliest reason: pod fortio-v2-0" in fail and "was killed by SIGTERM" in fail, fail
    assert fail.endswith(f"; see `kmeshctl sandbox status --name {sandbox}`"), fail
    failed = [line for line in lines if "FAILED" in line]
    assert 0 < len(failed) <= 20, lines
    summary = [line for line in lines if "more failed requests of this phase not shown" in line]
    assert len(summary) == 1 and "x HTTP 503" in summary[0], lines
