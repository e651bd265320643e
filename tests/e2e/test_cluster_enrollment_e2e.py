"""enable-ns and the cluster demo never take what another data plane or the user owns, on
the real cluster of the e2e tier (h86): the user's objects are made as kubectl would (another
field manager, none of kmeshctl's labels), the kmeshctl command is refused, and the real
kube-apiserver shows every object as it was (same uid, resourceVersion, labels).

  - H5: `enable-ns NS` of a namespace labelled istio.io/dataplane-mode=ambient: exit 2,
    nothing changed (the other named namespace neither), the fix is the same command with
    --overwrite, which then moves it to kmesh; `disable-ns` leaves ambient's label and says
    so, and after --overwrite puts ambient's label back (h101); `enable-ns` of kmesh's own
    namespace (where install put the DaemonSet) and of kube-system: exit 2, nothing changed.
  - M10: the demo's own VirtualService after `kubectl patch vs fortio` (weights 70/30,
    field manager kubectl-patch) is applied by force keeping the weights in force, which the
    demo measures (said on stderr) and leaves as it found them (h95: it used to reset them
    to the manifests' 90/10); a VirtualService fortio the user made in another namespace is refused,
    exit 2, before any change (nothing of the demo's applied there).
  - h99: the user's own Deployment netutils (`kubectl create deployment`), Service fortio
    and DestinationRule fortio in the demo's namespace are refused on one line, exit 2,
    each object as it was (the demo used to add its container to the Deployment and its
    port to the Service); a user's DaemonSet kmesh in kmesh-system (nothing of kmeshctl's
    installed) is not kmesh installed: the demo refuses, exit 1, nothing changed. That test
    uninstalls kmesh, so it is the last of the file (the module's `installed` is done).
"""

from __future__ import annotations

import json
import subprocess
from typing import Iterator

import pytest

from tests.e2e.test_cluster_e2e import AGENT_NAMESPACE, wait_for
from tests.e2e.test_cluster_ownership_e2e import one_error_line
from tests.e2e.tier import Tier

pytestmark = [pytest.mark.e2e, pytest.mark.root]

MODE = "istio.io/dataplane-mode"
AMBIENT_NS = "h86-team-b"  # the user's namespace another data plane (ambient) has
PLAIN_NS = "h86-team-a"  # the user's namespace with no data plane yet
DEMO_NS = "h86-demo"  # where the demo runs (its own objects)
USER_VS_NS = "h86-user-vs"  # the user's own VirtualService fortio
USER_MANAGER = "h86-user"  # the user's field manager
VS_API = "virtualservice.networking.istio.io"


def namespace_state(tier: Tier, name: str) -> tuple[str, str, dict]:
    """(uid, resourceVersion, labels) of a namespace as the API server has it now."""
    live = tier.kubectl_json("get", "namespace", name)
    return live["metadata"]["uid"], live["metadata"]["resourceVersion"], live["metadata"].get("labels") or {}


def create_namespace_as_user(tier: Tier, name: str, labels: dict[str, str]) -> None:
    tier.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", timeout=180)
    tier.kubectl("create", "namespace", name, f"--field-manager={USER_MANAGER}")
    if labels:
        tier.kubectl("label", "namespace", name, f"--field-manager={USER_MANAGER}",
                     *(f"{k}={v}" for k, v in labels.items()))


def delete_namespaces(tier: Tier, *names: str) -> None:
    for name in names:
        tier.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", check=False, timeout=180)


@pytest.fixture
def team_namespaces(tier: Tier) -> Iterator[None]:
    create_namespace_as_user(tier, AMBIENT_NS, {MODE: "ambient"})
    create_namespace_as_user(tier, PLAIN_NS, {})
    try:
        yield
    finally:
        delete_namespaces(tier, AMBIENT_NS, PLAIN_NS)


# ------------------------------------------------------------------ H5: enable-ns / disable-ns


