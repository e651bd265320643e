"""`kmeshctl node run` enrolling from Kubernetes (the stand-in API server: no real API
server runs here) on the real kernel: the agent takes its node's locality from the Node's
topology labels, and the priority groups in the BPF maps follow it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from bpf_testlib import dataplane_paths
from kmeshctl.podnet import remove_cgroup_tree
from kmeshctl import dump
from kmeshctl.node import loader
from kmeshctl.node.locality import REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.builders import addresses, service, workload
from kmeshctl.xds.protos import workload_pb2
from kmeshctl.xds.server import XdsServer
from standin_apiserver import StandinApiServer

pytestmark = pytest.mark.root

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")
NODE = "node-1"
KEY = "default/web.default.svc.cluster.local"
Scope = workload_pb2.LoadBalancing.Scope


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def pod_workload(n: int, region: str, zone: str, node: str = "node-2") -> workload_pb2.Workload:
    return workload(f"Kubernetes//Pod/default/web-{n}", f"10.77.0.{n}", {KEY: [(80, 8080)]},
                    locality=(region, zone, ""), node=node)


@pytest.fixture
def agent_env(run_id: str, tmp_path: Path) -> Iterator[dict]:
    bpf_fs, cgroup = dataplane_paths(run_id, "agentk")
    cgroup.mkdir(exist_ok=True)
    api = StandinApiServer().start()
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    xds = XdsServer()
    xds_address = xds.add_listener("127.0.0.1:0")
    xds.start()
    proc = None
    try:
        yield {"api": api, "kubeconfig": kubeconfig, "xds": xds, "xds_address": xds_address,
               "bpf_fs": bpf_fs, "cgroup": cgroup, "log": tmp_path / "agent.log",
               "start": lambda argv: _start(argv, tmp_path / "agent.log")}
    finally:
        for proc in _started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        _started.clear()
        xds.stop()
        api.stop()
        loader.cleanup(bpf_fs, cgroup)
        remove_cgroup_tree(cgroup)


_started: list[subprocess.Popen] = []


def _start(argv: list[str], log_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log_path.open("ab"), env=env)
    _started.append(proc)
    return proc


def test_priority_groups_follow_the_node_labels(agent_env: dict) -> None:
    api, xds = agent_env["api"], agent_env["xds"]
    api.put({"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": NODE, "labels": {REGION_LABEL: "r1", ZONE_LABEL: "z1", SUBZONE_LABEL: "s1"}}})
    xds.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(
        service("default", "web.default.svc.cluster.local", "10.96.77.1", [(80, 8080)],
                routing_preference=(Scope.REGION, Scope.ZONE)),
        pod_workload(1, "r1", "z1"), pod_workload(2, "r1", "z2"), pod_workload(3, "r2", "z1"),
        # a workload on this node whose locality disagrees: the Node's labels win
        pod_workload(4, "r2", "z2", node=NODE)))
    admin_port = free_port()
    proc = agent_env["start"]([
        KMESHCTL, "--kubeconfig", str(agent_env["kubeconfig"]), "node", "run", "--enrollment", "kubernetes",
        "--xds-address", agent_env["xds_address"], "--xds-insecure", "--node-name", NODE,
        "--bpf-fs", str(agent_env["bpf_fs"]), "--cgroup2-path", str(agent_env["cgroup"]),
        "--proc-root", "/proc", "--admin-port", str(admin_port), "--metrics-port", str(free_port())])
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, agent_env["log"].read_text()[-3000:]
        try:
            if http_get(admin_port, "/debug/ready")[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, agent_env["log"].read_text()[-3000:]
        time.sleep(0.2)

    node = json.loads(http_get(admin_port, "/debug/config_dump/dual-engine")[1])["node"]
    assert node == {"name": NODE, "locality_source": "node labels",
                    "locality": {"region": "r1", "zone": "z1", "subzone": "s1"}}
    slots = [e for e in dump.dump_json(agent_env["bpf_fs"], "km_endpoint")["km_endpoint"]
             if e["key"]["service_name"] == KEY]
    groups: dict[int, set[str]] = {}
    for slot in slots:
        groups.setdefault(slot["key"]["prio"], set()).add(slot["value"]["backend_name"].rsplit("-", 1)[1])
    assert groups == {0: {"1"}, 1: {"2"}, 2: {"3", "4"}}
    assert f"GET /api/v1/nodes/{NODE}" in {f"{r.method} {r.path}" for r in api.requests}
    proc.terminate()
    assert proc.wait(timeout=20) == 0
    log_text = agent_env["log"].read_text()
    assert f"event=node_locality source=node_labels node={NODE} region=r1 zone=z1 subzone=s1" in log_text
