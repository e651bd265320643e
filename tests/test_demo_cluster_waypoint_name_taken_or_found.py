"""Which waypoint the cluster demo's fortio Service uses: `--waypoint NAME` (cluster only),
else the one the namespace's istio.io/use-waypoint label names, else the only ready
kmeshctl waypoint of the namespace, else the manifest's `waypoint`. A user's own object
named `waypoint` (their Service) makes the fix name a free waypoint name and the demo
again with --waypoint naming it, both ready to paste."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from kmeshctl import kube
from kmeshctl.demo_cluster import ClusterTarget
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import connect
from kmeshctl.render import COMMON_LABELS
from kmeshctl.waypoint.deploy import GATEWAY_LABEL, WAYPOINT_LABEL
from demo_mesh_seed import fortio_docs, standin_mesh, waypoint_gateway
from standin import StandinApiServer, namespace

USE = "istio.io/use-waypoint"


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[StandinApiServer]:
    with standin_mesh(waypoint=None) as api:
        yield api


def _target(api: StandinApiServer, tmp_path: Path) -> ClusterTarget:
    client = connect(kube.KubeTarget(str(api.write_kubeconfig(tmp_path / "kubeconfig"))))
    return ClusterTarget(client, fortio_docs(), ("default", "fortio"), settle_s=0, ready_timeout_s=10)


def _service_label(api: StandinApiServer) -> str:
    return api.get("v1", "Service", "fortio", "default")["metadata"]["labels"][USE]


def test_a_users_service_named_waypoint_gets_a_free_name_and_the_demo_flag(server, tmp_path) -> None:
    server.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "waypoint", "namespace": "default"},
                "spec": {"ports": [{"port": 80, "targetPort": 8080}]}})
    with pytest.raises(KmeshctlError) as refused:
        _target(server, tmp_path).prepare(lambda _: None)
    fix = refused.value.fix
    assert "`kmeshctl waypoint apply -n default --name waypoint-demo --wait`" in fix
    assert "`kmeshctl demo traffic-shift --target cluster -n default --waypoint waypoint-demo`" in fix
    assert "Service default/waypoint" in fix
    server.put(waypoint_gateway(name="waypoint-demo"))  # the pasted `waypoint apply` (istiod programmed it)
    target = _target(server, tmp_path)
    target.waypoint = "waypoint-demo"
    said: list[str] = []
    target.prepare(said.append)
    assert "Service default/fortio uses waypoint default/waypoint-demo (--waypoint)" in said
    assert _service_label(server) == "waypoint-demo"


def test_the_namespaces_own_waypoint_label_is_used(server, tmp_path) -> None:
    labelled = namespace("default")
    labelled["metadata"].setdefault("labels", {})[USE] = "wp-team"
    server.put(labelled)
    server.put(waypoint_gateway(name="wp-team"))
    said: list[str] = []
    _target(server, tmp_path).prepare(said.append)
    assert "Service default/fortio uses waypoint default/wp-team (namespace default is labelled " \
           f"{USE}=wp-team)" in said
    assert _service_label(server) == "wp-team"


def test_the_only_ready_kmeshctl_waypoint_is_used(server, tmp_path) -> None:
    gateway = waypoint_gateway(name="waypoint-kmesh")
    gateway["metadata"]["labels"] = {**COMMON_LABELS, WAYPOINT_LABEL: "waypoint-kmesh"}
    server.put(gateway)
    server.put({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "waypoint-kmesh-0", "namespace": "default",
                             "labels": {GATEWAY_LABEL: "waypoint-kmesh", WAYPOINT_LABEL: "waypoint-kmesh",
                                        **COMMON_LABELS}},
                "spec": {"containers": [{"name": "envoy", "image": "envoy:test"}]},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    said: list[str] = []
    _target(server, tmp_path).prepare(said.append)
    assert "Service default/fortio uses waypoint default/waypoint-kmesh (the only ready kmeshctl waypoint in " \
           "default)" in said
    assert _service_label(server) == "waypoint-kmesh"


@pytest.mark.parametrize("flags, why", [(["--target", "local"], "--target local"),
                                        (["--sandbox", "h118-none"], "--sandbox h118-none names a local sandbox")])
def test_waypoint_is_refused_for_a_local_sandbox(tmp_path: Path, flags: list[str], why: str) -> None:
    result = subprocess.run([sys.executable, "-m", "kmeshctl", "demo", "traffic-shift", *flags, "--waypoint",
                             "waypoint-demo"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: --waypoint names the cluster waypoint the demo's Service uses, and {why}: ")


def test_waypoint_relabels_the_service_an_earlier_run_made(server, tmp_path) -> None:
    server.put(waypoint_gateway())
    _target(server, tmp_path).prepare(lambda _: None)
    assert _service_label(server) == "waypoint"
    server.put(waypoint_gateway(name="waypoint-demo"))
    target = _target(server, tmp_path)
    target.waypoint = "waypoint-demo"
    target.prepare(lambda _: None)
    assert _service_label(server) == "waypoint-demo"
