"""The demo's cluster mode against the stand-in API server: apply examples/fortio with
server-side apply (validated against the cluster's Istio CRDs), wait for the pods, find
the fortio ClusterIP and the netutils pod, change the VirtualService's weights and put
them back. (Exec into the pod needs a real cluster: the stand-in has no exec.)

The stand-in is extended here with what a real cluster has for these objects: the
Deployment kind, a Deployment "controller" that creates ready pods, and ClusterIP
allocation for Services."""

from __future__ import annotations

import copy
import ipaddress
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

import kmeshctl.cli  # noqa: F401  (kmeshctl.kube reads the CLI's global options)
from kmeshctl.cli.common import GLOBAL
from kmeshctl.demo_cluster import ClusterTarget
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import KubeClient, connect
from tests.standin_apiserver import Resource, StandinApiServer, istio_crds, namespace, now

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "fortio"
DEPLOYMENT = Resource("apps", "v1", "Deployment", "deployments", True)
SERVICE_RANGE = ipaddress.IPv4Network("10.96.0.0/24")


class ClusterWithDeployments(StandinApiServer):
    """The stand-in plus Deployments whose pods become ready (or never do) and
    Services that get a ClusterIP, as the controllers of a real cluster would do."""

    def __init__(self, pods_become_ready: bool = True) -> None:
        super().__init__(crds=istio_crds())
        self.pods_become_ready = pods_become_ready
        self._next_ip = 10

    def served(self) -> list[Resource]:
        return [*super().served(), DEPLOYMENT]

    def after_write(self, res: Resource, obj: dict) -> None:
        super().after_write(res, obj)
        if res.kind == "Service" and not obj.get("spec", {}).get("clusterIP"):
            obj["spec"]["clusterIP"] = str(SERVICE_RANGE.network_address + self._next_ip)
            self._next_ip += 1
        if res.kind == "Deployment":
            threading.Timer(0.1, self._run_deployment, [copy.deepcopy(obj)]).start()

    def _run_deployment(self, deployment: dict) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        for index in range(int(spec.get("replicas", 1))):
            self.put(self._pod(meta, spec["template"], index), manager="kube-controller-manager")

    def _pod(self, meta: dict, template: dict, index: int) -> dict:
        ready = self.pods_become_ready
        containers = template["spec"]["containers"]
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{meta['name']}-5d4f8-{index}", "namespace": meta["namespace"],
                         "labels": dict(template["metadata"]["labels"]),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": f"{meta['name']}-5d4f8", "controller": True}]},
            "spec": copy.deepcopy(template["spec"]) | {"nodeName": "node-a"},
            "status": {
                "phase": "Running" if ready else "Pending",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "containerStatuses": [{"name": c["name"], "image": c["image"], "ready": ready,
                                       "restartCount": 0,
                                       "state": {"running": {"startedAt": now()}} if ready else
                                       {"waiting": {"reason": "ErrImagePull"}}} for c in containers],
            },
        }


def _documents() -> list[dict]:
    return [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


@pytest.fixture()
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def start(pods_become_ready: bool = True) -> tuple[ClusterWithDeployments, KubeClient]:
        server = ClusterWithDeployments(pods_become_ready)
        server.put(namespace("default"))
        server.start()
        started.append(server)
        monkeypatch.setattr(GLOBAL, "kubeconfig", str(server.write_kubeconfig(tmp_path / "kubeconfig")))
        monkeypatch.setattr(GLOBAL, "context", None)
        return server, connect()

    started: list[ClusterWithDeployments] = []
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
        assert server.get("apps/v1", "Deployment", name, "default") is not None
    assert any("fortio-v1: 1/1 pods ready" in line for line in lines)
    assert target.service_url() == "http://10.96.0.10:80/"
    assert target._client_pod == "netutils-5d4f8-0"

    def weights() -> list[int]:
        vs = server.get("networking.istio.io/v1alpha3", "VirtualService", "fortio", "default")
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
    lines: list[str] = []
    ClusterTarget(client, _documents(), ("default", "fortio"), ready_timeout_s=10).prepare(lines.append)
    assert [line for line in lines if line.endswith(" unchanged")] and \
        not [line for line in lines if line.endswith((" created", " configured"))]


def test_pods_that_never_get_ready_end_with_the_reason(cluster) -> None:
    _, client = cluster(pods_become_ready=False)
    target = ClusterTarget(client, _documents(), ("default", "fortio"), ready_timeout_s=1.5)
    with pytest.raises(KmeshctlError, match=r"fortio-v1: 0/1 pods ready after 2s \(fortio-v1-5d4f8-0"):
        target.prepare(lambda _: None)


def test_target_cluster_without_a_cluster_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kmeshctl", "--kubeconfig", str(tmp_path / "none"),
                             "demo", "traffic-shift", "--target", "cluster"],
                            capture_output=True, text=True, env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: --target cluster: cannot load kubeconfig")
