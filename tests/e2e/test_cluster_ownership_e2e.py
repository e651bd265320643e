"""kmeshctl never takes over or deletes objects it did not make, on the real cluster of the
e2e tier: the user's objects are created as kubectl would (another field manager, none of
kmeshctl's labels), the kmeshctl command is refused, and the real kube-apiserver shows
every object as it was (same uid, resourceVersion, spec) and nothing created or deleted.

  - `waypoint delete --name X` with no waypoint X, but the user's Deployment, Service and
    ServiceAccount X: not found (exit 1), nothing deleted; the user's Gateway X: exit 2.
  - `waypoint apply --name fortio` over the user's app Service fortio: exit 2, nothing applied.
  - `install -n OTHER` while kmesh runs in kmesh-system: exit 2 before any write, the
    ClusterRoleBinding still binds kmesh-system's agent; --dry-run the same.
Then, on the same install: status after the ClusterRole's rules were emptied by hand is
not healthy, and the restoring install it names (with --force-conflicts: kubectl patch's
field manager owns .rules) repairs it when pasted; status after an uninstall stopped by Ctrl-C says "partly
installed or partly uninstalled".

kmeshctl owns exactly the objects labelled app.kubernetes.io/managed-by=kmeshctl (h84):
  - H1: `uninstall -n NS` with nothing of kmeshctl's anywhere keeps the user's namespace NS
    and says `Nothing to uninstall` (exit 0), --dry-run too;
  - H2/H4: objects of kmesh's names made as upstream Kmesh's YAML makes them are left alone
    by uninstall, are conflicts (not "remaining") for status, no agent for version, and
    make install refuse before any write (exit 2, the kubectl delete fix), --dry-run too;
  - H3: install into the user's namespace leaves it unlabelled and uninstall keeps it; one
    enforcing Pod Security baseline is refused before any write with the kubectl label fix;
    a namespace kmeshctl made that holds the user's ConfigMap is kept by uninstall.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from typing import Iterator, Optional

import pytest
import yaml

from tests.e2e.test_cluster_e2e import AGENT_NAMESPACE, agent_pod, kmeshctl_json, wait_for
from tests.e2e.conftest import install_flags
from tests.e2e.tier import Tier

pytestmark = [pytest.mark.e2e, pytest.mark.root]

NS = "h78-own"  # the user's namespace of the waypoint cases
OTHER_NS = "h78-kmesh-other"  # the namespace of the refused second install
USER_MANAGER = "h78-user"  # the user's field manager (kubectl's own is kubectl-create)
COMPARED = ("spec", "subjects", "roleRef", "rules")


def kube_resource(obj: dict) -> str:
    """kubectl's name of obj's kind, group-qualified (clusterrole.rbac.authorization.k8s.io)."""
    group = obj["apiVersion"].rpartition("/")[0]
    return obj["kind"].lower() + (f".{group}" if group else "")


def snapshot(tier: Tier, objs: list[dict]) -> dict[str, Optional[tuple]]:
    """Each object as the API server has it now: ref -> (uid, resourceVersion, labels, the
    fields of COMPARED it has), None when it does not exist."""
    found: dict[str, Optional[tuple]] = {}
    for obj in objs:
        meta = obj["metadata"]
        where = ["-n", meta["namespace"]] if meta.get("namespace") else []
        ref = f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}"
        got = tier.kubectl("get", kube_resource(obj), meta["name"], *where, "-o", "json", check=False)
        if got.returncode != 0:
            assert "NotFound" in got.stderr, got.stderr
            found[ref] = None
            continue
        live = json.loads(got.stdout)
        found[ref] = (live["metadata"]["uid"], live["metadata"]["resourceVersion"],
                      json.dumps(live["metadata"].get("labels"), sort_keys=True),
                      json.dumps({k: live.get(k) for k in COMPARED}, sort_keys=True))
    return found


def create_as_user(tier: Tier, *objs: dict) -> None:
    """A plain create, as `kubectl create -f` (the user's field manager, no kmeshctl labels)."""
    tier.kubectl("create", f"--field-manager={USER_MANAGER}", "-f", "-",
                 input=yaml.safe_dump_all(objs))


def user_app(name: str) -> list[dict]:
    """The user's app named ``name``: ServiceAccount, Service, Deployment (0 replicas: a
    settled object the controllers stop writing to)."""
    labels = {"app": name}
    meta = {"name": name, "namespace": NS, "labels": labels}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta,
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
         "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"serviceAccountName": name,
                                        "containers": [{"name": "app", "image": "h78.invalid/app:1"}]}}}},
    ]


