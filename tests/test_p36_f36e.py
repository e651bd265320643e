"""f36e (t36c findings 1, 2, 4, 6, 7, 8, 10): waypoints on a real cluster's states.

1 `waypoint status` of a waypoint `kubectl scale --replicas=0` emptied was exit 2 (`--replicas 0 is
  out of range`, a flag status has not): now its 0/0 state, not healthy, exit 1, with the fix.
2 the "to keep it" line of an apply over it (`--replicas 0`) was refused: 0 is accepted (as kubectl scale).
4 a pod of a fresh scale-up was reported as `cannot ask its controller (no agent admin endpoint
  ... pass --admin-port 15000)`: now `not ready yet (starting ...)`.
6 istiod scaled to 0: `apply --wait` blamed a revision-only istiod, `status` said healthy: both now
  name the istiod Deployment with no ready replica, status exits 1.
7 a stop over an unchanged, existing waypoint offered its delete: now says the earlier one is unchanged.
8 a namespace being deleted read as an RBAC refusal (and the demo offered the apply there).
10 an apply without --image over a custom image put the default back silently (and the demo's
  re-apply line did it too): now the same "to keep it" warning; the demo's line keeps the image.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import json

import pytest

from kmeshctl import apply as applier
from kmeshctl import kube
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import connect
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd
from test_cli_waypoint_interrupt import _error_line, _stopping_after

IMAGE = "registry.example/team/kmeshctl-waypoint:1.2.3"
PROGRAMMED = {"addresses": [{"value": "10.96.0.20"}],
              "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed"}]}
REPORT = {"waypoint": "default/waypoint", "port": 15019, "services": [], "routes": {}, "problems": [],
          "envoy": {"ready": True, "acked": True, "error": ""}}


def _ready(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))


def _applied(cluster, *flags: str) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", *flags).code == 0
    cluster.server.set_status(deploy.GATEWAY_API, "Gateway", "waypoint", "default", PROGRAMMED)


def _scaled_to(cluster, replicas: int) -> None:  # noqa: F811
    """As `kubectl scale deploy waypoint --replicas=N`: another field manager writes spec.replicas."""
    live = cluster.server.get("apps/v1", "Deployment", "waypoint", "default")
    live["spec"]["replicas"] = replicas
    cluster.server.put(live, "kubectl")


def _istiod(cluster, replicas: int) -> None:  # noqa: F811
    """istiod's Service and Deployment in istio-system, the Deployment with no ready replica."""
    cluster.server.put(namespace("istio-system"))
    labels = {"app": "istiod", "istio": "pilot"}
    cluster.server.put({"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "istiod", "namespace": "istio-system", "labels": {"app": "istiod"}},
        "spec": {"selector": labels, "ports": [{"name": "grpc-xds", "port": 15012, "protocol": "TCP"}]}})
    cluster.server.put({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "istiod", "namespace": "istio-system"}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels}, "spec": {"containers": [{"name": "discovery", "image": "istio/pilot"}]}}}})
    cluster.server.set_status("apps/v1", "Deployment", "istiod", "istio-system",
                              {"observedGeneration": 1, "replicas": replicas})


# ---------------------------------------------------------------- 1, 2: scaled to 0


def test_status_of_a_waypoint_scaled_to_zero_is_its_state_not_a_flag_error(cluster) -> None:  # noqa: F811
    _applied(cluster, "--image", IMAGE)
    _scaled_to(cluster, 0)
    result = cluster.kmeshctl("waypoint", "status", "-n", "default")
    assert result.code == 1, result
    assert "out of range" not in result.err and "Waypoint default/waypoint: 0/0 pods ready" in result.out, result
    assert "scaled to 0 replicas" in result.out, result
    assert f"waypoint apply -n default --name waypoint --image {IMAGE} --replicas 1`" in result.out, result
    document = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "waypoint", "-o", "json")
    assert document.code == 1, document
    parsed = json.loads(document.out)
    assert parsed["healthy"] is False and parsed["pods"] == {} and "scaled to 0" in parsed["problems"][0], parsed