def test_enable_ns_refuses_another_data_planes_namespace_and_changes_nothing(tier: Tier, team_namespaces) -> None:
    before = {name: namespace_state(tier, name) for name in (AMBIENT_NS, PLAIN_NS)}
    refused = tier.kmeshctl("enable-ns", PLAIN_NS, AMBIENT_NS, check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    line = one_error_line(refused)
    assert line.startswith(f"Error: namespace {AMBIENT_NS} is enrolled in another data plane ({MODE}=ambient) "
                           "(nothing was changed); pass --overwrite to move it to kmesh: `kmeshctl "), line
    assert f"enable-ns {PLAIN_NS} {AMBIENT_NS} --overwrite`" in line, line
    assert f"--context {tier.context}" in line or f"--context={tier.context}" in line, line  # typed flags kept
    assert {name: namespace_state(tier, name) for name in (AMBIENT_NS, PLAIN_NS)} == before


def test_overwrite_moves_it_to_kmesh_and_disable_ns_leaves_ambients_label(tier: Tier, team_namespaces) -> None:
    kept = namespace_state(tier, AMBIENT_NS)
    left = tier.kmeshctl("disable-ns", AMBIENT_NS)
    assert f"namespace {AMBIENT_NS} not enrolled in kmesh ({MODE}=ambient is another data plane's: left as it " \
           "is)" in " ".join(left.stdout.split()), left.stdout
    assert namespace_state(tier, AMBIENT_NS) == kept

    moved = tier.kmeshctl("enable-ns", AMBIENT_NS, "--overwrite")
    assert f"namespace {AMBIENT_NS} enrolled (was {MODE}=ambient)" in moved.stdout, moved.stdout
    assert namespace_state(tier, AMBIENT_NS)[2][MODE] == "Kmesh"
    released = tier.kmeshctl("disable-ns", AMBIENT_NS)
    # h101: the label --overwrite replaced (recorded in an annotation) is put back
    assert f"namespace {AMBIENT_NS} released ({MODE}=ambient put back" in " ".join(released.stdout.split()), \
        released.stdout
    assert namespace_state(tier, AMBIENT_NS)[2][MODE] == "ambient"


def test_enable_ns_refuses_kmesh_and_kubernetes_own_namespaces(tier: Tier, installed) -> None:
    # kmesh-system is refused before connecting (install's default namespace, known offline)
    for name, why in ((AGENT_NAMESPACE, "is kmesh's own (where install puts the node agent)"),
                      ("kube-system", "is Kubernetes' own")):
        before = namespace_state(tier, name)
        refused = tier.kmeshctl("enable-ns", name, check=False)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert one_error_line(refused).startswith(f"Error: namespace {name} {why}: enrolling it makes no sense "
                                                  "(nothing was changed)"), refused.stderr
        assert namespace_state(tier, name) == before


# ------------------------------------------------------------------ M10: the demo's VirtualService


def vs_weights(tier: Tier, namespace: str) -> list[int]:
    vs = tier.kubectl_json("get", VS_API, "fortio", "-n", namespace)
    return [r.get("weight") for r in vs["spec"]["http"][0]["route"]]


@pytest.fixture
def demo_namespace(tier: Tier, installed) -> Iterator[str]:
    create_namespace_as_user(tier, DEMO_NS, {})
    try:
        tier.kmeshctl("waypoint", "apply", "-n", DEMO_NS, "--image", tier.image("kmeshctl-waypoint"), "--wait",
                      "--timeout", "240", timeout=300)
        yield DEMO_NS
    finally:
        # its ClusterRoleBinding is cluster-scoped: deleting the namespace would leave it behind
        tier.kmeshctl("waypoint", "delete", "-n", DEMO_NS, "--ignore-not-found", check=False, timeout=180)
        delete_namespaces(tier, DEMO_NS)


def demo_virtual_service_version(tier: Tier, namespace: str) -> str:
    """The resourceVersion of VirtualService fortio in `namespace`, "" when there is none."""
    got = tier.kubectl("get", VS_API, "fortio", "-n", namespace, "-o", "jsonpath={.metadata.resourceVersion}",
                       check=False)
    return got.stdout.strip() if got.returncode == 0 else ""


def run_demo(tier: Tier, namespace: str, requests: int = 40) -> subprocess.CompletedProcess:
    return tier.kmeshctl("demo", "traffic-shift", "--target", "cluster", "-n", namespace, "-c", str(requests),
                         check=False, timeout=900)


def test_the_demos_own_virtual_service_after_kubectl_patch_is_measured_with_its_weights(tier: Tier,
                                                                                        demo_namespace: str) -> None:
    first = run_demo(tier, demo_namespace)
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    tier.kubectl("patch", VS_API, "fortio", "-n", demo_namespace, "--type=merge", "-p", json.dumps({"spec": {"http": [
        {"route": [{"destination": {"host": "fortio", "subset": "v1"}, "weight": 70},
                   {"destination": {"host": "fortio", "subset": "v2"}, "weight": 30}]}]}}))
    assert vs_weights(tier, demo_namespace) == [70, 30]
    managers = {m["manager"] for m in tier.kubectl_json("get", VS_API, "fortio", "-n", demo_namespace,
                                                        "--show-managed-fields")["metadata"]["managedFields"]}
    assert "kubectl-patch" in managers, managers

    again = run_demo(tier, demo_namespace, requests=100)  # 70/30 needs 64 to be told from an even spread
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert f"VirtualService {demo_namespace}/fortio is the demo's, its spec changed by kubectl-patch: measuring " \
           "the weights in force, v1=70, v2=30, and putting them back afterwards" in again.stderr, again.stderr[-3000:]
    assert "field manager" not in again.stderr, again.stderr[-3000:]
    assert "Phase 1: v1=70, v2=30" in again.stderr, again.stderr[-3000:]
    assert vs_weights(tier, demo_namespace) == [70, 30]


def deployment_replicas(tier: Tier, namespace: str, name: str) -> int:
    return int(tier.kubectl_json("get", "deployment", name, "-n", namespace)["spec"].get("replicas", 1))


def test_a_kubectl_scaled_subset_is_measured_as_scaled_and_one_scaled_to_zero_is_refused(tier: Tier,
                                                                                       demo_namespace: str) -> None:
    """(t46t 1: the demo refused a `kubectl scale` to 2 with no line to paste and set 0 back to 1.)"""
    first = run_demo(tier, demo_namespace)
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    tier.kubectl("scale", "deployment", "fortio-v1", "-n", demo_namespace, "--replicas=2")
    again = run_demo(tier, demo_namespace, requests=60)
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert f"Deployment {demo_namespace}/fortio-v1: 2 replicas, as field manager \"" in again.stderr, \
        again.stderr[-3000:]
    assert deployment_replicas(tier, demo_namespace, "fortio-v1") == 2

    tier.kubectl("scale", "deployment", "fortio-v2", "-n", demo_namespace, "--replicas=0")
    zero = run_demo(tier, demo_namespace)
    assert zero.returncode == 1, zero.stdout + zero.stderr[-3000:]
    assert f"`kubectl scale deployment fortio-v2 -n {demo_namespace} --replicas 1" in zero.stderr, zero.stderr[-3000:]
    assert "(HTTP 503, nothing was changed)" in zero.stderr, zero.stderr[-3000:]
    assert deployment_replicas(tier, demo_namespace, "fortio-v2") == 0


@pytest.fixture
def user_virtual_service(tier: Tier) -> Iterator[str]:
    create_namespace_as_user(tier, USER_VS_NS, {})
    tier.kubectl("create", f"--field-manager={USER_MANAGER}", "-f", "-", input=json.dumps({
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
        "metadata": {"name": "fortio", "namespace": USER_VS_NS},
        "spec": {"hosts": ["fortio"], "http": [{"route": [{"destination": {"host": "fortio"}}]}]}}))
    try:
        yield USER_VS_NS
    finally:
        delete_namespaces(tier, USER_VS_NS)


def test_a_users_virtual_service_fortio_is_refused_before_any_change(tier: Tier, installed,
                                                                     user_virtual_service: str) -> None:
    ns = user_virtual_service
    before = tier.kubectl_json("get", VS_API, "fortio", "-n", ns)["metadata"]
    refused = run_demo(tier, ns)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    # the demo's first line names its target, then the one Error line
    target, line = refused.stderr.strip().splitlines()
    assert target.startswith("Target: cluster ") and not refused.stdout, refused.stdout + refused.stderr
    assert line.startswith(f"Error: VirtualService {ns}/fortio exists and was not made by kmeshctl demo (nothing "
                           f"was changed); run the demo in another namespace (-n) or delete it: `kubectl delete -n "
                           f"{ns} virtualservice/fortio"), line
    after = tier.kubectl_json("get", VS_API, "fortio", "-n", ns)["metadata"]
    assert (after["uid"], after["resourceVersion"]) == (before["uid"], before["resourceVersion"])
    # nothing of the demo's applied there
    assert tier.kubectl_json("get", "deployments", "-n", ns)["items"] == []
    assert tier.kubectl("get", "service", "fortio", "-n", ns, check=False).returncode != 0
    assert MODE not in namespace_state(tier, ns)[2]


# ------------------------------------------------------------------ h99: the user's own objects

USER_OBJECTS_NS = "h99-team-x"  # the user's Deployment netutils, Service fortio, DestinationRule fortio


def users_objects(ns: str) -> list[dict]:
    """What `kubectl create deployment netutils`, `kubectl create service clusterip fortio`
    and a DestinationRule of the user's make (0 replicas: a settled Deployment)."""
    labels = {"app": "netutils"}
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fortio", "namespace": ns, "labels": {"app": "mine"}},
         "spec": {"selector": {"app": "mine"}, "ports": [{"name": "web", "port": 9000, "targetPort": 9000}]}},
        {"apiVersion": "networking.istio.io/v1alpha3", "kind": "DestinationRule",
         "metadata": {"name": "fortio", "namespace": ns},
         "spec": {"host": "fortio", "subsets": [{"name": "a", "labels": {"version": "a"}}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "netutils", "namespace": ns,
                                                                     "labels": dict(labels)},
         "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10"}]}}}},
    ]