def deployment_settled(tier: Tier, name: str) -> bool:
    d = tier.kubectl_json("get", "deployment", "-n", NS, name)
    return d.get("status", {}).get("observedGeneration") == d["metadata"]["generation"]


def present(found: dict[str, Optional[tuple]]) -> list[str]:
    """The refs found, but for the ClusterRole every kmeshctl waypoint shares (another
    test file's waypoint may have it)."""
    return [ref for ref, v in found.items() if v is not None and not ref.startswith("ClusterRole ")]


def waypoint_objects(name: str) -> list[dict]:
    from kmeshctl.waypoint import deploy

    return deploy.render(deploy.WaypointParams(NS, name))


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert not result.stdout, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def user_namespace(tier: Tier) -> Iterator[str]:
    tier.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", timeout=180)
    tier.kubectl("create", "namespace", NS, f"--field-manager={USER_MANAGER}")
    try:
        yield NS
    finally:
        tier.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", check=False, timeout=180)


def test_waypoint_delete_of_a_name_only_the_users_app_has_deletes_nothing(tier: Tier, user_namespace) -> None:
    name = "h78-app"
    create_as_user(tier, *user_app(name))
    wait_for("the user's Deployment to settle", lambda: deployment_settled(tier, name))
    before = snapshot(tier, waypoint_objects(name))
    assert len(present(before)) == 3, before

    missing = tier.kmeshctl("waypoint", "delete", "-n", NS, "--name", name, check=False)
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert one_error_line(missing).startswith(f"Error: waypoint {NS}/{name} not found (waypoints in {NS}: none"), \
        missing.stderr
    ignored = tier.kmeshctl("waypoint", "delete", "-n", NS, "--name", name, "--ignore-not-found", check=False)
    assert ignored.returncode == 0, ignored.stdout + ignored.stderr
    assert ignored.stdout == f"Nothing to delete: waypoint {NS}/{name} does not exist.\n", ignored.stdout

    assert snapshot(tier, waypoint_objects(name)) == before


