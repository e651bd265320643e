"""h113 H3, on a real sandbox: `sandbox up` stopped by SIGTERM and again 50 ms later
(a CI timeout and a supervisor, two Ctrl-C) removes everything it made before it exits:
exit 143, the line `was not created`, which is then true (no record, netns, cgroup or
pinned objects left), and a new `up` of the name is not refused as half-created."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmeshctl import sandboxes
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.state import failed_up_logs

pytestmark = pytest.mark.root

KMESHCTL = [sys.executable, "-m", "kmeshctl"]
ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("KMESHCTL_SANDBOX_NAME", "KUBECONFIG")}


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT], ids=["TERM-TERM", "TERM-INT"])
def test_up_stopped_twice_50ms_apart_leaves_nothing_and_says_so(second: int, run_id: str, tmp_path: Path) -> None:
    name = f"h113{run_id}"[:16]
    err = tmp_path / "up.err"
    try:
        with open(err, "w") as out:
            process = subprocess.Popen([*KMESHCTL, "sandbox", "up", "--name", name], stdout=subprocess.DEVNULL,
                                       stderr=out, env=_env(), cwd=ROOT)
        deadline = time.monotonic() + 60
        while "node network" not in err.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2)  # in the middle of making it: the agent starting
        assert process.poll() is None, err.read_text()
        process.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        process.send_signal(second)
        code = process.wait(timeout=120)
        text = err.read_text()
        assert code == 143, text
        kept = (f"; its logs are kept in {failed_up_logs(name)} (remove them with `kmeshctl sandbox down --name "
                f"{name}`)") if failed_up_logs(name).is_dir() else ""  # the logs of what it had started
        assert text.strip().splitlines()[-1] == f"Error: stopped by SIGTERM: sandbox {name} was not created{kept}", text
        assert sb.leftovers(name) == [], text
        assert name not in sandboxes.names()
    finally:
        if 'process' in locals() and process.poll() is None:
            process.kill()
            process.wait()
        if sb.leftovers(name) or sandboxes.failed_up_names().count(name):
            sb.down(name)
    assert sb.leftovers(name) == []
