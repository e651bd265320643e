"""The sandbox reports its health honestly (issue 12 item 5), on the real kernel with the
real processes: a killed control plane or a killed pod server makes `sandbox status`
not ready (exit 1) naming it, with its exit status and log; a component that dies while
`sandbox up` waits fails `up` at once, naming it, and `up` leaves nothing behind.

Each test has its own sandbox (unique --name) and removes it in a finally.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmeshctl.podnet import NETNS_DIR
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.manifests import default_files
from kmeshctl.sandbox.state import SandboxState, failed_up_logs, state_dir

pytestmark = pytest.mark.root

KMESHCTL = [sys.executable, "-m", "kmeshctl"]

# One pod, two containers serving the same port: the second cannot bind it and exits 1
# (what Kubernetes would show as CrashLoopBackOff). A real crash, not a simulated one.
PORT_CLASH = """
apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels:
    istio.io/dataplane-mode: Kmesh
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: main
          image: fortio/fortio
          args: [server, -http-port, "8080"]
        - name: second
          image: fortio/fortio
          args: [server, -http-port, "8080"]
"""


def _leftovers(name: str) -> list[str]:
    state = SandboxState(name=name)
    found = [str(p) for p in (state.cgroup, state.bpffs, state_dir(name)) if p.exists()]
    found += [p.name for p in NETNS_DIR.iterdir() if p.name.startswith(f"{state.netns_prefix}-")]
    return found


def _sandbox_processes(name: str) -> list[str]:
    """Any process (pid: cgroup + command line) whose command line or cgroup names this sandbox."""
    marker = f"sandbox-{name}"
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            text = (proc / "cgroup").read_text() + (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker + "\n" in text or marker + "/" in text or f"--name\0{name}\0" in text:
            found.append(f"{proc.name}: {text!r}")
    return found


def _no_process_left(name: str, timeout: float = 5.0) -> list[str]:
    """What is left of the sandbox's processes once init had `timeout` s to reap the
    killed ones (a killed process stays a zombie until its new parent reaps it)."""
    deadline = time.monotonic() + timeout
    while (left := _sandbox_processes(name)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _status(name: str) -> tuple[int, dict, str]:
    result = subprocess.run([*KMESHCTL, "sandbox", "status", "--name", name, "-o", "json"],
                            capture_output=True, text=True, timeout=60)
    return result.returncode, json.loads(result.stdout), result.stderr


def _status_table(name: str) -> subprocess.CompletedProcess:
    return subprocess.run([*KMESHCTL, "sandbox", "status", "--name", name],
                          capture_output=True, text=True, timeout=60)


def _wait_exit_recorded(state: SandboxState, pid: int, timeout: float = 10.0) -> None:
    [record] = [p for p in state.processes if p.pid == pid]
    deadline = time.monotonic() + timeout
    while not Path(record.exit_file).exists():
        assert time.monotonic() < deadline, f"no exit status recorded for pid {pid}"
        time.sleep(0.05)


def test_a_killed_control_plane_makes_status_not_ready_and_named(run_id: str) -> None:
    name = f"h{run_id}c"
    try:
        sb.up(name, default_files())
        code, report, _ = _status(name)
        assert code == 0 and report["ready"] is True and report["problems"] == []
        state = SandboxState.load(name)
        [control_plane] = state.processes_of("controlplane")
        os.kill(control_plane.pid, signal.SIGKILL)
        _wait_exit_recorded(state, control_plane.pid)

        code, report, _ = _status(name)
        assert code == 1
        assert report["ready"] is False
        [problem] = report["problems"]
        assert problem.startswith(f"the control plane (pid {control_plane.pid}) was killed by SIGKILL")
        assert control_plane.log in problem
        cp = report["controlplane"]
        assert cp["running"] is False and cp["ready"] is False and cp["exitStatus"] == 128 + 9
        assert cp["log"] == control_plane.log
        assert any("serving" in line for line in cp["logTail"])  # its own last words, from its log
        assert report["agent"]["running"] is True  # only the dead one is blamed
        assert all(p["state"] == "Running" for p in report["pods"])

        table = _status_table(name)
        assert table.returncode == 1
        assert "NOT READY" in table.stdout
        assert f"the control plane (pid {control_plane.pid}) was killed by SIGKILL" in table.stdout
        assert f"Last lines of {control_plane.log}" in table.stdout
    finally:
        sb.down(name)
    assert _leftovers(name) == []


def test_a_killed_pod_server_makes_status_not_ready_naming_the_pod(run_id: str) -> None:
    name = f"h{run_id}p"
    try:
        sb.up(name, default_files())
        state = SandboxState.load(name)
        [server] = [p for p in state.processes if p.pod == "fortio-v2-0"]
        os.kill(server.pid, signal.SIGKILL)
        _wait_exit_recorded(state, server.pid)

        code, report, _ = _status(name)
        assert code == 1 and report["ready"] is False
        [problem] = report["problems"]
        assert problem.startswith("pod fortio-v2-0: ") and f"(pid {server.pid}) was killed by SIGKILL" in problem
        pods = {p["name"]: p for p in report["pods"]}
        assert pods["fortio-v2-0"]["state"] == "Failed"
        [process] = pods["fortio-v2-0"]["processes"]
        assert process["exitStatus"] == 137 and process["log"] == server.log and process["logTail"]
        assert {n: p["state"] for n, p in pods.items() if n != "fortio-v2-0"} == {
            "waypoint": "Running", "fortio-v1-0": "Running", "netutils-0": "Running"}
        assert report["controlplane"]["ready"] and report["agent"]["ready"]
        assert report["waypoints"][0]["ready"]

        table = _status_table(name)
        assert table.returncode == 1 and "pod fortio-v2-0: " in table.stdout
        assert "Failed" in table.stdout
    finally:
        sb.down(name)
    assert _leftovers(name) == []


def test_up_names_a_control_plane_killed_while_it_waits_and_leaves_nothing(run_id: str) -> None:
    """The issue's case: the control plane dies while `up` waits for the node agent."""
    name = f"h{run_id}u"
    up = subprocess.Popen([*KMESHCTL, "sandbox", "up", "--name", name],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # once the agent was started: `up` is waiting for it to be ready
            state = SandboxState.load(name)
            if state is not None and state.processes_of("agent") and state.processes_of("agent")[0].pid:
                break
            assert up.poll() is None and time.monotonic() < deadline, "up ended before the agent started"
            time.sleep(0.01)
        [control_plane] = state.processes_of("controlplane")
        killed_at = time.monotonic()
        os.kill(control_plane.pid, signal.SIGKILL)
        _, stderr = up.communicate(timeout=60)
        elapsed = time.monotonic() - killed_at

        assert up.returncode == 1
        error = stderr[stderr.index("Error: "):]
        assert error.startswith(f"Error: the control plane (pid {control_plane.pid}) was killed by SIGKILL "
                                "(exit status 137): ")
        assert "node agent is not ready" not in stderr
        kept = failed_up_logs(name)
        assert f"{kept}/controlplane.log" in error  # the log outlives the sandbox, for the user
        assert (kept / "controlplane.log").read_text().count("serving") >= 1
        assert elapsed < 20, f"`up` took {elapsed:.1f}s to notice"  # not the agent's 90 s timeout
        assert _leftovers(name) == []
        assert _no_process_left(name) == []
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        sb.down(name)
    assert not failed_up_logs(name).exists()  # `down` removes the kept logs too


def test_up_names_the_pod_whose_container_crashes_and_leaves_nothing(run_id: str, tmp_path: Path) -> None:
    name = f"h{run_id}k"
    manifest = tmp_path / "clash.yaml"
    manifest.write_text(PORT_CLASH)
    try:
        result = subprocess.run([*KMESHCTL, "sandbox", "up", "--name", name, "-f", str(manifest)],
                                capture_output=True, text=True, timeout=240)
        assert result.returncode == 1
        error = result.stderr[result.stderr.index("Error: "):]
        assert error.startswith("Error: pod web-0: ")
        assert "(container 2 of 2)" in error.splitlines()[0]
        assert "exited with status 1: " in error.splitlines()[0] and "(log: " in error.splitlines()[0]
        assert "address already in use" in error.lower()  # the container's own reason, from its log
        assert "Sandbox" not in result.stdout  # no "is up"
        assert _leftovers(name) == []
        assert _no_process_left(name) == []
    finally:
        sb.down(name)