def test_waypoint_delete_refuses_the_users_own_gateway(tier: Tier, user_namespace) -> None:
    name = "h78-gw"
    create_as_user(tier, *user_app(name), {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": name, "namespace": NS},
        # a class nothing implements: no controller acts on (or writes to) this Gateway
        "spec": {"gatewayClassName": "h78-no-such-class",
                 "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}})
    wait_for("the user's Deployment to settle", lambda: deployment_settled(tier, name))
    before = snapshot(tier, waypoint_objects(name))
    assert len(present(before)) == 4, before

    refused = tier.kmeshctl("waypoint", "delete", "-n", NS, "--name", name, check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert one_error_line(refused).startswith(f"Error: Gateway {NS}/{name} (class h78-no-such-class, no "
                                              "app.kubernetes.io/managed-by label) was not made by kmeshctl "
                                              "waypoint apply"), \
        refused.stderr

    assert snapshot(tier, waypoint_objects(name)) == before


def test_waypoint_apply_over_the_users_app_service_applies_nothing(tier: Tier, user_namespace) -> None:
    name = "h78-fortio"
    service = user_app(name)[1]
    create_as_user(tier, service)
    before = snapshot(tier, waypoint_objects(name))
    assert present(before) == [f"Service {NS}/{name}"], before

    for extra in ((), ("--dry-run",), ("--dry-run", "-o", "json")):
        refused = tier.kmeshctl("waypoint", "apply", "-n", NS, "--name", name, *extra, check=False)
        assert refused.returncode == 2, (extra, refused.stdout + refused.stderr)
        assert one_error_line(refused).startswith(f"Error: Service {NS}/{name} exists and was not made by "
                                                  f"kmeshctl waypoint apply --name {name}; choose another --name"), \
            refused.stderr
        assert snapshot(tier, waypoint_objects(name)) == before, extra
    live = tier.kubectl_json("get", "service", "-n", NS, name, "--show-managed-fields")
    assert live["spec"]["selector"] == {"app": name}
    assert {m["manager"] for m in live["metadata"]["managedFields"]} == {USER_MANAGER}


# ------------------------------------------------------------------ objects kmeshctl did not make (h84)

TEAM_A = "h84-team-a"  # the user's namespace install is pointed at (Pod Security privileged, set by the user)
TEAM_B = "h84-team-b"  # the user's namespace enforcing Pod Security baseline
NO_NODE = {"h84.test/no-such-node": "true"}  # the user's DaemonSet runs no pod: a settled object


@pytest.fixture
def nothing_installed(tier: Tier) -> None:
    tier.kmeshctl("uninstall", "--timeout", "120", timeout=180)  # whatever an earlier file left
    assert json.loads(tier.kmeshctl("status", "-o", "json", check=False).stdout)["installed"] is False


def upstream_kmesh_objects() -> list[dict]:
    """What upstream Kmesh's own YAML makes under kmesh's names (kubectl create: no kmeshctl label)."""
    labels = {"app": "kmesh"}
    rbac = "rbac.authorization.k8s.io"
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": AGENT_NAMESPACE}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "h84-kmesh-config", "namespace": AGENT_NAMESPACE}, "data": {"mode": "dual-engine"}},
        {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": {"name": "kmesh"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
        {"apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "kmesh"},
         "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "kmesh"},
         "subjects": [{"kind": "ServiceAccount", "name": "kmesh", "namespace": AGENT_NAMESPACE}]},
        {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
         "metadata": {"name": "add-listener-filter", "namespace": "istio-system"},
         "spec": {"configPatches": []}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kmesh", "namespace": AGENT_NAMESPACE},
         "spec": {"selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"nodeSelector": NO_NODE,
                                        "containers": [{"name": "kmesh", "image": "registry.k8s.io/pause:3.10"}]}}}},
    ]


@pytest.fixture
def upstream_kmesh(tier: Tier, nothing_installed) -> Iterator[list[dict]]:
    objs = upstream_kmesh_objects()
    create_as_user(tier, *objs)
    try:
        yield objs
    finally:
        for obj in reversed(objs):
            meta = obj["metadata"]
            where = ["-n", meta["namespace"]] if meta.get("namespace") else []
            tier.kubectl("delete", kube_resource(obj), meta["name"], *where, "--ignore-not-found", "--wait=true",
                         check=False, timeout=180)


def test_uninstall_with_nothing_installed_keeps_the_users_namespace(tier: Tier, user_namespace,
                                                                    nothing_installed) -> None:
    namespace = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}]
    before = snapshot(tier, namespace)
    assert before[f"Namespace /{NS}"] is not None, before
    for extra in (("--dry-run",), ()):
        result = tier.kmeshctl("uninstall", "-n", NS, *extra, check=False, timeout=180)
        assert result.returncode == 0, (extra, result.stdout + result.stderr)
        assert f"Namespace {NS}: not made by kmeshctl, kept\n" in result.stdout, result.stdout
        assert result.stdout.splitlines()[-1].lower().endswith("nothing to uninstall: none of kmeshctl's objects "
                                                               "exist."), result.stdout
        assert " deleted" not in result.stdout, result.stdout
        assert snapshot(tier, namespace) == before, extra