def test_the_keep_line_of_an_apply_over_a_waypoint_at_zero_is_accepted(cluster) -> None:  # noqa: F811
    _applied(cluster)
    _scaled_to(cluster, 0)
    # (the stand-in's scale is an Update of spec.replicas, kubectl edit's: a conflict without --force-conflicts;
    # a real cluster's /scale leaves none)
    warned = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--dry-run", "--force-conflicts")
    assert warned.code == 0 and "its replicas would go from 0 to 1" in warned.err, warned
    keep = warned.err.split("to keep it: `")[1].split("`")[0]
    assert keep.endswith("--force-conflicts --replicas 0"), keep
    pasted = cluster.kmeshctl(*keep.split()[1:])
    assert pasted.code == 0 and "replicas: 0" in pasted.out and "Warning" not in pasted.err, pasted


# ---------------------------------------------------------------- 4: a pod still starting


def _waypoint_pod(cluster, monkeypatch, ready: bool) -> None:  # noqa: F811
    """Pod waypoint-1 running, Ready or not, whose controller refuses the port-forward."""
    status: dict = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if not ready:
        status["containerStatuses"] = [{"name": "controller", "ready": False}]
    cluster.server.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "waypoint-1", "namespace": "default",
        "labels": {deploy.GATEWAY_LABEL: "waypoint", **deploy.COMMON_LABELS, deploy.WAYPOINT_LABEL: "waypoint"}},
        "spec": {"containers": [{"name": "controller", "image": "x"}]}, "status": status})

    def refused(*_: object) -> dict:
        raise KmeshctlError("no agent admin endpoint at port 15020 of default/waypoint-1 (error forwarding port "
                            "15020 to pod: connection refused): the agent serves port 15000 (its "
                            "--admin-port=15000); pass --admin-port 15000")

    monkeypatch.setattr(deploy, "pod_status", refused)


def test_a_pod_still_starting_is_not_an_agent_admin_port_problem(cluster, monkeypatch) -> None:  # noqa: F811
    _applied(cluster)
    _waypoint_pod(cluster, monkeypatch, ready=False)
    result = cluster.kmeshctl("waypoint", "status", "-n", "default")
    assert result.code == 1, result
    assert "waypoint-1: not ready yet (starting: container controller not ready)" in result.out, result
    assert "admin" not in result.out + result.err, result


def test_a_ready_pods_silent_controller_is_said_in_waypoint_words(cluster, monkeypatch) -> None:  # noqa: F811
    _applied(cluster)
    _waypoint_pod(cluster, monkeypatch, ready=True)
    result = cluster.kmeshctl("waypoint", "status", "-n", "default")
    assert result.code == 1, result
    assert "its controller does not answer on port 15020 (error forwarding port 15020 to pod: connection " \
           "refused)" in result.out, result
    assert "--admin-port" not in result.out and "kubectl logs waypoint-1 -n default -c controller" in result.out


# ---------------------------------------------------------------- 6: istiod scaled to 0


def test_apply_wait_and_status_name_istiod_scaled_to_zero(cluster) -> None:  # noqa: F811
    cluster.server.deployment_controller = "ready"
    _ready(cluster)
    _istiod(cluster, 0)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--wait", "--timeout", "1s")
    assert result.code == 1, result
    assert "Deployment istio-system/istiod has 0/0 ready replicas: scale it up (`kubectl -n istio-system scale " \
           "deploy istiod --replicas=1" in result.err, result
    assert "revision only" not in result.err and "--revision" not in result.err, result
    status = cluster.kmeshctl("waypoint", "status", "-n", "default", "-o", "json")
    monkeypatched = json.loads(status.out)
    assert status.code == 1 and monkeypatched["healthy"] is False, status
    assert "istiod has not programmed its Gateway" in monkeypatched["problems"][0], monkeypatched
    assert "Deployment istio-system/istiod has 0/0 ready replicas" in monkeypatched["problems"][0], monkeypatched


