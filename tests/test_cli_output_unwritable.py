"""Issue 14, kind "output that cannot be written is said so, whatever the exit code":
`kmeshctl COMMAND > /dev/full` prints `Error: cannot write the output to stdout: No
space left on device` on stderr on every command that prints data, also when the
command itself fails (`status` of an unhealthy install, `precheck` with a failed check)
and keeps its own exit code.

Real parts: kmeshctl run as a subprocess (`python -m kmeshctl`) with stdout on
/dev/full; the stand-in API server (tests/standin) for an installed, unhealthy mesh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import _dead_kubeconfig

FULL = "Error: cannot write the output to stdout: No space left on device"


def _run_to_full(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KMESHCTL_SANDBOX_NAME", "COLUMNS")}
    with open("/dev/full", "w") as full:
        return subprocess.run([sys.executable, "-m", "kmeshctl", *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=120, cwd=Path(__file__).parent.parent)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["version", "--client"], ["version", "--client", "-o", "json"],
                                  ["render", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012"],
                                  ["help"], ["precheck"], ["precheck", "-o", "json"]], ids=" ".join)
def test_output_to_a_full_disk_is_reported(args, tmp_path) -> None:
    dead = _dead_kubeconfig(tmp_path / "dead.yaml")
    result = _run_to_full("--kubeconfig", str(dead), "--request-timeout", "2", *args)
    assert result.returncode == 1 and FULL in result.stderr, result


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["status"], ["status", "-o", "json"], ["version"]], ids=" ".join)
def test_an_unhealthy_status_to_a_full_disk_still_says_the_output_was_lost(args, cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20", "-q").code == 0
    result = _run_to_full("--kubeconfig", str(cluster.kubeconfig), *args)
    assert result.returncode == 1 and FULL in result.stderr, result
    assert result.stderr.count(FULL) == 1, result