def test_objects_of_kmesh_names_kmeshctl_did_not_make_are_left_alone_and_block_install(
        tier: Tier, upstream_kmesh) -> None:
    before = snapshot(tier, upstream_kmesh)
    assert all(v is not None for v in before.values()), before

    for extra in (("--dry-run",), ()):
        result = tier.kmeshctl("uninstall", *extra, check=False, timeout=180)
        assert result.returncode == 0, (extra, result.stdout + result.stderr)
        for ref in ("ClusterRole kmesh", "ClusterRoleBinding kmesh", "EnvoyFilter istio-system/add-listener-filter",
                    f"DaemonSet {AGENT_NAMESPACE}/kmesh"):
            assert f"{ref}: not made by kmeshctl, left alone\n" in result.stdout, (extra, ref, result.stdout)
        assert f"Namespace {AGENT_NAMESPACE}: not made by kmeshctl, kept\n" in result.stdout, result.stdout
        assert "nothing to uninstall" in result.stdout.lower(), result.stdout
        assert snapshot(tier, upstream_kmesh) == before, extra

    status = tier.kmeshctl("status", "-o", "json", check=False)
    assert status.returncode == 1, status.stdout + status.stderr
    state = json.loads(status.stdout)
    assert state["installed"] is False and state["remainingObjects"] == [], state
    assert {c.split(" exists")[0] for c in state["conflictingObjects"]} == {
        "ClusterRole kmesh", "ClusterRoleBinding kmesh", "EnvoyFilter istio-system/add-listener-filter",
        f"DaemonSet {AGENT_NAMESPACE}/kmesh"}, state
    table = tier.kmeshctl("status", check=False)
    assert table.returncode == 1 and "Partly" not in table.stdout, table.stdout
    assert (f"Conflict: DaemonSet {AGENT_NAMESPACE}/kmesh exists and was not made by kmeshctl, which blocks install: "
            f"delete it (`kubectl delete daemonset kmesh -n {AGENT_NAMESPACE}") in table.stdout, table.stdout
    assert "pause:3.10" not in table.stdout, table.stdout
    assert kmeshctl_json(tier, "version")["cluster"]["agents"] == []

    for extra in ((), ("--dry-run",), ("--dry-run", "-o", "json")):
        refused = tier.kmeshctl("install", *install_flags(tier), "--no-wait", *extra, check=False, timeout=120)
        assert refused.returncode == 2, (extra, refused.stdout + refused.stderr)
        line = one_error_line(refused)
        # every object of install's that is not kmeshctl's, in install's order (the Namespace is used as is), at
        # once, with a delete each; no -n advice: cluster-scoped and Istio-namespace objects block any -n (h101)
        assert line.startswith(f"Error: ClusterRole kmesh, ClusterRoleBinding kmesh, DaemonSet {AGENT_NAMESPACE}/kmesh "
                               "and EnvoyFilter istio-system/add-listener-filter exist and were not made by kmeshctl; "
                               "delete them (`kubectl delete clusterrole kmesh"), line
        assert "`kubectl delete envoyfilter add-listener-filter -n istio-system" in line, line
        assert "--force-conflicts" not in line and "(-n)" not in line.replace("--help", ""), line
        assert snapshot(tier, upstream_kmesh) == before, extra
    # precheck fails where install refuses, with install's fix (h101)
    checked = tier.kmeshctl("precheck", "-o", "json", check=False, timeout=120)
    row = next(c for c in json.loads(checked.stdout)["checks"] if c["name"] == "objects install would write")
    assert checked.returncode == 1 and row["status"] == "fail", row
    assert row["fix"].startswith("delete them (`kubectl delete clusterrole kmesh"), row
    assert tier.kubectl("get", "serviceaccount", "-n", AGENT_NAMESPACE, "kmesh", check=False).returncode != 0


