"""An uninstall stopped once its DELETE went out never lists that object as `not deleted`
(tester: 1 in ~10 `timeout -s INT 4.3 kmeshctl uninstall` runs said `not deleted: DaemonSet
kmesh-system/kmesh` of a DaemonSet that had gone); a namespace kept for the user's objects
loses the labels install put on it (a privileged Pod Security level, kmeshctl's own), the
user's labels kept, and the kept line, -o json and -q's one line say so (h119).

Real parts: kmeshctl.cli.main in-process against the stand-in API server; the stop is a
real SIGINT sent to the main thread by the stand-in as it takes the DELETE."""

from __future__ import annotations

import json
import shlex
import signal
import threading

from kmeshctl.kube import KubeClient, object_ref
from kmeshctl.uninstall import installed_objects
from standin import HttpError
from standin_apiserver import cluster  # noqa: F401 (fixture)

NS = "kmesh-system"
ORDER = [object_ref(o) for o in reversed(installed_objects(NS, "istio-system"))]
DS = "DaemonSet kmesh-system/kmesh"
MINE = "h119-mine"
PSA_KEY = "pod-security.kubernetes.io/enforce"
INSTALL_KEYS = [PSA_KEY, "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of", "app.kubernetes.io/version"]
USERS_LABEL = ("h119.example/team", "apps")


def _installed(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0


def _error_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.startswith("Error: ")]
    assert len(lines) == 1, err
    return lines[0].removeprefix("Error: ")


def _expected_stop(what: str) -> str:
    done, left = ORDER[:ORDER.index(DS)], ORDER[ORDER.index(DS) + 1:]
    return (f"uninstall stopped by Ctrl-C (SIGINT): deleted {', '.join(done)}; {what}; not deleted: "
            f"{', '.join(left)}; re-run `")


# -- a stop once the DELETE went out -------------------------------------------------------------


def test_a_stop_as_the_cluster_takes_the_delete_never_says_not_deleted(cluster) -> None:  # noqa: F811
    _installed(cluster)
    server, real_delete, main = cluster.server, cluster.server.delete, threading.main_thread().ident
    assert main is not None

    def delete_then_stop(res, key, dry_run=False):
        answer = real_delete(res, key, dry_run)
        if res.kind == "DaemonSet" and not dry_run:  # taken; the answer is not yet written back
            signal.pthread_kill(main, signal.SIGINT)
        return answer

    server.delete = delete_then_stop
    result = cluster.kmeshctl("uninstall", "--timeout", "20s")
    assert result.code == 130, result
    line = _error_line(result.err)
    assert line.startswith(_expected_stop(f"{DS}: delete sent, answer not seen")), line
    assert DS not in line.split("not deleted: ")[1], line
    server.delete = real_delete
    pasted = shlex.split(next(c for c in line.split("`")[1::2] if c.startswith("kmeshctl")))
    assert cluster.kmeshctl(*pasted[1:]).code == 0  # the re-run finishes it


def test_a_stop_after_the_answer_came_before_it_was_recorded(cluster, monkeypatch) -> None:  # noqa: F811
    _installed(cluster)
    real_delete = KubeClient.delete

    def delete(self, api_version, kind, *args, **kwargs):
        answered = real_delete(self, api_version, kind, *args, **kwargs)
        if kind == "DaemonSet" and not kwargs.get("dry_run"):
            raise KeyboardInterrupt  # the signal lands between the answer and the record
        return answered

    monkeypatch.setattr(KubeClient, "delete", delete)
    result = cluster.kmeshctl("uninstall", "-o", "json")
    assert result.code == 130, result
    line = _error_line(result.err)
    assert line.startswith(_expected_stop(f"{DS}: delete sent, answer not seen")), line
    document = json.loads(result.out)
    assert document["errors"] == [line] and DS not in document["deleted"], document


# -- the kept namespace loses install's labels ---------------------------------------------------


def _keep(cluster, **labels: str) -> None:  # noqa: F811
    """Installed, then a ConfigMap of the user's in the namespace, and ``labels`` set on it."""
    _installed(cluster)
    cluster.server.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": MINE, "namespace": NS},
                        "data": {"a": "b"}}, "kubectl-create")
    ns = cluster.server.get("v1", "Namespace", NS)
    ns["metadata"]["labels"].update({USERS_LABEL[0]: USERS_LABEL[1], **labels})
    cluster.server.put(ns, "kubectl-label")


def _labels(cluster) -> dict[str, str]:  # noqa: F811
    return cluster.server.get("v1", "Namespace", NS)["metadata"].get("labels") or {}


