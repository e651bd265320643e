"""Fixer f38g, findings 7 and 8 of tester t38c.

7: a local command run where the sandbox cannot be seen (`ip netns exec` remounts /sys: no
bpffs, no cgroup2; `unshare -p`: its processes show as pid 0) says so, with the command in
the host's namespaces, instead of calling a healthy sandbox dead and offering to remake it;
`sandbox down` refuses there (it could neither stop nor unpin it). On a real sandbox (root).

8: the cluster demo's guarded request loop leaves no zombie in a client pod whose PID 1 is
`sleep infinity` (a pid namespace of this test's own), however it is stopped; the example's
netutils pod has a PID 1 that reaps (its pause container)."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from kmeshctl import demo, demo_cluster
from kmeshctl.sandbox.manifests import default_files, load
from kmeshctl.sandbox.state import SandboxState

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "fortio"
REMAKE = "sandbox up"  # any remake line names it


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "KMESHCTL_SANDBOX_NAME"}


def _kmeshctl(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "kmeshctl", *args], capture_output=True, text=True,
                          env=_env(), cwd=Path(__file__).resolve().parent.parent, timeout=120)


# ---------------------------------------------------------------- 7: cannot see is not gone


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root (a real sandbox)")
    name = f"f38g{os.getpid() % 100000}"
    try:
        made = _kmeshctl("sandbox", "up", "--name", name, "-q")
        assert made.returncode == 0, made.stderr
        yield name
    finally:
        _kmeshctl("sandbox", "down", "--name", name, "--ignore-not-found")


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    name = f"f38g-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def _in_netns(netns: str, *args: str) -> subprocess.CompletedProcess:
    return _kmeshctl(*args, prefix=("ip", "netns", "exec", netns))


def _one_error(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert result.returncode == 1 and len(lines) == 1, (result.returncode, result.stdout, result.stderr)
    return lines[0]


def _pasted(line: str, netns: str) -> subprocess.CompletedProcess:
    """The backticked nsenter line of ``line`` run from ``netns``, kmeshctl as this test runs it."""
    command = line.rsplit("`nsenter ", 1)[1].split("`", 1)[0]
    words = shlex.split(command)
    at = words.index("kmeshctl")
    return subprocess.run(["ip", "netns", "exec", netns, "nsenter", *words[:at], sys.executable, "-m", "kmeshctl",
                           *words[at + 1:]], capture_output=True, text=True, env=_env(), timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)


def test_status_under_ip_netns_exec_says_it_cannot_see_and_its_line_works(sandbox: str, netns: str) -> None:
    line = _one_error(_in_netns(netns, "sandbox", "status", "--name", sandbox, "-o", "json"))
    assert "cannot be seen from this mount namespace" in line and "not gone" in line
    assert "/sys/fs/bpf" in line and "ip netns exec" in line
    assert "exited" not in line and "nothing is pinned" not in line and REMAKE not in line
    assert f"kmeshctl sandbox status --name {sandbox} -o json`" in line  # as typed, every flag kept
    pasted = _pasted(line, netns)
    assert pasted.returncode == 0 and '"ready": true' in pasted.stdout, pasted.stderr


def test_dump_maps_under_ip_netns_exec_names_the_view_not_a_remake(sandbox: str, netns: str) -> None:
    line = _one_error(_in_netns(netns, "dump", "maps", "--sandbox", sandbox, "--map", "km_frontend"))
    assert "cannot be seen" in line and REMAKE not in line and "nothing is pinned" not in line
    pasted = _pasted(line, netns)
    assert pasted.returncode == 0 and "km_frontend" in pasted.stdout, pasted.stderr


def test_list_under_ip_netns_exec_shows_unknown_with_one_warning(sandbox: str, netns: str) -> None:
    listed = _in_netns(netns, "sandbox", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in yaml.safe_load(listed.stdout) if r["name"] == sandbox)
    assert row["phase"] == "unknown" and not row["ready"] and row["bpffs"]
    assert "cannot be seen" in row["problems"][0] and REMAKE not in row["problems"][0]
    table = _in_netns(netns, "sandbox", "list")
    assert "not ready" not in table.stdout and "cannot be seen" in table.stderr


def test_down_under_ip_netns_exec_refuses_and_the_sandbox_stays_ready(sandbox: str, netns: str) -> None:
    line = _one_error(_in_netns(netns, "sandbox", "down", "--name", sandbox))
    assert "cannot be seen" in line
    assert SandboxState.load(sandbox) is not None
    status = _kmeshctl("sandbox", "status", "--name", sandbox, "-o", "json")
    assert status.returncode == 0 and '"ready": true' in status.stdout, status.stderr


def test_a_child_pid_namespace_is_named_and_no_remake_offered(sandbox: str) -> None:
    for mount_proc in ((), ("--mount-proc",)):
        line = _one_error(_kmeshctl("sandbox", "status", "--name", sandbox,
                                    prefix=("unshare", "--pid", "--fork", *mount_proc)))
        assert "cannot be seen from this pid namespace" in line and "pid 0" in line
        assert "exited" not in line and REMAKE not in line


def test_from_the_host_nothing_changes(sandbox: str) -> None:
    status = _kmeshctl("sandbox", "status", "--name", sandbox)
    assert status.returncode == 0 and "cannot be seen" not in status.stdout + status.stderr


# ---------------------------------------------------------------- 8: no zombies in the client pod


@pytest.fixture()
def pod() -> Iterator[int]:
    """A pid namespace whose PID 1 is `sleep infinity` (as the netutils image's): the pid,
    as this host sees it, of that PID 1."""
    if os.geteuid() != 0:
        pytest.skip("needs root (a pid namespace)")
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "sleep", "infinity"])
    try:
        deadline = time.monotonic() + 5
        children = Path(f"/proc/{holder.pid}/task/{holder.pid}/children")
        while not children.read_text().split():
            assert time.monotonic() < deadline, "the pod's PID 1 did not start"
            time.sleep(0.02)
        yield int(children.read_text().split()[0])
    finally:
        holder.kill()
        holder.wait()


def _zombies(init: int) -> list[str]:
    found = []
    for child in Path(f"/proc/{init}/task/{init}/children").read_text().split():
        try:
            stat = Path(f"/proc/{child}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            found.append(stat.split("(", 1)[1].rsplit(")", 1)[0])
    return found


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed once returned: curl gets refused, on loopback only


def _start_loop(init: int, marker: Path, orphan_s: int) -> subprocess.Popen:
    argv = demo_cluster.guarded(demo.loop_argv(f"http://127.0.0.1:{_closed_port()}/", 0), str(marker), orphan_s)
    loop = subprocess.Popen(["nsenter", "--target", str(init), "--pid", "--mount", *argv], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL)
    for _ in range(10):  # the demo's heartbeat, while some requests are made
        assert loop.stdin is not None
        loop.stdin.write(b"beat\n")
        loop.stdin.flush()
        time.sleep(0.1)
    return loop


def _ended(loop: subprocess.Popen, within_s: float) -> int:
    try:
        return loop.wait(within_s)
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()


@pytest.mark.parametrize("stop", ["kill-loop", "stdin-closed", "heartbeat-stopped"])
def test_a_stopped_loop_leaves_no_zombie_for_a_pid_1_that_never_reaps(pod: int, tmp_path: Path, stop: str) -> None:
    marker = tmp_path / f"{demo_cluster.LOOP_MARKER_PREFIX}{os.getpid()}-1"
    loop = _start_loop(pod, marker, orphan_s=2)
    assert loop.stdin is not None
    if stop == "kill-loop":  # the demo's stop: an exec of KILL_LOOP, its stream closed
        subprocess.run(["nsenter", "--target", str(pod), "--pid", "--mount", "sh", "-c", demo_cluster.KILL_LOOP,
                        "sh", str(marker)], check=True)
    elif stop == "stdin-closed":
        loop.stdin.close()
    assert _ended(loop, demo.CURL_TIMEOUT_S + 5) == 143  # SIGTERM, as the demo words it
    time.sleep(1.5)  # what the guard left would have ended by now
    assert _zombies(pod) == []
    assert not marker.exists() and not Path(f"{marker}.beat").exists()


def _finished(init: int, argv: list[str]) -> int:
    """The exit status of ``argv`` run to its end in the pod, its stdin (the heartbeat) open
    meanwhile: closed, it would be the demo gone."""
    run = subprocess.Popen(["nsenter", "--target", str(init), "--pid", "--mount", *argv], stdin=subprocess.PIPE)
    try:
        return _ended(run, 20)
    finally:
        assert run.stdin is not None
        run.stdin.close()


def test_a_loop_that_finishes_leaves_no_zombie_and_keeps_its_exit_status(pod: int, tmp_path: Path) -> None:
    marker = tmp_path / f"{demo_cluster.LOOP_MARKER_PREFIX}{os.getpid()}-2"
    argv = demo_cluster.guarded(["sh", "-c", f"curl -s http://127.0.0.1:{_closed_port()}/ >/dev/null; exit 3"],
                                str(marker), 5)
    assert _finished(pod, argv) == 3
    time.sleep(1.5)
    assert _zombies(pod) == []


def test_a_plain_command_is_run_not_execd_so_its_guard_is_reaped(pod: int, tmp_path: Path) -> None:
    marker = tmp_path / f"{demo_cluster.LOOP_MARKER_PREFIX}{os.getpid()}-3"
    argv = demo_cluster.guarded(["true"], str(marker), 5)
    assert _finished(pod, argv) == 0
    time.sleep(1.5)
    assert _zombies(pod) == []


def test_the_example_client_pod_has_a_reaping_pid_1_and_the_sandbox_still_takes_it() -> None:
    docs = [d for d in yaml.safe_load_all((EXAMPLES / "netutils.yaml").read_text()) if d]
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    assert spec["shareProcessNamespace"] is True
    assert [c["image"] for c in spec["containers"]] == ["hwchiu/netutils:latest"]  # the image as it was
    assert not any("command" in c or "args" in c for c in spec["containers"])
    assert any(d.name == "netutils" for d in load(default_files()).deployments)


def test_list_under_ip_netns_exec_keeps_every_flag_in_its_line(sandbox: str, netns: str) -> None:
    """Pass 39 lead (s30 leftover): the nsenter line of `sandbox list -o wide` is that line."""
    table = _in_netns(netns, "sandbox", "list", "-o", "wide")
    assert table.returncode == 0, table.stderr
    assert "kmeshctl sandbox list -o wide`" in table.stderr, table.stderr
