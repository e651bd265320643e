"""`kmeshctl demo traffic-shift` stopped by SIGTERM (a CI timeout, systemd, kill) while
its request loop runs in the netutils pod: it must return at once, with the loop gone
(it used to wait for a loop blocked writing to a pipe the demo no longer read: a
deadlock), and remove the sandbox it brought up. Also: the only sandbox up is used and
left up; the heartbeat names the request lines, never a finished setup step. Real
sandbox (real kernel eBPF path, real Envoy, real curl), the real console script."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmeshctl import sandboxes
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.manifests import default_files
from kmeshctl.sandbox.state import SandboxState, state_dir
from kmeshctl.sandbox.waypoint import EnvoyAdmin, route_weights
from test_cli_kinds import cli

pytestmark = pytest.mark.root

KMESHCTL = [sys.executable, "-m", "kmeshctl"]
FQDN = "fortio.default.svc.cluster.local"
LOOP_MARK = "url=$1; count=$2; stop=$3"  # the request loop's script, in its command line
RETURN_S = 10.0  # "at once": the loop is killed, not waited for (it would run for minutes)


@pytest.fixture(scope="module")
def sandbox(run_id: str):
    name = f"h26i{run_id}"
    sb.up(name, default_files())
    yield name
    sb.down(name)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("KMESHCTL_SANDBOX_NAME", "KUBECONFIG")}


def _loops_in(name: str) -> list[str]:
    """The request loops running in the sandbox's netutils pod (its cgroup)."""
    state = SandboxState.load(name)
    if state is None:
        return []
    found = []
    for pod in state.pods:
        try:
            pids = (Path(pod.cgroup) / "cgroup.procs").read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if LOOP_MARK in cmdline:
                found.append(pid)
    return found


def _start_demo(tmp_path: Path, *args: str, sandbox_env: str = "") -> tuple[subprocess.Popen, Path]:
    """``sandbox_env``: $KMESHCTL_SANDBOX_NAME, the way to a new sandbox while others are up."""
    err = tmp_path / "demo.err"
    env = {**_env(), "KMESHCTL_SANDBOX_NAME": sandbox_env} if sandbox_env else _env()
    with open(err, "w") as out:
        process = subprocess.Popen([*KMESHCTL, "demo", "traffic-shift", "--target", "local", *args],
                                   stdout=subprocess.DEVNULL, stderr=out, env=env)
    return process, err


def _wait_for_requests(process: subprocess.Popen, err: Path, timeout: float) -> None:
    """Until the demo reports 200 requests sent (the loop runs, its pipe flows)."""
    deadline = time.monotonic() + timeout
    while not re.search(r"\[\s*200/100000\] sent", err.read_text()):
        assert process.poll() is None, err.read_text()
        assert time.monotonic() < deadline, err.read_text()
        time.sleep(0.1)


def _terminate(process: subprocess.Popen, err: Path, timeout: float) -> tuple[int, float]:
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"the demo did not end within {timeout:.0f}s of SIGTERM: {err.read_text()[-2000:]}")
    return code, time.monotonic() - started


def test_sigterm_while_sending_ends_the_loop_and_the_demo_at_once(sandbox: str, tmp_path: Path) -> None:
    process, err = _start_demo(tmp_path, "--name", sandbox, "-c", "100000")
    try:
        _wait_for_requests(process, err, 60)
        assert _loops_in(sandbox), "the request loop should be running in the pod"
        code, took = _terminate(process, err, RETURN_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 143 and took < RETURN_S, (code, took, err.read_text()[-2000:])  # 128 + SIGTERM
    assert _loops_in(sandbox) == []  # killed with its process group, not left sending
    assert SandboxState.load(sandbox) is not None and sb.status(sandbox)["ready"]  # not the demo's to remove


def test_sigterm_removes_the_sandbox_the_demo_brought_up(run_id: str, tmp_path: Path) -> None:
    name = f"h26j{run_id}"
    process, err = _start_demo(tmp_path, "-c", "100000", sandbox_env=name)
    try:
        _wait_for_requests(process, err, 180)
        code, took = _terminate(process, err, 60)
        text = err.read_text()
        assert code == 143 and f"bringing up sandbox {name}" in text and f"removing sandbox {name}" in text, text
        assert not state_dir(name).exists()
        assert not SandboxState(name=name).cgroup.exists() and not SandboxState(name=name).bpffs.exists()
    finally:
        if process.poll() is None:
            process.kill()
        sb.down(name)


def test_without_a_name_the_only_sandbox_up_is_used_and_left_up(sandbox: str, tmp_path: Path) -> None:
    if sandboxes.names() != [sandbox]:
        pytest.skip(f"other sandboxes are up on this machine: {sandboxes.names()}")
    result = subprocess.run([*KMESHCTL, "demo", "traffic-shift", "--target", "local", "-c", "20",
                             "--weights", "50/50", "-o", "json"], capture_output=True, text=True, env=_env(),
                            timeout=240)
    assert result.returncode == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert first == f"Target: local sandbox {sandbox} (the only sandbox up, left up afterwards; --sandbox NAME chooses)"
    assert "bringing up" not in result.stderr and "removing sandbox" not in result.stderr
    assert '"sandbox": "' + sandbox + '"' in result.stdout
    assert sb.status(sandbox)["ready"]  # still up, with the example's weights back
    state = SandboxState.load(sandbox)
    routes = {c["name"]: c for c in EnvoyAdmin(state.envoy_admin_socket(state.waypoint_infos()[0])).route_configs()}
    assert route_weights(routes[f"inbound-vip|80|http|{FQDN}"]) == {f"outbound|80|v1|{FQDN}": 90,
                                                                    f"outbound|80|v2|{FQDN}": 10}


def test_the_heartbeat_names_the_request_lines_not_a_finished_step(sandbox: str, capsys, monkeypatch) -> None:
    from kmeshctl.cli import demo as demo_cli

    monkeypatch.delenv("KMESHCTL_SANDBOX_NAME", raising=False)
    monkeypatch.setattr(demo_cli, "HEARTBEAT_S", 1.0)  # a silent second is enough for a heartbeat line
    monkeypatch.setattr(demo_cli, "PROGRESS_EVERY", 10 ** 6)  # nothing between request 20 and the last
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "--name", sandbox, "-c", "400")
    assert code == 0, err
    lines = err.splitlines()
    beats = [i for i, line in enumerate(lines) if "still working" in line]
    assert beats, err  # 380 requests are counted silently: long enough for one
    for i in beats:
        said = next(line for line in reversed(lines[:i]) if "still working" not in line)
        assert " after: " in lines[i] and lines[i].split(" after: ", 1)[1].strip() == said.strip(), (lines[i], said)
    assert not any("Envoy ready" in lines[i] or "waypoint" in lines[i] for i in beats), err
