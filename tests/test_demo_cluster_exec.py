"""`kmeshctl demo traffic-shift --target cluster` end to end: the Kubernetes API is the
stand-in API server, and what runs its pods is a real local sandbox.

- The stand-in applies examples/fortio, its Deployment controller makes the pods, and
  each pod is backed by the sandbox pod of the same namespace and labels (the kubelet's
  part): `pods/exec` runs curl in the real netutils pod (its netns and cgroup).
- The fortio Service's ClusterIP is the VIP the sandbox's data plane serves it at, so
  curl's connect goes through the real eBPF hook to the real Envoy waypoint and the
  fortio pods.
- A stand-in istiod watches the VirtualService in the stand-in API server and pushes its
  weights to the sandbox's waypoint (what istiod does for a real waypoint), so the demo's
  live weight change reaches Envoy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch

from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.manifests import default_files
from kmeshctl.sandbox.pods import pod_of
from kmeshctl.sandbox.state import SandboxState
from kmeshctl.sandbox.waypoint import EnvoyAdmin, route_weights
from demo_mesh_seed import seed_mesh
from standin import PodnetBackend, StandinApiServer, istio_crds, namespace, node

pytestmark = pytest.mark.root

FQDN = "fortio.default.svc.cluster.local"
V1, V2 = f"outbound|80|v1|{FQDN}", f"outbound|80|v2|{FQDN}"
STATS = r"(upstream_rq_total|proxy_proto\.versions\.v2\.found)$"


class SandboxKubelet:
    """Backs each stand-in pod with the sandbox pod of the same namespace and labels."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def __call__(self, pod: dict) -> Optional[PodnetBackend]:
        meta = pod["metadata"]
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
        for record in self.state.pods:
            if not record.waypoint and record.namespace == meta["namespace"] and record.labels == labels:
                return PodnetBackend(pod_of(record))
        return None


class StandinIstiod:
    """Watches VirtualServices in the stand-in API server and pushes the fortio route's
    weights to the sandbox's waypoint, as istiod pushes a VirtualService to a waypoint."""

    def __init__(self, custom: k8s.CustomObjectsApi, sandbox: str) -> None:
        self.custom, self.sandbox = custom, sandbox
        self.pushed: list[list[int]] = [[90, 10]]  # what the sandbox came up with
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="standin-istiod", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        version = ""
        while not self._stop.is_set():
            try:
                for event in watch.Watch().stream(self.custom.list_namespaced_custom_object, "networking.istio.io",
                                                  "v1alpha3", "default", "virtualservices",
                                                  resource_version=version, timeout_seconds=1):
                    version = event["object"]["metadata"]["resourceVersion"]
                    self._push(event["object"])
            except Exception as err:  # noqa: BLE001 - record it; the test asserts there is none
                self.errors.append(repr(err))
                version = ""

    def _push(self, vs: dict) -> None:
        if vs["metadata"]["name"] != "fortio":
            return
        weights = [route["weight"] for route in vs["spec"]["http"][0]["route"]]
        if weights != self.pushed[-1]:
            sb.set_route_weights(self.sandbox, "default", "fortio", weights)  # returns once Envoy has them
            self.pushed.append(weights)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def sandbox(run_id: str) -> Iterator[SandboxState]:
    name = f"c{run_id}"
    sb.up(name, default_files())
    try:
        yield SandboxState.load(name)
    finally:
        sb.down(name)


@pytest.fixture
def cluster(sandbox: SandboxState, tmp_path: Path) -> Iterator[tuple[StandinApiServer, Path, StandinIstiod]]:
    api = StandinApiServer(crds=istio_crds())
    api.deployment_controller = "ready"
    api.controller_delay = 0.05
    api.put(namespace("default"))
    api.put(node("node-a"))
    seed_mesh(api)  # what the demo checks first: kmesh ready, the Service's waypoint programmed
    api.ips.pin("default", "fortio", sandbox.vips["default/fortio"])  # the VIP its data plane serves
    api.pod_backend_resolver = SandboxKubelet(sandbox)
    api.start()
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    cfg = k8s.Configuration()
    k8s_config.load_kube_config(str(kubeconfig), client_configuration=cfg, persist_config=False)
    istiod = StandinIstiod(k8s.CustomObjectsApi(k8s.ApiClient(cfg)), sandbox.name)
    try:
        yield api, kubeconfig, istiod
    finally:
        istiod.stop()
        api.stop()


def test_cluster_demo_execs_curl_in_the_real_netutils_pod_through_ebpf_and_envoy(sandbox, cluster) -> None:
    api, kubeconfig, istiod = cluster
    admin = EnvoyAdmin(sandbox.envoy_admin_socket(sandbox.waypoint_infos()[0]))
    before = admin.stats(STATS)
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    result = subprocess.run([sys.executable, "-m", "kmeshctl", "--kubeconfig", str(kubeconfig), "demo",
                             "traffic-shift", "--target", "cluster", "--requests", "100", "--weights",
                             "90/10,0/100", "-o", "json"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["target"] == "cluster" and report["failures"] == 0 and report["passed"]
    first, second = report["phases"]
    assert first["weights"] == {"v1": 90, "v2": 10} and first["requests"] == 100
    assert set(first["counts_by_server"]) == {"1", "2"} and sum(first["counts"].values()) == 100
    assert first["p_value"] >= 0.001
    assert second["weights"] == {"v1": 0, "v2": 100} and second["counts"] == {"v1": 0, "v2": 100}
    change = second["during_change"]
    assert change["requests"] > 0 and change["failures"] == 0

    # curl ran in the netutils pod through the stand-in's pods/exec ...
    [netutils] = [p for p in api.all_of("v1", "Pod") if p["metadata"]["labels"]["app"] == "netutils"]
    execs = [r for r in api.requests if r.path == f"/api/v1/namespaces/default/pods/"
                                                  f"{netutils['metadata']['name']}/exec"]
    assert len(execs) >= 4  # two phases, the background loop, the stop-file touch
    assert netutils["status"]["podIP"] == sandbox.pod("netutils-0").ip
    # ... to the ClusterIP, which the eBPF hook sent to Envoy with a PROXY v2 header per
    # connection, and Envoy routed by the weights istiod pushed.
    after = admin.stats(STATS)
    delta = {k: after[k] - before.get(k, 0) for k in after}
    total = 200 + change["requests"]
    assert delta["proxy_proto.versions.v2.found"] == total
    assert delta[f"cluster.{V1}.upstream_rq_total"] + delta[f"cluster.{V2}.upstream_rq_total"] == total
    assert delta[f"cluster.{V1}.upstream_rq_total"] == first["counts"]["v1"] + change["counts"]["v1"]

    # The demo put the VirtualService back, and that reaches the waypoint too.
    vs = api.get("networking.istio.io/v1alpha3", "VirtualService", "fortio", "default")
    assert [r["weight"] for r in vs["spec"]["http"][0]["route"]] == [90, 10]
    deadline = time.monotonic() + 20
    while istiod.pushed[-1] != [90, 10] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert istiod.pushed == [[90, 10], [0, 100], [90, 10]] and istiod.errors == []
    routes = {c["name"]: c for c in admin.route_configs()}
    assert route_weights(routes[f"inbound-vip|80|http|{FQDN}"]) == {V1: 90, V2: 10}