def test_install_over_the_users_daemonset_alone_is_refused_with_the_namespace_fix(tier: Tier, upstream_kmesh) -> None:
    for obj in upstream_kmesh:  # only the Namespace and the DaemonSet stay
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding", "EnvoyFilter"):
            where = ["-n", obj["metadata"]["namespace"]] if obj["metadata"].get("namespace") else []
            tier.kubectl("delete", kube_resource(obj), obj["metadata"]["name"], *where, "--wait=true")
    kept = [o for o in upstream_kmesh if o["kind"] in ("Namespace", "ConfigMap", "DaemonSet")]
    before = snapshot(tier, kept + install_objects())
    for extra in ((), ("--dry-run",)):
        refused = tier.kmeshctl("install", *install_flags(tier), "--no-wait", *extra, check=False, timeout=120)
        assert refused.returncode == 2, (extra, refused.stdout + refused.stderr)
        line = one_error_line(refused)
        assert line.startswith(f"Error: DaemonSet {AGENT_NAMESPACE}/kmesh exists and was not made by kmeshctl; "
                               f"delete it (`kubectl delete daemonset kmesh -n {AGENT_NAMESPACE}"), line
        assert "or install into another namespace (-n)" in line, line
        assert snapshot(tier, kept + install_objects()) == before, extra
    live = tier.kubectl_json("get", "daemonset", "-n", AGENT_NAMESPACE, "kmesh", "--show-managed-fields")
    # the DaemonSet controller writes its status; no field is kmeshctl's
    managers = {m["manager"] for m in live["metadata"]["managedFields"]}
    assert managers - {"kube-controller-manager"} == {USER_MANAGER}, live["metadata"]


@pytest.fixture
def team_namespaces(tier: Tier, nothing_installed) -> Iterator[None]:
    for name, level in ((TEAM_A, "privileged"), (TEAM_B, "baseline")):
        tier.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", timeout=180)
        tier.kubectl("create", "namespace", name, f"--field-manager={USER_MANAGER}")
        tier.kubectl("label", "namespace", name, f"pod-security.kubernetes.io/enforce={level}",
                     f"--field-manager={USER_MANAGER}")
    create_as_user(tier, {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "h84-app", "namespace": TEAM_A}, "data": {"k": "v"}})
    try:
        yield
    finally:
        tier.kmeshctl("uninstall", "-n", TEAM_A, "--timeout", "120", check=False, timeout=180)
        for name in (TEAM_A, TEAM_B):
            tier.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", check=False, timeout=180)


def test_a_namespace_enforcing_baseline_is_refused_before_any_write(tier: Tier, team_namespaces) -> None:
    objs = installed_objects_in(TEAM_B)
    before = snapshot(tier, objs)
    for extra in ((), ("--dry-run",)):
        refused = tier.kmeshctl("install", "-n", TEAM_B, *install_flags(tier), "--no-wait", *extra, check=False,
                                timeout=120)
        assert refused.returncode == 2, (extra, refused.stdout + refused.stderr)
        line = one_error_line(refused)
        assert line.startswith(f"Error: namespace {TEAM_B} enforces Pod Security level baseline, and the agent pods "
                               "need privileged"), line
        assert f"`kubectl label namespace {TEAM_B} pod-security.kubernetes.io/enforce=privileged --overwrite" in line, \
            line
        assert snapshot(tier, objs) == before, extra
    # precheck says it first, with install's fix (h93)
    checked = tier.kmeshctl("precheck", "-n", TEAM_B, "-o", "json", check=False, timeout=120)
    row = next(c for c in json.loads(checked.stdout)["checks"] if c["name"] == "Pod Security level")
    assert checked.returncode == 1 and row["status"] == "fail", row
    assert f"`kubectl label namespace {TEAM_B} pod-security.kubernetes.io/enforce=privileged --overwrite" in \
        row["fix"], row


def test_install_into_the_users_namespace_neither_labels_it_nor_lets_uninstall_delete_it(
        tier: Tier, team_namespaces) -> None:
    labels = tier.kubectl_json("get", "namespace", TEAM_A)["metadata"]["labels"]
    result = tier.kmeshctl("install", "-n", TEAM_A, *install_flags(tier), "--timeout", "300", timeout=420)
    assert f"Namespace {TEAM_A}: not made by kmeshctl, used as is" in result.stderr, result.stderr
    assert f"DaemonSet {TEAM_A}/kmesh is ready" in result.stdout + result.stderr, result.stderr
    assert tier.kubectl_json("get", "namespace", TEAM_A)["metadata"]["labels"] == labels

    gone = tier.kmeshctl("uninstall", "-n", TEAM_A, "--timeout", "120", timeout=180)
    assert f"Namespace {TEAM_A}: not made by kmeshctl, kept\n" in gone.stdout, gone.stdout
    assert f"DaemonSet {TEAM_A}/kmesh deleted" in gone.stdout, gone.stdout
    live = tier.kubectl_json("get", "namespace", TEAM_A)
    assert not live["metadata"].get("deletionTimestamp") and live["metadata"]["labels"] == labels, live
    assert tier.kubectl_json("get", "configmap", "-n", TEAM_A, "h84-app")["data"] == {"k": "v"}
    assert tier.kubectl("get", "daemonset", "-n", TEAM_A, "kmesh", check=False).returncode != 0