def test_a_kept_namespace_loses_installs_pod_security_label_and_keeps_the_rest(cluster) -> None:  # noqa: F811
    _keep(cluster)
    result = cluster.kmeshctl("uninstall")
    assert result.code == 0, result
    assert (f"Namespace {NS} kept: it holds ConfigMap {MINE} (not made by kmeshctl install); the Pod Security "
            f"labels install added removed ({PSA_KEY}): no privileged level stays on your pods; uninstall again "
            "deletes it once they are gone\n") in result.out, result.out
    labels = _labels(cluster)
    assert PSA_KEY not in labels and set(INSTALL_KEYS[1:]) <= set(labels), labels  # still kmeshctl's
    assert labels[USERS_LABEL[0]] == USERS_LABEL[1], labels
    cluster.server.delete_object("v1", "ConfigMap", MINE, NS)  # the user's objects gone: a re-run deletes it
    again = cluster.kmeshctl("uninstall", "-q")
    assert again.code == 0 and again.out == "Uninstalled: 1 object deleted.\n", again
    assert cluster.server.get("v1", "Namespace", NS) is None


def test_a_label_the_user_changed_is_the_users(cluster) -> None:  # noqa: F811
    _keep(cluster, **{"pod-security.kubernetes.io/enforce": "baseline"})
    result = cluster.kmeshctl("uninstall", "-o", "json")
    assert result.code == 0, result
    [kept] = json.loads(result.out)["spared"]
    assert kept["labelsRemoved"] == [], kept  # baseline is the user's value: nothing of install's to remove
    assert kept["reason"] == f"it holds ConfigMap {MINE} (not made by kmeshctl install)", kept
    assert _labels(cluster)["pod-security.kubernetes.io/enforce"] == "baseline"


def test_quiet_names_the_kept_namespace_in_its_one_line(cluster) -> None:  # noqa: F811
    _keep(cluster)
    result = cluster.kmeshctl("uninstall", "-q")
    assert result.code == 0, result
    assert result.out == (f"Uninstalled: {len(ORDER) - 1} objects deleted; namespace {NS} kept (holds objects not "
                          "made by kmeshctl; the Pod Security labels install added removed).\n"), result.out


def test_labels_that_could_not_be_removed_are_named_with_the_command(cluster) -> None:  # noqa: F811
    _keep(cluster)
    server, real_patch = cluster.server, cluster.server.merge_patch

    def refused(res, key, *args, **kwargs):
        if res.kind == "Namespace":
            raise HttpError(403, "Forbidden", 'namespaces "kmesh-system" is forbidden: User "h119" cannot patch '
                            'resource "namespaces"')
        return real_patch(res, key, *args, **kwargs)

    server.merge_patch = refused
    result = cluster.kmeshctl("--context", "standin", "uninstall")
    assert result.code == 0, result
    [kept] = [ln for ln in result.out.splitlines() if ln.startswith(f"Namespace {NS} kept")]
    assert "; the Pod Security labels install added are still on it (Forbidden: namespaces \"kmesh-system\" is " \
           "forbidden" \
           in kept, kept
    fix = next(c for c in kept.split("`")[1::2] if c.startswith("kubectl label"))
    assert shlex.split(fix) == ["kubectl", "label", "namespace", NS, PSA_KEY + "-",
                                "--kubeconfig", str(cluster.kubeconfig), "--context", "standin"], fix
    assert set(INSTALL_KEYS) <= set(_labels(cluster))
    quiet = cluster.kmeshctl("uninstall", "-q")  # the namespace still kmeshctl's: kept again, not deleted
    assert quiet.out.endswith(f"; namespace {NS} kept (holds objects not made by kmeshctl; the Pod Security "
                              "labels install added are still on it).\n"), quiet.out


def test_a_namespace_kept_only_for_what_could_not_be_listed_keeps_its_labels(cluster) -> None:  # noqa: F811
    """It may hold nothing of the user's: still kmeshctl's, so a re-run that can look deletes it."""
    _installed(cluster)
    server, real_list = cluster.server, cluster.server.list

    def refused_list(res, namespace, *rest):
        if res.kind == "ConfigMap" and namespace == NS:
            raise HttpError(403, "Forbidden", "configmaps is forbidden: User cannot list resource")
        return real_list(res, namespace, *rest)

    server.list = refused_list
    result = cluster.kmeshctl("uninstall", "-q")
    assert result.code == 0, result
    assert result.out == (f"Uninstalled: {len(ORDER) - 1} objects deleted; namespace {NS} kept (may hold objects "
                          "not made by kmeshctl).\n"), result.out
    assert set(INSTALL_KEYS) <= set(_labels(cluster))
    server.list = real_list
    again = cluster.kmeshctl("uninstall", "-q")
    assert again.code == 0 and again.out == "Uninstalled: 1 object deleted.\n", again
    assert cluster.server.get("v1", "Namespace", NS) is None
