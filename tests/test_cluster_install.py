"""`kmeshctl install` / `uninstall` against the stand-in API server (tests/standin_apiserver.py)."""

from __future__ import annotations

import json
import subprocess

from conftest import REPO_ROOT
from kmeshctl.params import InstallParams
from kmeshctl.render import render_manifests
from standin_apiserver import cluster, make_cluster, namespace  # noqa: F401 (fixtures)

XDS = "istiod-1-22-6.istio-system.svc:15012"
ISTIO_KINDS = ("networking.istio.io/v1alpha3", "EnvoyFilter")
ENVOY_FILTERS = {"add-listener-filter", "skip-tunneling", "add-original-dst-cluster"}


def container_env(daemonset: dict) -> dict[str, str]:
    container = daemonset["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container.get("env", []) if "value" in e}


def applied_paths(server) -> list[str]:
    """Paths of the real (not dry-run) server-side applies, in order."""
    return [r.path for r in server.writes() if r.method == "PATCH"]


def patch_sequence(server) -> list[tuple[str, bool]]:
    """(resource plural, dry run?) of every PATCH, in the order the server received them."""
    return [(r.path.split("/")[-2], r.dry_run) for r in server.requests if r.method == "PATCH"]


def error_line(result) -> str:
    """The error, which must be one line and the last thing on stderr."""
    lines = result.err.splitlines()
    assert lines and lines[-1].startswith("Error: ") and sum(line.startswith("Error") for line in lines) == 1, \
        result.err
    return lines[-1]


def install_error(cluster, *args: str) -> str:
    """Run `install ARGS --no-wait`, which must fail with exit 1: its one-line error."""
    result = cluster.kmeshctl("install", *args, "--no-wait")
    assert result.code == 1
    return error_line(result)


def rendered(kind: str, name: str) -> dict:
    params = InstallParams(xds_address=XDS, cluster_id="c1")
    return next(o for o in render_manifests(params) if o["kind"] == kind and o["metadata"]["name"] == name)


def installed_state(server) -> dict:
    """resourceVersion of every object install creates."""
    objs = [server.get("v1", "Namespace", "kmesh-system"), server.get("v1", "ServiceAccount", "kmesh", "kmesh-system"),
            server.get("rbac.authorization.k8s.io/v1", "ClusterRole", "kmesh"),
            server.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "kmesh"),
            server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system"),
            *server.all_of(*ISTIO_KINDS)]
    return {f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"] for o in objs if o}


def test_install_discovers_istiod_applies_in_order_and_waits(cluster):
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20")
    assert result.code == 0, result.err
    assert f"Using istiod at {XDS}" in result.err
    assert "DaemonSet kmesh-system/kmesh is ready" in result.err
    server = cluster.server
    ds = server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system")
    assert container_env(ds)["XDS_ADDRESS"] == XDS and container_env(ds)["CLUSTER_ID"] == "c1"
    assert {f["metadata"]["name"] for f in server.all_of(*ISTIO_KINDS)} == ENVOY_FILTERS
    assert [m["manager"] for m in ds["metadata"]["managedFields"]] == ["kmeshctl"]
    assert ds["metadata"]["managedFields"][0]["operation"] == "Apply"
    order = [p.split("/")[-2] for p in applied_paths(server)]
    assert order == ["namespaces", "serviceaccounts", "clusterroles", "clusterrolebindings",
                     "validatingadmissionpolicies", "validatingadmissionpolicybindings", "daemonsets",
                     "envoyfilters", "envoyfilters", "envoyfilters"]
    assert result.out.count(" created") == 10
    # Fresh cluster: everything the server can check is dry-run before the first write;
    # the objects in kmesh-system right after that namespace exists, before any other write.
    assert patch_sequence(server) == [
        ("namespaces", True), ("clusterroles", True), ("clusterrolebindings", True),
        ("validatingadmissionpolicies", True), ("validatingadmissionpolicybindings", True),
        ("envoyfilters", True), ("envoyfilters", True), ("envoyfilters", True),
        ("namespaces", False), ("serviceaccounts", True), ("daemonsets", True),
        ("serviceaccounts", False), ("clusterroles", False), ("clusterrolebindings", False),
        ("validatingadmissionpolicies", False), ("validatingadmissionpolicybindings", False),
        ("daemonsets", False), ("envoyfilters", False), ("envoyfilters", False), ("envoyfilters", False),
    ]


def test_reinstall_is_a_noop_and_says_so(cluster):
    first = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    assert first.code == 0, first.err
    before = installed_state(cluster.server)
    cluster.server.requests.clear()
    again = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    assert again.code == 0, again.err
    assert again.out.count(" unchanged") == 10
    assert "Nothing to do" in again.out
    assert installed_state(cluster.server) == before
    # The namespace exists now: all 8 objects are dry-run first, then applied (no-ops).
    assert [dry for _, dry in patch_sequence(cluster.server)] == [True] * 10 + [False] * 10


def test_changed_flag_configures_only_the_daemonset(cluster):
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait").code == 0
    generation = cluster.server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system")["metadata"]["generation"]
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--image", "registry.example.com/kmesh/node:2",
                              "--no-wait", "-o", "json")
    assert result.code == 0, result.err
    actions = {a["object"]: a["action"] for a in json.loads(result.out)["applied"]}
    assert actions.pop("DaemonSet kmesh-system/kmesh") == "configured"
    assert set(actions.values()) == {"unchanged"}
    ds = cluster.server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system")
    assert ds["metadata"]["generation"] == generation + 1
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/kmesh/node:2"