def test_without_a_default_istiod_the_revision_hint_stays(cluster) -> None:  # noqa: F811
    _ready(cluster)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--wait", "--timeout", "1s")
    assert result.code == 1 and "istiod installed with a revision only" in result.err, result


# ---------------------------------------------------------------- 7: a stop over an existing waypoint


def test_a_stop_over_an_existing_waypoint_never_offers_its_delete(cluster, monkeypatch) -> None:  # noqa: F811
    _applied(cluster)
    monkeypatch.setattr(applier, "apply_one", _stopping_after(2, "SIGTERM", applier.apply_one))
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--wait")
    assert result.code == 143, result
    line = _error_line(result)
    assert "waypoint delete" not in line, line
    assert line.endswith("to apply the rest (the earlier waypoint default/waypoint is unchanged)"), line
    assert cluster.server.get(deploy.GATEWAY_API, "Gateway", "waypoint", "default") is not None


def test_a_stop_of_a_new_waypoint_still_offers_the_delete(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    monkeypatch.setattr(applier, "apply_one", _stopping_after(2, "SIGTERM", applier.apply_one))
    line = _error_line(cluster.kmeshctl("waypoint", "apply", "-n", "default"))
    assert "to apply the rest, or remove what was applied with `" in line and "waypoint delete -n default`" in line, \
        line


# ---------------------------------------------------------------- 8: a namespace being deleted


def _terminating(cluster, name: str) -> None:  # noqa: F811
    ns = namespace(name)
    ns["metadata"]["deletionTimestamp"] = "2026-12-04T19:00:00Z"
    ns["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.server.put(ns)
    cluster.server.set_status("v1", "Namespace", name, "", {"phase": "Terminating", "conditions": [{
        "type": "NamespaceFinalizersRemaining", "status": "True",
        "message": "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"}]})


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["apply", "dry-run"])
def test_apply_into_a_namespace_being_deleted_says_so(cluster, dry_run: list[str]) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    _terminating(cluster, "going")
    result = cluster.kmeshctl("waypoint", "apply", "-n", "going", *dry_run)
    assert result.code == 1, result
    assert "namespace going is being deleted (Terminating: Some content in the namespace has finalizers " \
           "remaining: example.com/hold" in result.err, result
    assert "RBAC" not in result.err and "auth can-i" not in result.err, result


def test_the_demo_offers_no_apply_in_a_namespace_being_deleted(cluster) -> None:  # noqa: F811
    from kmeshctl import demo_cluster

    cluster.server.put(gateway_crd())
    _terminating(cluster, "going")
    client = connect(kube.KubeTarget(str(cluster.kubeconfig)))
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "going"}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": demo_cluster.SERVICE, "namespace": "going"}}]
    error = demo_cluster._namespace_error(client, objs, "nothing was changed")
    assert error is not None and "namespace going is being deleted" in str(error), error
    assert "waypoint apply" not in str(error), error


# ---------------------------------------------------------------- 10: the image kept


def test_an_apply_without_image_over_a_custom_one_warns_with_the_keep_line(cluster) -> None:  # noqa: F811
    _applied(cluster, "--image", IMAGE)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--dry-run")
    assert result.code == 0, result
    assert f"its image would go from {IMAGE} to {deploy.DEFAULT_IMAGE} (--image not given: the default); to keep " \
           f"it: `" in result.err, result
    assert result.err.split("to keep it: `")[1].split("`")[0].endswith(f"--dry-run --image {IMAGE}"), result


def test_the_demos_reapply_line_keeps_the_image(cluster) -> None:  # noqa: F811
    from kmeshctl import demo_cluster

    _applied(cluster, "--image", IMAGE)
    client = connect(kube.KubeTarget(str(cluster.kubeconfig)))
    assert demo_cluster._reapply_line(client, "default", "waypoint") == \
        f"kmeshctl waypoint apply -n default --name waypoint --image {IMAGE}"
    _scaled_to(cluster, 0)
    assert demo_cluster._reapply_line(client, "default", "waypoint").endswith(f"--image {IMAGE} --replicas 1")
