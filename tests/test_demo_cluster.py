"""The demo's cluster mode against the stand-in API server: apply examples/fortio with
server-side apply (validated against the cluster's Istio CRDs), wait for the pods of the
Deployments, find the fortio ClusterIP and the netutils pod, change the VirtualService's
weights and put them back. The stand-in serves Deployments (its Deployment controller
makes ReplicaSets and pods that become ready, or not) and allocates Service ClusterIPs,
as a real cluster does. Exec of the request loop into a real pod: test_demo_cluster_exec.py."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kmeshctl import kube
from kmeshctl.demo_cluster import ClusterTarget
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import KubeClient, connect
from demo_mesh_seed import seed_mesh
from standin import HostNetworkBackend, StandinApiServer, istio_crds, namespace, node

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "fortio"
VS_API = "networking.istio.io/v1alpha3"


def _documents() -> list[dict]:
    return [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


@pytest.fixture()
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def start(pods: str = "ready", **mesh: Any) -> tuple[StandinApiServer, KubeClient]:
        """``mesh``: seed_mesh's (default: kmesh ready, the waypoint programmed)."""
        server = StandinApiServer(crds=istio_crds())
        server.deployment_controller = pods
        server.controller_delay = 0.05
        server.put(namespace("default"))
        server.put(node("node-a"))
        seed_mesh(server, **mesh)
        server.start()
        started.append(server)
        return server, connect(kube.KubeTarget(str(server.write_kubeconfig(tmp_path / "kubeconfig"))))

    started: list[StandinApiServer] = []
    yield start
    for server in started:
        server.stop()


def test_cluster_mode_applies_waits_and_changes_weights(cluster) -> None:
    server, client = cluster()
    lines: list[str] = []
    target = ClusterTarget(client, _documents(), ("default", "fortio"), settle_s=0, ready_timeout_s=10)
    target.prepare(lines.append)

    assert server.get("v1", "Namespace", "default")["metadata"]["labels"]["istio.io/dataplane-mode"] == "Kmesh"
    for name in ("fortio-v1", "fortio-v2", "netutils"):
        assert server.get("apps/v1", "Deployment", name, "default")["status"]["readyReplicas"] == 1
        assert any(f"Deployment {name}: 1/1 pods ready" in line for line in lines)
    cluster_ip = server.get("v1", "Service", "fortio", "default")["spec"]["clusterIP"]
    assert ipaddress.IPv4Address(cluster_ip) in ipaddress.IPv4Network("10.96.0.0/16")
    assert target.service_url() == f"http://{cluster_ip}:80/"
    [netutils] = [p for p in server.all_of("v1", "Pod") if p["metadata"]["labels"]["app"] == "netutils"]
    assert target._client_pod == netutils["metadata"]["name"]
    assert netutils["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"

    def weights() -> list[int]:
        vs = server.get(VS_API, "VirtualService", "fortio", "default")
        return [r["weight"] for r in vs["spec"]["http"][0]["route"]]

    assert weights() == [90, 10]
    target.set_weights([0, 100])
    assert weights() == [0, 100]
    target.finish(lines.append)
    assert weights() == [90, 10]
    assert "restoring the VirtualService's weights" in lines


def test_applying_twice_changes_nothing(cluster) -> None:
    server, client = cluster()
    ClusterTarget(client, _documents(), ("default", "fortio"), ready_timeout_s=10).prepare(lambda _: None)
    pods = {p["metadata"]["name"] for p in server.all_of("v1", "Pod")}
    lines: list[str] = []
    ClusterTarget(client, _documents(), ("default", "fortio"), ready_timeout_s=10).prepare(lines.append)
    assert [line for line in lines if line.endswith(" unchanged")] and \
        not [line for line in lines if line.endswith((" created", " configured"))]
    assert {p["metadata"]["name"] for p in server.all_of("v1", "Pod")} == pods  # nothing rolled


def test_pods_that_never_get_ready_end_with_the_reason(cluster) -> None:
    _, client = cluster(pods="stuck")
    target = ClusterTarget(client, _documents(), ("default", "fortio"), ready_timeout_s=1.5)
    with pytest.raises(KmeshctlError, match=r"fortio-v1: 0/1 pods ready after 2s \(fortio-v1-\w+-\w{5}: "
                                            r"ImagePullBackOff"):
        target.prepare(lambda _: None)


def test_target_cluster_without_a_cluster_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kmeshctl", "--kubeconfig", str(tmp_path / "none"),
                             "demo", "traffic-shift", "--target", "cluster"],
                            capture_output=True, text=True, env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 2  # a kubeconfig that was named and does not exist: bad input
    [line] = result.stderr.strip().splitlines()
    # refused as on every command, before the demo looks at --target (docs/usage.md)
    assert line.startswith(f"Error: --kubeconfig {tmp_path / 'none'}: does not exist; ")


def test_the_loop_runs_through_exec_and_a_failing_command_is_an_error(cluster) -> None:
    server, client = cluster()
    target = ClusterTarget(client, _documents(), ("default", "fortio"), settle_s=0, ready_timeout_s=10)
    target.prepare(lambda _: None)
    server.back_pod("default", target._client_pod, HostNetworkBackend())  # harmless commands only
    assert list(target.run_loop(["sh", "-c", "echo 1 0 200 1; printf '2 0 200 2'"])) == ["1 0 200 1", "2 0 200 2"]
    with pytest.raises(KmeshctlError, match=r"^the request loop in pod default/(netutils-\S+) exited with code 4; "
                                            r"see `kubectl describe pod -n default \1`$"):
        list(target.run_loop(["sh", "-c", "echo partial; exit 4"]))


def test_an_exec_the_cluster_refuses_is_one_line(cluster, tmp_path: Path) -> None:
    server, _ = cluster()  # its pods are ready, but nothing runs them: no exec possible
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig-cli")
    result = subprocess.run([sys.executable, "-m", "kmeshctl", "--kubeconfig", str(kubeconfig), "demo",
                             "traffic-shift", "--target", "cluster", "--requests", "3"],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: cannot exec in pod default/netutils-")
    assert 'the API server answered 400: unable to upgrade connection: container not found ("netutils")' in last