def test_missing_istio_crds_stops_before_applying_anything(make_cluster):
    bare = make_cluster(with_istio=False)
    result = bare.kmeshctl("install", "--xds-address", XDS, "--cluster-id", "c1")
    assert result.code == 1
    assert "does not serve EnvoyFilter" in result.err and "nothing was applied" in result.err
    assert bare.server.writes() == []
    assert bare.server.get("v1", "Namespace", "kmesh-system") is None


def test_bad_flag_exits_2_without_touching_the_cluster(cluster):
    result = cluster.kmeshctl("install", "--xds-address", "istiod-1-22-6.istio-system.svc", "--cluster-id", "c1")
    assert result.code == 2
    assert "missing port" in result.err
    assert cluster.server.requests == []


def test_field_owned_by_another_manager_is_a_clear_conflict_and_nothing_is_written(cluster):
    server = cluster.server
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait").code == 0
    ds = server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system")
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/someone/else:1"
    server.put(ds, manager="helm")
    # Gone ServiceAccount: without the dry run, install would re-create it (and the Namespace
    # and RBAC would be re-applied) before the DaemonSet's conflict shows.
    server.remove(("", "serviceaccounts", "kmesh-system", "kmesh"))
    before = installed_state(server)
    server.requests.clear()
    error = install_error(cluster, "--cluster-id", "c2", "--image", "docker.io/kmesh/node:3")
    assert 'DaemonSet kmesh-system/kmesh: field manager "helm" owns .spec.template.spec.containers' in error
    assert "; nothing was applied; remove that manager's values" in error and "Fix:" not in error
    assert server.writes() == []
    assert [dry for _, dry in patch_sequence(server)] == [True] * 7  # stopped at the DaemonSet's dry run
    assert installed_state(server) == before
    assert server.get("v1", "ServiceAccount", "kmesh", "kmesh-system") is None
    current = server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system")
    assert current["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/someone/else:1"


def test_envoyfilter_conflict_on_a_fresh_cluster_writes_nothing(cluster):
    server = cluster.server
    theirs = rendered("EnvoyFilter", "skip-tunneling")
    theirs["spec"]["workloadSelector"]["labels"]["gateway.istio.io/managed"] = "someone-else"
    server.put(theirs, manager="istio-operator")
    error = install_error(cluster, "--cluster-id", "c1")
    assert 'EnvoyFilter istio-system/skip-tunneling: field manager "istio-operator" owns .spec.workloadSelector' \
        in error
    assert "nothing was applied" in error
    assert server.writes() == []
    assert server.get("v1", "Namespace", "kmesh-system") is None  # would have been the first object
    assert server.get("rbac.authorization.k8s.io/v1", "ClusterRole", "kmesh") is None
    assert ("namespaces", True) in patch_sequence(server)


def test_admission_rejection_of_the_last_object_writes_nothing(cluster):
    server = cluster.server
    server.deny_admission("EnvoyFilter", "add-original-dst-cluster", "EnvoyFilters need approval")
    error = install_error(cluster, "--cluster-id", "c1")
    assert "EnvoyFilter istio-system/add-original-dst-cluster rejected by the API server" in error
    assert "EnvoyFilters need approval" in error and "nothing was applied" in error
    assert server.writes() == []
    assert installed_state(server) == {}


def test_rejection_inside_the_new_namespace_deletes_that_namespace_again(cluster):
    server = cluster.server
    server.deny_admission("DaemonSet", "kmesh", "privileged pods are not allowed")
    error = install_error(cluster, "--cluster-id", "c1")
    assert "DaemonSet kmesh-system/kmesh rejected by the API server" in error
    assert "namespace kmesh-system, created moments before, was deleted again" in error
    assert "nothing else was applied" in error
    assert [(r.method, r.path.split("/")[-1]) for r in server.writes()] == [
        ("PATCH", "kmesh-system"), ("DELETE", "kmesh-system")]
    namespace_left = server.get("v1", "Namespace", "kmesh-system")
    assert namespace_left is None or namespace_left["metadata"].get("deletionTimestamp")
    assert {k: v for k, v in installed_state(server).items() if not k.startswith("Namespace/")} == {}


def test_rollout_timeout_lists_pods_not_ready_with_reasons(cluster):
    cluster.server.daemonset_controller = "stuck"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "2")
    assert result.code == 1
    assert "not ready after 2s (" in result.err
    for pod in ("kmesh-node-a", "kmesh-node-b"):
        line = next(line for line in result.err.splitlines() if line.strip().startswith(pod))
        assert "ImagePullBackOff" in line
    assert "waited" in result.err and "s, limit 2s\n" in result.err