def installed_objects_in(namespace: str) -> list[dict]:
    from kmeshctl.uninstall import installed_objects

    return installed_objects(namespace, "istio-system")


# ------------------------------------------------------------------ on an install


@pytest.fixture(scope="module")
def installed(installed: None, tier: Tier) -> Iterator[None]:
    """conftest's install, and OTHER_NS (made by some tests here) removed after the module."""
    try:
        yield
    finally:
        tier.kubectl("delete", "namespace", OTHER_NS, "--ignore-not-found", check=False)


def install_objects() -> list[dict]:
    """What an install in kmesh-system and one in OTHER_NS would write (the cluster-scoped
    objects are the same names)."""
    from kmeshctl.uninstall import installed_objects

    return installed_objects(AGENT_NAMESPACE, "istio-system") + [
        o for o in installed_objects(OTHER_NS, "istio-system") if o["metadata"].get("namespace") == OTHER_NS
        or o["kind"] == "Namespace"]


def binding_subjects(tier: Tier) -> list[dict]:
    return tier.kubectl_json("get", "clusterrolebinding", "kmesh")["subjects"]


def test_install_in_another_namespace_is_refused_before_any_write(tier: Tier, installed) -> None:
    subjects = binding_subjects(tier)
    assert subjects == [{"kind": "ServiceAccount", "name": "kmesh", "namespace": AGENT_NAMESPACE}], subjects
    pod = agent_pod(tier)["metadata"]["uid"]
    before = snapshot(tier, install_objects())
    assert [ref for ref, v in before.items() if v is None] == [
        f"Namespace /{OTHER_NS}", f"ServiceAccount {OTHER_NS}/kmesh", f"DaemonSet {OTHER_NS}/kmesh"], before

    for extra in ((), ("--dry-run",), ("--dry-run", "-o", "json")):
        refused = tier.kmeshctl("install", "-n", OTHER_NS, *install_flags(tier), *extra, check=False, timeout=120)
        assert refused.returncode == 2, (extra, refused.stdout + refused.stderr)
        line = one_error_line(refused)
        assert line.startswith(f"Error: kmesh is installed in namespace {AGENT_NAMESPACE}, not {OTHER_NS}; pass -n "
                               f"{AGENT_NAMESPACE} (or uninstall it first): `kmeshctl "), line
        assert f"-n {AGENT_NAMESPACE} " in line and OTHER_NS not in line.split("`")[1], line
        assert snapshot(tier, install_objects()) == before, extra
        assert binding_subjects(tier) == subjects
    assert agent_pod(tier)["metadata"]["uid"] == pod
    assert kmeshctl_json(tier, "status")["healthy"] is True


