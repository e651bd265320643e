"""The local sandbox on the real kernel with a real Envoy: up, status, exec, the
waypoint's weighted routing (fed live over delta ADS), down, and down after a killed up.

Its pods are made through the real CNI chain (Debian's bridge + host-local + loopback, the
kmesh plugin the real node agent chained last): each mesh pod is seen enrolled in the
kernel's km_manage with no process in its netns yet, the moment `up` reports its ADD, and
each DEL of `down` is seen releasing the pod from km_manage and its host-local address.

Traffic to the waypoint is sent here the way Kmesh's eBPF sends it: a PROXY v2 header
naming the Service VIP:port, then HTTP (the eBPF path itself is covered by the demo tests).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from kmeshctl.errors import KmeshctlError
from kmeshctl.maps import DataplaneMaps
from kmeshctl.podnet import NETNS_DIR, netns_cookie
from kmeshctl.sandbox import pods as sandbox_pods
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.manifests import default_files
from kmeshctl.sandbox.state import SandboxState, state_dir
from kmeshctl.sandbox.waypoint import EnvoyAdmin
from bpf_testlib import processes_in
from sandbox_peers import backend_peers

pytestmark = pytest.mark.root

REPO_ROOT = Path(__file__).resolve().parent.parent
KMESHCTL = [sys.executable, "-m", "kmeshctl"]
FQDN = "fortio.default.svc.cluster.local"

# Run inside the client pod: N connections to the waypoint, each opening with a PROXY v2
# header for VIP:PORT, one HTTP request each; prints "<status> <Server header>" per request.
PROXY_V2_CLIENT = r"""
import socket, struct, sys
waypoint, wport, vip, vport, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
for _ in range(count):
    with socket.create_connection((waypoint, wport), timeout=5) as s:
        src, sport = s.getsockname()
        header = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", 12)
                  + socket.inet_aton(src) + socket.inet_aton(vip) + struct.pack("!HH", sport, vport))
        s.sendall(header + f"GET / HTTP/1.1\r\nHost: fortio\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    lines = data.decode().split("\r\n")
    server = next((l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("server:")), "-")
    print(lines[0].split()[1], server)
"""


def _leftovers(name: str) -> list[str]:
    state = SandboxState(name=name)
    found = [str(p) for p in (state.cgroup, state.bpffs, state_dir(name)) if p.exists()]
    found += [p.name for p in NETNS_DIR.iterdir() if p.name.startswith(f"{state.netns_prefix}-")]
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"


def _host_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


@pytest.fixture(scope="module")
def host_links() -> set[str]:
    return _host_links()




def _in_km_manage(name: str, cookie: int) -> bool:
    with DataplaneMaps(SandboxState(name=name).bpffs) as maps:
        return maps.is_enrolled(cookie)


class Observer:
    """`up`'s and `down`'s progress callback: at each pod's line, what the kernel and the
    node show at that very moment (recorded, never raised: `up` must go on)."""

    ADD = re.compile(r"^pod (\S+)/(\S+): (\S+) \(CNI ADD\), (enrolled by the kmesh CNI plugin|not enrolled)")
    DEL = re.compile(r"^pod (\S+)/(\S+): CNI DEL done \((\S+) released\)")

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = SandboxState(name=name)  # the names derived from the sandbox's name
        self.added: dict[str, dict] = {}
        self.deleted: dict[str, dict] = {}
        self.cookies: dict[str, int] = {}

    def __call__(self, line: str) -> None:
        try:
            if match := self.ADD.match(line):
                self._on_add(match.group(2), match.group(4))
            elif match := self.DEL.match(line):
                self._on_del(match.group(2), match.group(3))
        except Exception as err:  # noqa: BLE001 - reported by the test's asserts
            (self.added if "ADD" in line else self.deleted)[line] = {"error": repr(err)}

    def _on_add(self, pod: str, said: str) -> None:
        netns = NETNS_DIR / f"{self.state.netns_prefix}-{pod}"
        cookie = self.cookies[pod] = netns_cookie(netns)
        self.added[pod] = {"said": said, "processes": processes_in(netns),
                           "enrolled": _in_km_manage(self.name, cookie)}

    def _on_del(self, pod: str, ip: str) -> None:
        self.deleted[pod] = {"enrolled": _in_km_manage(self.name, self.cookies[pod]),
                             "address_reserved": (self.state.cni_ipam_dir / sandbox_pods.NETWORK_NAME / ip).exists(),
                             "plugin_log": self.state.cni_plugin_log.read_text()}


MESH_PODS = {"fortio-v1-0", "fortio-v2-0", "netutils-0"}


@pytest.fixture(scope="module")
def observer(run_id: str) -> Observer:
    return Observer(f"t{run_id}")


@pytest.fixture(scope="module")
def sandbox(observer: Observer, host_links: set[str]):
    name = observer.name
    sb.up(name, default_files(), progress=observer)
    yield name
    sb.down(name)


def _send(name: str, count: int) -> Counter:
    state = SandboxState.load(name)
    waypoint = state.waypoint_infos()[0]
    client = sb.find_pod(state, "netutils")
    result = client.run([sys.executable, "-c", PROXY_V2_CLIENT, waypoint.ip, str(waypoint.port),
                         state.vips["default/fortio"], "80", str(count)], timeout=120)
    return Counter(tuple(line.split()) for line in result.stdout.splitlines())


def _admin(name: str) -> EnvoyAdmin:
    state = SandboxState.load(name)
    return EnvoyAdmin(state.envoy_admin_socket(state.waypoint_infos()[0]))


def test_status_shows_pods_services_and_a_ready_waypoint(sandbox: str) -> None:
    report = json.loads(subprocess.run([*KMESHCTL, "sandbox", "status", "-o", "json", "--name", sandbox],
                                       capture_output=True, text=True, check=True).stdout)
    pods = {p["name"]: p for p in report["pods"]}
    assert set(pods) == {"waypoint", "fortio-v1-0", "fortio-v2-0", "netutils-0"}
    assert all(p["state"] == "Running" for p in pods.values())
    assert all(p["ip"].startswith("10.244.0.") for p in pods.values())
    [service] = report["services"]
    assert service == {"name": "fortio", "namespace": "default", "vip": "10.96.0.10",
                       "ports": ["80->8080"], "waypoint": "default/waypoint"}
    [waypoint] = report["waypoints"]
    assert waypoint["ready"] and waypoint["listeners"] == 1
    assert report["controlplane"]["running"]


def test_exec_runs_in_the_pod_netns_and_cgroup(sandbox: str) -> None:
    state = SandboxState.load(sandbox)
    pod = state.pod("netutils-0")
    out = subprocess.run([*KMESHCTL, "sandbox", "exec", "--name", sandbox, "netutils", "--",
                          "sh", "-c", "ip -4 -o addr show eth0; cat /proc/self/cgroup"],
                         capture_output=True, text=True, check=True).stdout
    assert f"inet {pod.ip}/24" in out
    assert out.strip().endswith(pod.cgroup.split("/unified", 1)[-1])
    code = subprocess.run([*KMESHCTL, "sandbox", "exec", "--name", sandbox, "netutils", "--",
                           "sh", "-c", "exit 7"]).returncode
    assert code == 7


@pytest.mark.parametrize("sig,status", [("TERM", 143), ("KILL", 137), ("HUP", 129), ("INT", 130)])
def test_exec_of_a_command_killed_by_a_signal_exits_128_plus_n(sandbox: str, sig: str, status: int) -> None:
    code = subprocess.run([*KMESHCTL, "sandbox", "exec", "--name", sandbox, "netutils", "--",
                           "sh", "-c", f"kill -{sig} $$"], timeout=60).returncode
    assert code == status


def _child_running(parent: int, comm: str) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            name = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent and name == comm:
            return True
    return False


def test_exec_interrupted_by_ctrl_c_exits_130(sandbox: str) -> None:
    process = subprocess.Popen([*KMESHCTL, "sandbox", "exec", "--name", sandbox, "netutils", "--", "sleep", "30"])
    try:
        deadline = time.monotonic() + 30
        while not _child_running(process.pid, "sleep"):
            assert process.poll() is None and time.monotonic() < deadline, "sleep never started in the pod"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)  # to kmeshctl only, as a terminal's Ctrl-C reaches it first
        assert process.wait(timeout=20) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_pod_network_has_no_way_out(sandbox: str) -> None:
    state = SandboxState.load(sandbox)
    links = subprocess.run(["ip", "-n", state.node_netns, "-o", "link"], capture_output=True, text=True,
                           check=True).stdout
    names = {line.split(":")[1].strip().split("@")[0] for line in links.splitlines()}
    veths = {n for n in names if n.startswith("veth")}  # the bridge plugin's host ends, one per pod
    assert names == {"lo", sandbox_pods.BRIDGE} | veths and len(veths) == len(state.pods)
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    assert "10.244.0." not in routes and "10.96.0." not in routes


def test_mesh_pods_were_enrolled_by_cni_add_before_any_process_ran(sandbox: str, observer: Observer) -> None:
    assert set(observer.added) == MESH_PODS | {"waypoint"}, observer.added
    for pod in MESH_PODS:  # at the moment `up` reported the pod's ADD: in the kernel, and empty
        assert observer.added[pod] == {"said": "enrolled by the kmesh CNI plugin", "processes": [],
                                       "enrolled": True}, (pod, observer.added[pod])
    assert observer.added["waypoint"] == {"said": "not enrolled", "processes": [], "enrolled": False}
    state = SandboxState.load(sandbox)
    report = sb.status(sandbox)
    assert {p["name"]: p["enrolledBy"] for p in report["pods"]} == {
        "waypoint": None, "fortio-v1-0": "cni", "fortio-v2-0": "cni", "netutils-0": "cni"}
    agent_log = (state.logs_dir / "agent.log").read_text()
    assert sorted(re.findall(r"event=pod_enrolled pod=default/(\S+) .* via=(\w+)", agent_log)) == sorted(
        (pod, "cni") for pod in MESH_PODS)  # the CNI path, never another one
    plugin_log = state.cni_plugin_log.read_text()
    for pod in MESH_PODS:
        assert re.search(rf"event=cni_add pod=default/{pod} .* enroll=True enrolled=True", plugin_log)
        assert re.search(rf"event=cni_check pod=default/{pod} .* enrolled=True", plugin_log)
    # The runtime ran the node's list as chained by the agent: bridge, then kmesh-cni last.
    conf = json.loads(next(state.cni_conf_dir.glob("*.conflist")).read_text())
    assert [p["type"] for p in conf["plugins"]] == ["bridge", "kmesh-cni"]
    assert conf["plugins"][0]["ipam"]["dataDir"] == str(state.cni_ipam_dir)
    reserved = {f.name for f in (state.cni_ipam_dir / sandbox_pods.NETWORK_NAME).iterdir() if f.name[0].isdigit()}
    assert reserved == {p.ip for p in state.pods}


def test_waypoint_splits_90_10_and_backends_only_see_the_waypoint(sandbox: str) -> None:
    admin = _admin(sandbox)
    before = admin.stats(r"upstream_rq_total")
    counts = _send(sandbox, 400)
    assert set(counts) <= {("200", "1"), ("200", "2")}, counts
    v2 = counts[("200", "2")]
    assert sum(counts.values()) == 400
    assert 16 <= v2 <= 68, counts  # 10% of 400 = 40, sd 6: about 4 sd either side
    after = admin.stats(r"upstream_rq_total")
    sent = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert sent[f"cluster.outbound|80|v1|{FQDN}.upstream_rq_total"] == counts[("200", "1")]
    assert sent[f"cluster.outbound|80|v2|{FQDN}.upstream_rq_total"] == v2
    waypoint_ip = SandboxState.load(sandbox).waypoint_infos()[0].ip
    assert backend_peers(sandbox) == {waypoint_ip}  # never the client pod directly


def test_weights_change_live_without_restarting_envoy(sandbox: str) -> None:
    state = SandboxState.load(sandbox)
    envoy_pid = state.processes_of("waypoint")[0].pid
    sb.set_route_weights(sandbox, "default", "fortio", [0, 100])
    assert _send(sandbox, 50) == Counter({("200", "2"): 50})
    sb.set_route_weights(sandbox, "default", "fortio", [100, 0])
    assert _send(sandbox, 50) == Counter({("200", "1"): 50})
    sb.set_route_weights(sandbox, "default", "fortio", [90, 10])
    assert _alive(envoy_pid)
    assert SandboxState.load(sandbox).processes_of("waypoint")[0].pid == envoy_pid


def test_exec_resolves_service_names_as_cluster_dns_would(sandbox: str) -> None:
    """The `sandbox --help` example, pasted: `fortio:80` and its longer names reach the VIP."""
    for host in ("fortio", "fortio.default", "fortio.default.svc.cluster.local"):
        result = subprocess.run([*KMESHCTL, "sandbox", "exec", "netutils", "--name", sandbox, "--",
                                 "curl", "-sv", "--max-time", "5", f"{host}:80"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (host, result.stderr)
        assert re.search(r"^< Server: [12]\r?$", result.stderr, re.M), result.stderr
        assert "10.96.0.10" in result.stderr  # resolved to the Service VIP
    hosts = Path("/etc/hosts").read_text()
    assert "fortio" not in hosts  # only the pod's own mount namespace saw its hosts file


def test_list_and_status_agree_on_health_and_pods(sandbox: str) -> None:
    def listed() -> dict:
        rows = json.loads(subprocess.run([*KMESHCTL, "sandbox", "list", "-o", "json"], capture_output=True,
                                         text=True, check=True).stdout)
        return next(r for r in rows if r["name"] == sandbox)

    def status() -> tuple[int, dict]:
        result = subprocess.run([*KMESHCTL, "sandbox", "status", "--name", sandbox, "-o", "json"],
                                capture_output=True, text=True)
        return result.returncode, json.loads(result.stdout)

    code, report = status()
    row = listed()
    assert code == 0 and row["phase"] == "ready" and row["pods"] == len(report["pods"]) == 4
    record = next(p for p in SandboxState.load(sandbox).processes if p.pod == "fortio-v2-0")
    os.kill(record.pid, signal.SIGKILL)  # a pod's process dies: both must say so
    deadline = time.monotonic() + 10
    while listed()["phase"] == "ready" and time.monotonic() < deadline:
        time.sleep(0.2)
    row = listed()
    code, report = status()
    assert row["phase"] == "not ready" and not row["ready"] and code == 1 and not report["ready"]
    assert report["phase"] == row["phase"]  # one phase for the table, -o json|yaml and `sandbox list`
    assert any("fortio-v2-0" in p for p in row["problems"]) and set(row["problems"]) <= set(report["problems"])


def test_up_twice_is_a_clear_error(sandbox: str) -> None:
    result = subprocess.run([*KMESHCTL, "sandbox", "up", "--name", sandbox], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"sandbox {sandbox} is already up" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Creating" not in result.stderr  # refused first


def test_down_leaves_nothing_behind(sandbox: str, observer: Observer, host_links: set[str]) -> None:
    state = SandboxState.load(sandbox)
    pids = [p.pid for p in state.processes]
    # every process runs, but fortio-v2-0's: test_list_and_status_agree_on_health_and_pods killed it
    assert pids and all(_alive(p.pid) for p in state.processes if p.pod != "fortio-v2-0")
    assert sb.down(sandbox, progress=observer)
    # Each pod's CNI DEL (while the agent still ran) took it out of km_manage and gave its
    # address back to host-local, before its netns went.
    assert set(observer.deleted) == MESH_PODS | {"waypoint"}, observer.deleted
    for pod, seen in observer.deleted.items():
        assert not seen["enrolled"] and not seen["address_reserved"], (pod, seen)
    for pod in MESH_PODS:
        assert re.search(rf"event=cni_del pod=default/{pod} .* reason=released", observer.deleted[pod]["plugin_log"])
    assert _leftovers(sandbox) == []
    assert not any(_alive(p) for p in pids)
    assert _host_links() == host_links
    again = subprocess.run([*KMESHCTL, "sandbox", "down", "--name", sandbox], capture_output=True, text=True)
    assert again.returncode == 1 and f"sandbox {sandbox} not found" in again.stderr, again.stderr  # kubectl delete
    quiet = subprocess.run([*KMESHCTL, "sandbox", "down", "--name", sandbox, "--ignore-not-found"],
                           capture_output=True, text=True)
    assert quiet.returncode == 0 and not quiet.stdout and not quiet.stderr, quiet.stderr
    with pytest.raises(KmeshctlError, match="not found"):
        sb.status(sandbox)


def test_down_after_a_killed_up_cleans_everything(run_id: str, host_links: set[str]) -> None:
    name = f"k{run_id}"
    up = subprocess.Popen([*KMESHCTL, "sandbox", "up", "--name", name],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:  # kill it once it has pods and a running control plane, before it finishes
            state = SandboxState.load(name)
            if state is not None and state.processes_of("controlplane") and len(state.pods) >= 2:
                break
            assert up.poll() is None and time.monotonic() < deadline, "up ended before it could be killed"
            time.sleep(0.01)
        up.send_signal(signal.SIGKILL)
        up.wait()
        state = SandboxState.load(name)
        assert state.phase != "ready"
        assert _leftovers(name)
        again = subprocess.run([*KMESHCTL, "sandbox", "up", "--name", name], capture_output=True, text=True)
        assert again.returncode == 1 and "did not finish" in again.stderr
        pids = [p.pid for p in state.processes]
        result = subprocess.run([*KMESHCTL, "sandbox", "down", "--name", name], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert _leftovers(name) == []
        assert not any(_alive(p) for p in pids)
        assert _host_links() == host_links
    finally:
        if up.poll() is None:
            up.kill()
        sb.down(name)


def test_without_root_one_line_says_so(run_id: str) -> None:
    # a name of its own: another sandbox up on the machine would otherwise be the one chosen
    # setpriv, not a preexec_fn: Python in a forked child of this threaded process is unsafe
    result = subprocess.run(["setpriv", "--reuid=65534", "--keep-groups", *KMESHCTL, "sandbox", "up",
                             "--name", f"nr{run_id}"], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: the sandbox needs root (network namespaces, cgroups, eBPF): run it as root"]


def test_without_the_cni_plugins_up_says_what_to_install_and_creates_nothing(run_id: str) -> None:
    """/usr/lib/cni hidden (an empty tmpfs over it in a mount namespace of this test)."""
    name = f"n{run_id}"
    script = f"mount -t tmpfs none /usr/lib/cni && exec {' '.join(KMESHCTL)} sandbox up --name {name}"
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    [error] = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert error == ("Error: the sandbox creates its pods with the CNI reference plugins, and /usr/lib/cni/bridge, "
                     "/usr/lib/cni/host-local, /usr/lib/cni/loopback are missing: run scripts/setup.sh "
                     "(or apt-get install containernetworking-plugins)")
    assert _leftovers(name) == []
