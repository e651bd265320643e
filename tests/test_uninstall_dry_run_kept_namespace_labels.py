"""f19b: `uninstall --dry-run` did not say that the real run removes install's Pod
Security label (pod-security.kubernetes.io/enforce=privileged) from a namespace it keeps
for the user's objects: its kept line and -o json's `labelsRemoved` said nothing of it.
The dry run now sends that label removal with dryRun=All too (nothing changes) and says
what the real run would do: the label would be removed, or would stay (refused) with the
kubectl command that removes it; the same keys as the real run's `labelsRemoved`.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import json
import shlex

from standin import HttpError
from standin_apiserver import cluster  # noqa: F401 (fixture)

NS = "kmesh-system"
MINE = "f19b-mine"
PSA_KEY = "pod-security.kubernetes.io/enforce"
WOULD = (f"Namespace {NS} kept: it holds ConfigMap {MINE} (not made by kmeshctl install); the Pod Security labels "
         f"install added would be removed ({PSA_KEY}): no privileged level would stay on your pods; uninstall again "
         "deletes it once they are gone")


def _keep(cluster, **labels: str) -> None:  # noqa: F811
    """Installed, then a ConfigMap of the user's in the namespace (and ``labels`` set on it)."""
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    cluster.server.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": MINE, "namespace": NS},
                        "data": {"a": "b"}}, "kubectl-create")
    if labels:
        ns = cluster.server.get("v1", "Namespace", NS)
        ns["metadata"]["labels"].update(labels)
        cluster.server.put(ns, "kubectl-label")


def _labels(cluster) -> dict[str, str]:  # noqa: F811
    return cluster.server.get("v1", "Namespace", NS)["metadata"].get("labels") or {}


def test_the_dry_run_says_the_label_would_be_removed_and_removes_nothing(cluster) -> None:  # noqa: F811
    _keep(cluster)
    before = _labels(cluster)
    sent = len(cluster.server.requests)
    result = cluster.kmeshctl("uninstall", "--dry-run")
    assert result.code == 0, result
    assert WOULD + "\n" in result.out, result.out
    assert _labels(cluster) == before and before[PSA_KEY] == "privileged", _labels(cluster)
    asked = cluster.server.requests[sent:]
    assert not [r for r in asked if r.method not in ("GET",) and not r.dry_run], asked  # nothing written
    assert [r.path for r in asked if r.method == "PATCH"] == [f"/api/v1/namespaces/{NS}"], asked  # asked dry


def test_the_dry_runs_json_names_the_keys_the_real_run_removes(cluster) -> None:  # noqa: F811
    _keep(cluster)
    dry = cluster.kmeshctl("uninstall", "--dry-run", "-o", "json")
    assert dry.code == 0, dry
    document = json.loads(dry.out)
    [kept] = document["spared"]
    assert document["dryRun"] is True and kept["labelsRemoved"] == [PSA_KEY], document
    assert kept["reason"] == WOULD.split(" kept: ", 1)[1], kept
    real = cluster.kmeshctl("uninstall", "-o", "json")
    assert real.code == 0, real
    [done] = json.loads(real.out)["spared"]
    assert done["labelsRemoved"] == kept["labelsRemoved"], (done, kept)
    assert PSA_KEY not in _labels(cluster)


def test_a_refused_removal_says_the_label_would_stay_and_the_command(cluster) -> None:  # noqa: F811
    _keep(cluster)
    server, real_patch = cluster.server, cluster.server.merge_patch

    def refused(res, key, *args, **kwargs):
        if res.kind == "Namespace":
            raise HttpError(403, "Forbidden", f'namespaces "{NS}" is forbidden: User "f19b" cannot patch resource '
                            '"namespaces"')
        return real_patch(res, key, *args, **kwargs)

    server.merge_patch = refused
    result = cluster.kmeshctl("uninstall", "--dry-run")
    assert result.code == 0, result
    [kept] = [ln for ln in result.out.splitlines() if ln.startswith(f"Namespace {NS} kept")]
    assert "; the Pod Security labels install added would stay on it (Forbidden: " in kept, kept
    fix = next(c for c in kept.split("`")[1::2] if c.startswith("kubectl label"))
    assert shlex.split(fix)[:5] == ["kubectl", "label", "namespace", NS, PSA_KEY + "-"], fix
    document = json.loads(cluster.kmeshctl("uninstall", "--dry-run", "-o", "json").out)
    assert document["spared"][0]["labelsRemoved"] == [], document


def test_a_label_the_user_changed_is_not_said_to_go(cluster) -> None:  # noqa: F811
    _keep(cluster, **{PSA_KEY: "baseline"})
    result = cluster.kmeshctl("uninstall", "--dry-run")
    assert result.code == 0, result
    assert (f"Namespace {NS} kept: it holds ConfigMap {MINE} (not made by kmeshctl install)\n" in result.out), \
        result.out
    assert _labels(cluster)[PSA_KEY] == "baseline"