def test_status_is_not_healthy_when_the_clusterrole_has_no_rules(tier: Tier, installed) -> None:
    assert kmeshctl_json(tier, "status")["healthy"] is True
    tier.kubectl("patch", "clusterrole", "kmesh", "--type=json", "-p",
                 json.dumps([{"op": "replace", "path": "/rules", "value": []}]))
    assert tier.kubectl_json("get", "clusterrole", "kmesh").get("rules") in (None, [])
    result = tier.kmeshctl("status", "-o", "json", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    state = json.loads(result.stdout)
    assert state["healthy"] is False
    assert any("ClusterRole kmesh has no rules" in p for p in state["problems"]), state["problems"]
    table = tier.kmeshctl("status", check=False)
    assert table.returncode == 1 and "has no rules" in table.stdout, table.stdout

    restore = table.stdout.split("restore it with `")[1].split("`")[0]
    assert restore.startswith("kmeshctl ") and " install " in restore, table.stdout

    # kubectl patch's field manager now owns .rules: a plain install is refused by the real
    # API server, and its error offers --force-conflicts.
    again = tier.kmeshctl("install", *install_flags(tier), "--no-wait", check=False)
    assert again.returncode == 1, again.stdout + again.stderr
    assert 'ClusterRole kmesh: field manager "kubectl-patch" owns .rules' in again.stderr, again.stderr
    assert "re-run with --force-conflicts: `" in again.stderr, again.stderr
    # The install status names carries --force-conflicts: pasted as is, it repairs the drift.
    words = shlex.split(restore)
    assert words[-1] == "--force-conflicts", restore
    pasted = tier.exec_in_node([sys.executable, "-m", "kmeshctl", *words[1:]], check=False, timeout=600,
                               env={"PYTHONPATH": str(tier.repo)})
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    assert tier.kubectl_json("get", "clusterrole", "kmesh").get("rules")
    wait_for("status healthy again", lambda: kmeshctl_json(tier, "status")["healthy"], timeout=60)


HOLD = "h78.test/hold"  # a finalizer that keeps the ClusterRoleBinding until the test removes it


def test_status_after_an_uninstall_stopped_by_ctrl_c_says_partly_installed_or_uninstalled(tier: Tier,
                                                                                          installed) -> None:
    # The binding's finalizer holds uninstall in its wait for that object: Ctrl-C there
    # is an interrupt at a known point (the DaemonSet and what comes before it gone).
    tier.kubectl("patch", "clusterrolebinding", "kmesh", "--type=merge", "-p",
                 json.dumps({"metadata": {"finalizers": [HOLD]}}))
    argv = [*tier.nsenter(), sys.executable, "-m", "kmeshctl", f"--kubeconfig={tier.kubeconfig}",
            f"--context={tier.context}", "uninstall", "--timeout", "120"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(tier.repo)})
    try:
        wait_for("uninstall to delete the ClusterRoleBinding", lambda: tier.kubectl_json(
            "get", "clusterrolebinding", "kmesh")["metadata"].get("deletionTimestamp"), timeout=150, every=0.5)
        proc.send_signal(signal.SIGINT)
        out, errors = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        tier.kubectl("patch", "clusterrolebinding", "kmesh", "--type=json", "-p",
                     json.dumps([{"op": "remove", "path": "/metadata/finalizers"}]), check=False)
    assert proc.returncode == 130, out + errors
    assert "uninstall stopped by Ctrl-C (SIGINT): deleted " in errors, errors
    assert "not deleted: ClusterRole kmesh" in errors, errors
    assert tier.kubectl("get", "daemonset", "-n", AGENT_NAMESPACE, "kmesh", check=False).returncode != 0

    result = tier.kmeshctl("status", "-o", "json", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    state = json.loads(result.stdout)
    assert state["healthy"] is False and "ClusterRole kmesh" in state["remainingObjects"], state
    assert state["problems"][0].startswith("partly installed or partly uninstalled: "), state["problems"]
    assert "; re-run `kmeshctl " in state["problems"][0] and " uninstall`" in state["problems"][0], state["problems"]
    table = tier.kmeshctl("status", check=False)
    assert table.returncode == 1 and "Partly installed or partly uninstalled: " in table.stdout, table.stdout


def test_uninstall_keeps_the_namespace_it_made_while_it_holds_the_users_objects(tier: Tier, installed) -> None:
    # after the Ctrl-C test above: put the install back whole first
    tier.kmeshctl("install", *install_flags(tier), "--timeout", "300", timeout=420)
    create_as_user(tier, {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "h84-user", "namespace": AGENT_NAMESPACE}, "data": {"k": "v"}})
    kept = f"Namespace {AGENT_NAMESPACE} kept: it holds ConfigMap h84-user (not made by kmeshctl install)\n"
    try:
        dry = tier.kmeshctl("uninstall", "--dry-run", check=False, timeout=180)
        would = kept.rstrip("\n") + "; the Pod Security labels install added would be removed (" \
            "pod-security.kubernetes.io/enforce): no privileged level would stay on your pods; uninstall again " \
            "deletes it once they are gone\n"
        assert dry.returncode == 0 and would in dry.stdout, dry.stdout + dry.stderr
        gone = tier.kmeshctl("uninstall", "--timeout", "120", check=False, timeout=180)
        released = kept.rstrip("\n") + "; the Pod Security labels install added removed (" \
            "pod-security.kubernetes.io/enforce): no privileged level stays on your pods; uninstall again deletes " \
            "it once they are gone\n"
        assert gone.returncode == 0 and released in gone.stdout, gone.stdout + gone.stderr
        assert f"DaemonSet {AGENT_NAMESPACE}/kmesh deleted" in gone.stdout, gone.stdout
        labels = tier.kubectl_json("get", "namespace", AGENT_NAMESPACE)["metadata"].get("labels") or {}
        assert "pod-security.kubernetes.io/enforce" not in labels, labels  # no privileged level on the user's pods
        assert labels.get("app.kubernetes.io/managed-by") == "kmeshctl", labels  # still kmeshctl's: a re-run deletes it
        assert not tier.kubectl_json("get", "namespace", AGENT_NAMESPACE)["metadata"].get("deletionTimestamp")
        assert tier.kubectl_json("get", "configmap", "-n", AGENT_NAMESPACE, "h84-user")["data"] == {"k": "v"}
    finally:
        tier.kubectl("delete", "configmap", "-n", AGENT_NAMESPACE, "h84-user", "--ignore-not-found", check=False)
    again = tier.kmeshctl("uninstall", "--timeout", "120", timeout=180)
    assert f"Namespace {AGENT_NAMESPACE} deleted" in again.stdout, again.stdout


