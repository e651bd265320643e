"""F19I A: each namespace may have its own waypoint named `waypoint` (istioctl's default),
as in Kubernetes. The sandbox, whose pod names are unique across namespaces, names those
waypoints' pods `waypoint-<namespace>`; each waypoint keeps its name for routing, labels
and `status`. A real clash of pod names names what makes both pods."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kmeshctl.errors import UsageError
from kmeshctl.sandbox import manifests as m
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.pods import plan_pods
from kmeshctl.sandbox.topology import Topology, WaypointInfo, check_no_name_clash
from kmeshctl.sandbox.workloads import build_workload_resources

NAMESPACES = ("team-a", "team-b")


def _team(namespace: str, app: str, waypoint: str = "waypoint") -> str:
    return f"""apiVersion: v1
kind: Namespace
metadata: {{name: {namespace}, labels: {{istio.io/dataplane-mode: Kmesh}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {app}, namespace: {namespace}, labels: {{istio.io/use-waypoint: {waypoint}}}}}
spec:
  selector: {{app: {app}}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {app}, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: {app}}}}}
  template:
    metadata: {{labels: {{app: {app}}}}}
    spec:
      containers:
        - name: fortio
          image: fortio/fortio:1.68.2
          ports: [{{name: http, containerPort: 8080}}]
          args: [server, -http-port, "0.0.0.0:8080", -echo-server-default-params, "header=server:{app}"]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: client-{namespace}, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: client-{namespace}}}}}
  template:
    metadata: {{labels: {{app: client-{namespace}}}}}
    spec:
      containers: [{{name: netutils, image: hwchiu/netutils}}]
"""


def _write_teams(directory: Path, waypoint_b: str = "waypoint") -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = [directory / "team-a.yaml", directory / "team-b.yaml"]
    files[0].write_text(_team("team-a", "web-a"))
    files[1].write_text(_team("team-b", "web-b", waypoint_b))
    return files


def test_two_namespaces_each_with_a_waypoint_named_waypoint_get_distinct_pods(tmp_path: Path) -> None:
    manifests = m.load(_write_teams(tmp_path))
    check_no_name_clash(manifests)
    waypoints = [p for p in plan_pods(manifests) if p.waypoint]
    assert [(p.name, p.namespace, p.deployment) for p in waypoints] == [
        ("waypoint-team-a", "team-a", "waypoint"), ("waypoint-team-b", "team-b", "waypoint")]
    assert all(p.labels["gateway.networking.k8s.io/gateway-name"] == "waypoint" for p in waypoints)


def test_a_waypoint_name_used_once_still_names_its_pod(tmp_path: Path) -> None:
    manifests = m.load(_write_teams(tmp_path, waypoint_b="waypoint-b"))
    assert [p.name for p in plan_pods(manifests) if p.waypoint] == ["waypoint", "waypoint-b"]


def test_each_services_traffic_goes_to_its_own_namespaces_waypoint(tmp_path: Path) -> None:
    manifests = m.load(_write_teams(tmp_path))
    plans = plan_pods(manifests)
    ips = {p.name: f"10.244.0.{i + 2}" for i, p in enumerate(plans)}
    # as `up` records them (sandbox._create_pods): the waypoint's name, its pod's name
    waypoints = [WaypointInfo(p.deployment, p.namespace, p.name, ips[p.name]) for p in plans if p.waypoint]
    topology = Topology(manifests, [], {(s.namespace, s.name): f"10.96.0.{10 + i}"
                                        for i, s in enumerate(manifests.services)}, waypoints)
    used = {s.namespace: topology.waypoint_of(s) for s in manifests.services}
    assert used["team-a"].pod == "waypoint-team-a" and used["team-b"].pod == "waypoint-team-b"
    assert [s.name for s in topology.services_of(used["team-b"])] == ["web-b"]
    addresses = next(iter(build_workload_resources(topology).values())).values()
    uids = {a.workload.uid for a in addresses if a.HasField("workload")}
    assert {"Kubernetes//Pod/team-a/waypoint-team-a", "Kubernetes//Pod/team-b/waypoint-team-b"} <= uids


def test_the_socket_paths_of_both_waypoints_differ_and_fit(tmp_path: Path) -> None:
    manifests = m.load(_write_teams(tmp_path))
    sb.check_socket_paths("f19iwp", manifests)
    state = sb.SandboxState(name="f19iwp")
    sockets = {state.envoy_admin_socket(WaypointInfo("waypoint", ns, f"waypoint-{ns}", "")) for ns in NAMESPACES}
    assert len(sockets) == 2


def test_a_real_clash_of_pod_names_names_both_makers(tmp_path: Path) -> None:
    files = _write_teams(tmp_path, waypoint_b="waypoint-b")
    files[1].write_text(files[1].read_text().replace("name: web-b, namespace", "name: web-a, namespace"))
    with pytest.raises(UsageError) as raised:
        plan_pods(m.load(files))
    assert str(raised.value) == ("two pods would be named web-a-0 (Deployment team-a/web-a and Deployment "
                                 "team-b/web-a): pod names must be unique across namespaces in the sandbox; "
                                 "rename one of them")


@pytest.mark.root
def test_a_sandbox_with_a_waypoint_named_waypoint_in_two_namespaces_routes_each(tmp_path: Path) -> None:
    name = "f19i-wp"
    kmeshctl = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")
    _write_teams(tmp_path / "teams")
    try:
        up = subprocess.run([kmeshctl, "sandbox", "up", "--name", name, "-q", "-f", str(tmp_path / "teams")],
                            capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stderr
        for namespace, app in (("team-a", "web-a"), ("team-b", "web-b")):
            curl = subprocess.run([kmeshctl, "sandbox", "exec", "--name", name, f"client-{namespace}-0", "--",
                                   "curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
                                   "-H", "x:y", f"http://{app}.{namespace}/"], capture_output=True, text=True,
                                  timeout=60)
            assert curl.stdout == "200", (curl.stdout, curl.stderr)
        status = subprocess.run([kmeshctl, "sandbox", "status", "--name", name], capture_output=True, text=True,
                                timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        for namespace in NAMESPACES:
            assert f"Waypoint {namespace}/waypoint (pod waypoint-{namespace}, " in status.stdout, status.stdout
    finally:
        subprocess.run([kmeshctl, "sandbox", "down", "--name", name], capture_output=True, timeout=300)