def test_several_istiod_revisions_ask_for_the_flag(make_cluster):
    revisions = make_cluster(istiod_names=("istiod-1-21-4", "istiod-1-22-6"))
    result = revisions.kmeshctl("install", "--cluster-id", "c1")
    assert result.code == 2
    assert "istiod-1-21-4.istio-system.svc:15012" in result.err and XDS in result.err
    assert "--xds-address" in result.err
    assert revisions.server.writes() == []


def test_no_istiod_is_a_clear_error(make_cluster):
    empty = make_cluster(istiod_names=())
    result = empty.kmeshctl("install", "--cluster-id", "c1")
    assert result.code == 1
    assert "no istiod Service exposing port 15012 in namespace istio-system" in result.err
    assert empty.server.writes() == []


def test_dry_run_validates_with_cluster_crds_and_applies_nothing(cluster):
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run", "-o", "json")
    assert result.code == 0, result.err
    assert "validated against the cluster's CRDs" in result.err
    items = json.loads(result.out)["items"]
    assert [o["kind"] for o in items][:7] == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                              "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                                              "DaemonSet"]
    assert "the API server's own dry run accepted 8 of 10 objects" in result.err
    assert "namespace kmesh-system, which install creates" in result.err
    assert cluster.server.writes() == []
    assert len(cluster.server.dry_runs()) == 8
    assert any("customresourcedefinitions/envoyfilters.networking.istio.io" in r.path for r in cluster.server.requests)


def test_dry_run_against_a_configured_cluster_that_is_gone_fails(make_cluster):
    # A configured cluster that does not answer is never a reason to validate offline (a CI
    # dry run against prod must reach prod); offline is for no cluster configured at all
    # (tests/test_cli_validation_words.py).
    gone = make_cluster()
    gone.server.stop()
    for address in (["--xds-address", XDS], []):
        result = gone.kmeshctl("install", "--cluster-id", "c1", "--dry-run", *address)
        assert result.code == 1 and not result.out, result.err
        assert "cannot reach the Kubernetes API" in result.err and "validating offline" not in result.err
        # the offline form carries the flags given (tests/test_cli_suggest_same_work.py), and an
        # example of each one render requires that was not given (tests/test_cli_pasted_hints.py)
        given = f"`kmeshctl render {' '.join(address)}{' ' if address else ''}--cluster-id c1"
        assert given + ("`" if address else " --xds-address ") in result.err


def test_uninstall_reverse_order_waits_and_is_idempotent(cluster):
    server = cluster.server
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait").code == 0
    server.put(namespace("demo", {"istio.io/dataplane-mode": "Kmesh"}))
    result = cluster.kmeshctl("uninstall", "--timeout", "20")
    assert result.code == 0, result.err
    assert installed_state(server) == {}
    deleted = [r.path.split("/")[-2] for r in server.requests if r.method == "DELETE"]
    assert deleted == ["envoyfilters"] * 3 + ["daemonsets", "validatingadmissionpolicybindings",
                                              "validatingadmissionpolicies", "clusterrolebindings", "clusterroles",
                                              "serviceaccounts", "namespaces"]
    assert "still labelled istio.io/dataplane-mode=Kmesh: demo" in result.err
    again = cluster.kmeshctl("uninstall")
    assert again.code == 0, again.err
    assert again.out.count(" not found") == 10 and "Nothing to uninstall" in again.out


def test_console_script_installs_through_the_real_entry_point(cluster):
    kmeshctl = REPO_ROOT / ".venv" / "bin" / "kmeshctl"
    done = subprocess.run(
        [str(kmeshctl), "--kubeconfig", str(cluster.kubeconfig), "install", "--xds-address", XDS,
         "--cluster-id", "c1", "--no-wait"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "DaemonSet kmesh-system/kmesh created" in done.stdout
    assert cluster.server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system") is not None


def test_a_status_write_between_get_and_apply_is_not_a_change() -> None:
    """The real API server's type checker writes a new ValidatingAdmissionPolicy's status
    shortly after it is created: a re-install right then must still say unchanged."""
    from kmeshctl.apply import _changed

    before = {"resourceVersion": "10", "generation": 1, "labels": {"a": "1"}}
    assert not _changed(before, dict(before))
    assert not _changed(before, {**before, "resourceVersion": "11"})  # status only
    assert _changed(before, {**before, "resourceVersion": "11", "generation": 2})
    assert _changed(before, {**before, "resourceVersion": "11", "labels": {"a": "2"}})
    assert _changed({"resourceVersion": "1"}, {"resourceVersion": "2"})  # no generation: trust the version