H98_KINDS = ("persistentvolumeclaim", "role.rbac.authorization.k8s.io", "cronjob.batch")


def h98_user_objects() -> list[dict]:
    """A PVC (a class no provisioner serves: it stays Pending), a Role, a CronJob: kinds
    the old fixed list of uninstall did not look for."""
    meta = {"namespace": AGENT_NAMESPACE}
    return [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "h98-data", **meta},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "h98-none",
                  "resources": {"requests": {"storage": "1Mi"}}}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "h98-reader", **meta},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "h98-nightly", **meta},
         "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": {"template": {"spec": {
             "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}}},
    ]


def test_uninstall_keeps_its_namespace_for_a_pvc_a_role_and_a_cronjob(tier: Tier, installed) -> None:
    # (h98) every namespaced kind the cluster serves is looked through, not a fixed list
    tier.kmeshctl("install", *install_flags(tier), "--timeout", "300", timeout=420)
    objs = h98_user_objects()
    create_as_user(tier, *objs)
    try:
        before = snapshot(tier, objs)
        assert all(before.values()), before
        gone = tier.kmeshctl("uninstall", "--timeout", "120", check=False, timeout=180)
        assert gone.returncode == 0, gone.stdout + gone.stderr
        line = next(x for x in gone.stdout.splitlines() if x.startswith(f"Namespace {AGENT_NAMESPACE}"))
        assert line.startswith(f"Namespace {AGENT_NAMESPACE} kept: it holds "), gone.stdout
        for named in ("PersistentVolumeClaim h98-data", "Role h98-reader", "CronJob h98-nightly"):
            assert named in line, line
        assert f"DaemonSet {AGENT_NAMESPACE}/kmesh deleted" in gone.stdout, gone.stdout
        assert not tier.kubectl_json("get", "namespace", AGENT_NAMESPACE)["metadata"].get("deletionTimestamp")
        after = snapshot(tier, objs)
        assert {ref: found[0] for ref, found in after.items() if found} == \
            {ref: found[0] for ref, found in before.items() if found}, (before, after)  # same uids, all there
    finally:
        for kind, obj in zip(H98_KINDS, objs):
            tier.kubectl("delete", kind, "-n", AGENT_NAMESPACE, obj["metadata"]["name"], "--ignore-not-found",
                         "--wait=true", check=False)
    again = tier.kmeshctl("uninstall", "--timeout", "120", timeout=180)
    assert f"Namespace {AGENT_NAMESPACE} deleted" in again.stdout, again.stdout
