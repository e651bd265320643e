"""`kmeshctl dump config --pod` and `kmeshctl dump maps --pod`: a port-forward through
the stand-in API server to a real running node agent's admin port.

The stand-in runs the rendered DaemonSet (its controller makes the agent pod on the one
Node); the pod is `hostNetwork: true`, so its admin port is 127.0.0.1:<port> of this
host, which is where the real agent (`kmeshctl node run`, fed by an in-test xDS server,
maps pinned on the real kernel) listens. The CLI runs as a subprocess, as a user runs it."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from bpf_testlib import dataplane_paths
from kmeshctl import config_dump
from kmeshctl.podnet import remove_cgroup_tree
from kmeshctl.node import loader
from kmeshctl.params import install_params
from kmeshctl.render import render_manifests
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.builders import addresses, service, workload
from kmeshctl.xds.server import XdsServer
from standin import HostNetworkBackend, StandinApiServer, node

pytestmark = pytest.mark.root

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")
HOST = "echo.default.svc.cluster.local"
VIP = "10.96.33.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Env:
    api: StandinApiServer
    kubeconfig: Path
    agent_pod: str
    admin_port: int
    bpf_fs: Path

    def kmeshctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([KMESHCTL, "--kubeconfig", str(self.kubeconfig), *args], capture_output=True,
                              text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})

    def dump(self, what: str, *args: str) -> subprocess.CompletedProcess:
        return self.kmeshctl("dump", what, "--pod", self.agent_pod, "-n", "kmesh-system",
                             "--admin-port", str(self.admin_port), *args)

    def local(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=10) as resp:
            return json.loads(resp.read())


def start_agent_pod(api: StandinApiServer) -> str:
    """The install's Namespace and DaemonSet through the stand-in: its DaemonSet controller
    schedules the agent pod on the Node; the pod runs in the host network (hostNetwork)."""
    objs = render_manifests(install_params("istiod-1-22-6.istio-system.svc:15012", "c1"))
    api.daemonset_controller = "ready"
    api.controller_delay = 0.0
    for obj in objs:
        if obj["kind"] in ("Namespace", "DaemonSet"):
            api.put(obj)
    deadline = time.monotonic() + 10
    while not (pods := [p for p in api.all_of("v1", "Pod") if p["metadata"]["namespace"] == "kmesh-system"]):
        assert time.monotonic() < deadline, "the DaemonSet controller made no pod"
        time.sleep(0.05)
    [pod] = pods
    assert pod["spec"]["hostNetwork"] is True and pod["spec"]["nodeName"] == "node-1"
    api.back_pod("kmesh-system", pod["metadata"]["name"], HostNetworkBackend())
    return pod["metadata"]["name"]


@pytest.fixture(scope="module")
def env(run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("dumppf")
    bpf_fs, cgroup = dataplane_paths(run_id, "dumppf")
    cgroup.mkdir(exist_ok=True)
    xds = XdsServer()
    xds_address = xds.add_listener("127.0.0.1:0")
    xds.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(
        service("default", HOST, VIP, [(80, 8080)]),
        workload("Kubernetes//Pod/default/echo-1", "10.77.1.1", {f"default/{HOST}": [(80, 8080)]}),
        workload("Kubernetes//Pod/default/echo-2", "10.77.1.2", {f"default/{HOST}": [(80, 8080)]})))
    xds.start()
    api = StandinApiServer().start()
    api.put(node("node-1"))
    admin_port = free_port()
    log = tmp / "agent.log"
    agent = subprocess.Popen(
        [KMESHCTL, "node", "run", "--enrollment", "local", "--node-name", "node-1", "--xds-address", xds_address,
         "--xds-insecure", "--bpf-fs", str(bpf_fs), "--cgroup2-path", str(cgroup), "--admin-port", str(admin_port),
         "--metrics-port", str(free_port())], stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    try:
        current = Env(api, api.write_kubeconfig(tmp / "kubeconfig"), start_agent_pod(api), admin_port, bpf_fs)
        deadline = time.monotonic() + 120
        while True:
            assert agent.poll() is None, log.read_text()[-3000:]
            try:
                if current.local("/debug/config_dump/dual-engine")["workloads"]:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield current
    finally:
        agent.terminate()
        agent.wait(timeout=20)
        api.stop()
        xds.stop()
        loader.cleanup(bpf_fs, cgroup)
        remove_cgroup_tree(cgroup)


def forwards(api: StandinApiServer) -> list[str]:
    return [r.path for r in api.requests if r.path.endswith("/portforward")]


def test_dump_config_pod_is_the_agents_cache(env: Env) -> None:
    before = len(forwards(env.api))
    result = env.dump("config", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == config_dump.cache_output(env.local("/debug/config_dump/dual-engine"))
    assert forwards(env.api)[before:] == [f"/api/v1/namespaces/kmesh-system/pods/{env.agent_pod}/portforward"]
    table = env.dump("config")
    assert table.returncode == 0, table.stderr
    assert f"default/{HOST}" in table.stdout and VIP in table.stdout and "10.77.1.2" in table.stdout


def test_dump_maps_pod_is_the_nodes_pinned_maps(env: Env) -> None:
    through_pod = env.dump("maps", "-o", "json")
    assert through_pod.returncode == 0, through_pod.stderr
    on_node = env.kmeshctl("dump", "maps", "--bpf-fs", str(env.bpf_fs), "-o", "json")
    assert on_node.returncode == 0, on_node.stderr
    maps = json.loads(through_pod.stdout)
    assert maps == json.loads(on_node.stdout)
    assert {VIP, "10.77.1.1", "10.77.1.2"} <= {e["key"]["addr"] for e in maps["km_frontend"]}
    table = env.dump("maps", "--map", "km_backend")
    assert table.returncode == 0, table.stderr
    assert "10.77.1.1" in table.stdout and "10.77.1.2" in table.stdout


def test_a_wrong_pod_or_port_is_one_line(env: Env) -> None:
    missing = env.kmeshctl("dump", "config", "--pod", "kmesh-nope", "-n", "kmesh-system",
                           "--admin-port", str(env.admin_port))
    assert missing.returncode == 1
    [line] = missing.stderr.strip().splitlines()
    # p24 F2: a pod not found is named with the agent pods there are, before any port-forward
    assert "pod kmesh-system/kmesh-nope not found (agent pods in kmesh-system: " in line and env.agent_pod in line
    closed = free_port()
    refused = env.kmeshctl("dump", "config", "--pod", env.agent_pod, "-n", "kmesh-system", "--admin-port", str(closed))
    # an --admin-port typed that is not the one the pod's agent serves: bad input, as `--sandbox S --admin-port N` (t43a 11)
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert str(closed) in line and "refused" in line.lower()