@pytest.fixture
def users_objects_namespace(tier: Tier, installed) -> Iterator[list[dict]]:
    from tests.e2e.test_cluster_ownership_e2e import create_as_user

    create_namespace_as_user(tier, USER_OBJECTS_NS, {})
    objs = users_objects(USER_OBJECTS_NS)
    create_as_user(tier, *objs)
    try:
        yield objs
    finally:
        delete_namespaces(tier, USER_OBJECTS_NS)


def test_the_users_deployment_netutils_service_and_rule_fortio_are_refused_unchanged(
        tier: Tier, users_objects_namespace: list[dict]) -> None:
    from tests.e2e.test_cluster_ownership_e2e import snapshot

    ns = USER_OBJECTS_NS
    before = snapshot(tier, users_objects_namespace)
    refused = run_demo(tier, ns)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    target, line = refused.stderr.strip().splitlines()
    assert target.startswith("Target: cluster ") and not refused.stdout, refused.stdout + refused.stderr
    assert line.startswith(f"Error: Service {ns}/fortio, DestinationRule {ns}/fortio, Deployment {ns}/netutils exist "
                           "and were not made by kmeshctl demo (nothing was changed); run the demo in another "
                           f"namespace (-n) or delete them: `kubectl delete -n {ns} service/fortio "
                           "destinationrule/fortio deployment/netutils"), line
    assert "force-conflicts" not in line, line
    assert snapshot(tier, users_objects_namespace) == before
    deployment = tier.kubectl_json("get", "deployment", "netutils", "-n", ns)
    assert [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]] == ["pause"]
    assert tier.kubectl_json("get", "deployments", "-n", ns)["items"][1:] == []  # no fortio-v1/v2
    assert tier.kubectl("get", VS_API, "fortio", "-n", ns, check=False).returncode != 0
    assert MODE not in namespace_state(tier, ns)[2]


