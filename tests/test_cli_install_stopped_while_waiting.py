"""Helper h93, kind "a stop during install's rollout wait said two lines": Ctrl-C there
printed `interrupted: ...` and then the generic `Error: stopped by Ctrl-C (SIGINT)`. Now
it is one Error line, worded as a stop while applying is (`install stopped by ...`): every
object applied, the rollout goes on, the status command to paste with the user's flags;
exit 130 (SIGTERM 143).

Real parts: the real console script in a child process, a real signal, the stand-in API
server (its DaemonSet never becomes ready, so install waits) over loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from standin_apiserver import cluster  # noqa: F401 (fixture)

KMESHCTL = str(Path(sys.executable).with_name("kmeshctl"))


def _stopped_while_waiting(cluster, tmp_path: Path, signum: int, *flags: str) -> tuple[int, str, str]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMESHCTL_")}
    env.update(HOME=str(tmp_path), KUBECONFIG=str(tmp_path / "h93-no-such-config"), COLUMNS="200")
    err_path, out_path = tmp_path / "h93-stderr", tmp_path / "h93-stdout"
    with open(err_path, "w") as err_file, open(out_path, "w") as out_file:
        process = subprocess.Popen([KMESHCTL, "--kubeconfig", str(cluster.kubeconfig), "install", "--cluster-id",
                                    "c1", "--timeout", "60", *flags], stdout=out_file, stderr=err_file, env=env)
        try:
            deadline = time.monotonic() + 30
            while "waited " not in err_path.read_text() and time.monotonic() < deadline:
                assert process.poll() is None, err_path.read_text()
                time.sleep(0.05)
            assert "waited " in err_path.read_text(), err_path.read_text()  # in the rollout wait
            time.sleep(0.3)
            process.send_signal(signum)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return code, out_path.read_text(), err_path.read_text()


@pytest.mark.parametrize("signum,how", [(signal.SIGINT, "Ctrl-C (SIGINT)"), (signal.SIGTERM, "SIGTERM")],
                         ids=["sigint", "sigterm"])
def test_a_stop_during_the_rollout_wait_is_one_error_line(cluster, tmp_path: Path, signum: int,  # noqa: F811
                                                         how: str) -> None:
    code, out, err = _stopped_while_waiting(cluster, tmp_path, signum, "-n", "kmesh-h93")
    assert code == 128 + signum, (code, err)
    assert "Traceback" not in err and "Aborted" not in err, err
    stops = [line for line in err.splitlines() if "stopped by" in line or "interrupted" in line]
    assert stops == [err.strip().splitlines()[-1]], err  # one line, the last one
    assert stops[0] == (f"Error: install stopped by {how} while waiting for the rollout: every object applied; "
                        f"the rollout goes on without kmeshctl: `kmeshctl --kubeconfig {cluster.kubeconfig} "
                        f"status -n kmesh-h93` shows it"), stops[0]
    assert out.count(" created") == 10, out  # the objects stay applied
    assert cluster.server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-h93") is not None


def test_a_stop_during_the_wait_after_o_json_keeps_stdout_one_document(cluster, tmp_path: Path) -> None:  # noqa: F811
    import json

    code, out, err = _stopped_while_waiting(cluster, tmp_path, signal.SIGINT, "-o", "json")
    assert code == 130, (code, err)
    assert len(json.loads(out)["applied"]) == 10, out
    assert [line for line in err.splitlines() if "stopped by" in line] == [err.strip().splitlines()[-1]], err
