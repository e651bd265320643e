"""Pass 31 (issue 14, kinds 3 and 6; tier tester t31c), against the stand-in API server:
- `waypoint apply -r REV` where no istiod of that revision (nor a revision tag of that name)
  runs warns, naming the revisions the cluster has (the Gateway would wait, Pending, for an
  istiod that does not run); a revision the cluster has, or a tag, is taken silently;
- `enable-ns a kube-system missing`: the line left drops the missing namespace too;
- `disable-ns -A`: the line offered releases the namespaces enrolled now.

Real parts: kmeshctl.cli.main against the stand-in API server (tests/standin), with
istiod-1-22-6's Service (the fixture's)."""
from __future__ import annotations

import pytest

from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd


def _ready(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("team"))


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["apply", "dry-run"])
def test_an_unknown_revision_warns_with_the_ones_there(dry_run, cluster) -> None:  # noqa: F811
    _ready(cluster)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "team", "-r", "nosuchrev", "-q", *dry_run)
    assert result.code == 0, result
    assert ("Warning: no istiod of revision nosuchrev runs in the cluster (revisions and tags: 1-22-6); the "
            "Gateway stays Pending until one does") in result.err, result.err


def test_a_revision_or_a_tag_the_cluster_has_is_taken_silently(cluster) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.put({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                        "metadata": {"name": "istio-revision-tag-prod", "labels": {"istio.io/tag": "prod",
                                                                                   "istio.io/rev": "1-22-6"}},
                        "webhooks": []})
    for revision in ("1-22-6", "prod"):
        result = cluster.kmeshctl("waypoint", "apply", "-n", "team", "-r", revision, "--dry-run", "-q")
        assert result.code == 0 and "Warning" not in result.err, result.err


# ------------------------------------------------------------------ enable-ns: the line left keeps no missing name


def test_enable_ns_refusing_a_system_namespace_leaves_a_missing_one_out_of_the_line(cluster) -> None:  # noqa: F811
    """t31c: `enable-ns a kube-system missing` offered `enable-ns a missing`, refused pasted."""
    cluster.server.put(namespace("t31c-a"))
    result = cluster.kmeshctl("enable-ns", "t31c-a", "kube-system", "t31c-missing")
    assert result.code == 2, result
    line = result.err.strip()
    assert "leave it out: `kmeshctl --kubeconfig" in line and "enable-ns t31c-a` (t31c-missing: no such namespace, " \
        "left out too)" in line, line
    pasted = line.split("leave it out: `kmeshctl ")[1].split("`")[0].split()
    assert cluster.kmeshctl(*pasted[2:]).code == 0  # after --kubeconfig PATH


@pytest.mark.parametrize("flag", ["-A", "--all"])
def test_disable_ns_all_offers_the_enrolled_namespaces(flag, cluster) -> None:  # noqa: F811
    """t31c: `disable-ns -A` offered `disable-ns default`, which was not enrolled."""
    cluster.server.put(namespace("t31c-b", {"istio.io/dataplane-mode": "Kmesh"}))
    cluster.server.put(namespace("t31c-c"))
    result = cluster.kmeshctl("disable-ns", flag)
    assert result.code == 2 and "the enrolled ones are `kmeshctl --kubeconfig" in result.err, result.err
    pasted = result.err.split("the enrolled ones are `kmeshctl ")[1].split("`")[0].split()
    assert pasted[2:] == ["disable-ns", "t31c-b"], pasted
    assert cluster.kmeshctl(*pasted[2:]).code == 0


def test_disable_ns_all_with_nothing_enrolled_says_so(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("disable-ns", "-A")
    assert result.code == 2 and "no namespace is enrolled now: nothing to release" in result.err, result.err