# Last of the file: it uninstalls kmesh (the module's `installed` has served every test above).

@pytest.fixture
def users_daemonset_kmesh(tier: Tier) -> Iterator[dict]:
    from tests.e2e.test_cluster_ownership_e2e import create_as_user, upstream_kmesh_objects

    tier.kmeshctl("uninstall", "--timeout", "120", timeout=180)
    assert json.loads(tier.kmeshctl("status", "-o", "json", check=False).stdout)["installed"] is False
    # upstream Kmesh's Namespace and DaemonSet, made by the user (it runs no pod: a settled object)
    objs = [o for o in upstream_kmesh_objects() if o["kind"] in ("Namespace", "DaemonSet")]
    create_as_user(tier, *objs)
    try:
        yield objs[-1]
    finally:
        tier.kubectl("delete", "daemonset", "kmesh", "-n", AGENT_NAMESPACE, "--ignore-not-found", "--wait=true",
                     check=False, timeout=180)
        delete_namespaces(tier, AGENT_NAMESPACE)


def test_a_users_daemonset_kmesh_is_not_kmesh_installed_for_the_demo(tier: Tier, users_daemonset_kmesh: dict) -> None:
    from tests.e2e.test_cluster_ownership_e2e import snapshot

    before = snapshot(tier, [users_daemonset_kmesh, {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": "default"}}])
    vs_before = demo_virtual_service_version(tier, "default")  # an earlier file's demo may have left one
    refused = run_demo(tier, "default")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(f"Error: kmesh is not installed (DaemonSet {AGENT_NAMESPACE}/kmesh was not made by "
                           "kmeshctl; nothing was changed)"), line
    assert "enable-ns" not in line, line
    assert snapshot(tier, [users_daemonset_kmesh, {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": "default"}}]) == before
    assert demo_virtual_service_version(tier, "default") == vs_before
