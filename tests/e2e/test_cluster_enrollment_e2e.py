"""enable-ns and the cluster demo never take what another data plane or the user owns, on
the real cluster of the e2e tier (h86): the user's objects are made as kubectl would (another
field manager, none of kmeshctl's labels), the kmeshctl command is refused, and the real
kube-apiserver shows every object as it was (same uid, resourceVersion, labels).

  - H5: `enable-ns NS` of a namespace labelled istio.io/dataplane-mode=ambient: exit 2,
    nothing changed (the other named namespace neither), the fix is the same command with
    --overwrite, which then moves it to kmesh; `disable-ns` leaves ambient's label and says
    so; `enable-ns` of kmesh's own namespace (where install put the DaemonSet) and of
    kube-system: exit 2, nothing changed.
  - M10: the demo's own VirtualService after `kubectl patch vs fortio` (weights 70/30,
    field manager kubectl-patch) gets the demo's weights by force, said on stderr, and the
    run passes; a VirtualService fortio the user made in another namespace is refused,
    exit 2, before any change (nothing of the demo's applied there).
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
    refused = tier.kmeshctl("enable-ns", PLAIN_NS, AMBIENT_NS, "--timeout", "60", check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    line = one_error_line(refused)
    assert line.startswith(f"Error: namespace {AMBIENT_NS} is enrolled in another data plane ({MODE}=ambient) "
                           "(nothing was changed); pass --overwrite to move it to kmesh: `kmeshctl "), line
    assert f"enable-ns {PLAIN_NS} {AMBIENT_NS} --timeout 1m --overwrite`" in line, line
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
    assert f"namespace {AMBIENT_NS} released" in released.stdout, released.stdout
    assert MODE not in namespace_state(tier, AMBIENT_NS)[2]


def test_enable_ns_refuses_kmesh_and_kubernetes_own_namespaces(tier: Tier, installed) -> None:
    for name, why in ((AGENT_NAMESPACE, f"is where the kmesh node agent runs (DaemonSet {AGENT_NAMESPACE}/kmesh)"),
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


def run_demo(tier: Tier, namespace: str) -> subprocess.CompletedProcess:
    return tier.kmeshctl("demo", "traffic-shift", "--target", "cluster", "-n", namespace, "-c", "40",
                         check=False, timeout=900)


def test_the_demos_own_virtual_service_after_kubectl_patch_gets_its_weights_by_force(tier: Tier,
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

    again = run_demo(tier, demo_namespace)
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert f"VirtualService {demo_namespace}/fortio is the demo's, its spec changed by kubectl-patch: applying " \
           "the demo's weights with force" in again.stderr, again.stderr[-3000:]
    assert "field manager" not in again.stderr, again.stderr[-3000:]
    wait_for("the demo's own weights back", lambda: vs_weights(tier, demo_namespace) == [90, 10], timeout=30)


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
    assert line.startswith(f"Error: VirtualService {ns}/fortio was not made by kmeshctl demo (nothing was changed); "
                           f"run the demo in another namespace (-n) or delete it (`kubectl delete virtualservice "
                           f"fortio -n {ns}"), line
    after = tier.kubectl_json("get", VS_API, "fortio", "-n", ns)["metadata"]
    assert (after["uid"], after["resourceVersion"]) == (before["uid"], before["resourceVersion"])
    # nothing of the demo's applied there
    assert tier.kubectl_json("get", "deployments", "-n", ns)["items"] == []
    assert tier.kubectl("get", "service", "fortio", "-n", ns, check=False).returncode != 0
    assert MODE not in namespace_state(tier, ns)[2]
