"""The cluster demo's debts (h95), against the stand-in API server, no root:

  - It measured the examples' 90/10 whatever the cluster had: applying examples/fortio over
    the demo's own VirtualService (labelled app.kubernetes.io/part-of=kmeshctl-demo) at
    70/30, or with a third subset, reset it to 90/10 by force and never put the user's
    weights back. Now, as the local demo does with the sandbox's, it measures the weights
    in force (counts keyed by the cluster's subsets, each subset's `Server:` header from
    the cluster's Deployments), checks --weights against those subsets, and puts back the
    weights it found.
  - The demo's Namespace object relabelled a namespace another data plane has
    (istio.io/dataplane-mode=ambient) and enrolled one with sidecar injection on: refused
    now, exit 2, nothing written, as enable-ns refuses without --overwrite, naming the fix.
  - The -o json report keeps the documented schema (docs/usage.md, "The demo's JSON").
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from test_demo_cluster_refusals import VS_API, WRITES, _flags, make  # noqa: F401 (fixture)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "usage.md"
DEMO_LABELS = {"app.kubernetes.io/part-of": "kmeshctl-demo"}
SERVERS = {"v1": "1", "v2": "2", "v3": "3"}  # the `header=server:N` of each subset's fortio pods

# The demo's loop contract (kmeshctl.demo.REQUEST_LOOP): `sh -c LOOP sh COUNT STOP` with
# the answers given; a background loop (COUNT 0) answers v1 until its stop file exists.
ANSWER_LOOP = r"""
count=$1; stop=$2; shift 2; i=0
while :; do
  if [ "$count" -gt 0 ]; then [ "$i" -ge "$count" ] && break; else [ -e "$stop" ] && break; fi
  i=$((i + 1))
  if [ "$count" -gt 0 ]; then server=$1; shift; else server=1; fi
  echo "$i 0 200 $server"
done
if [ -n "$stop" ]; then rm -f "$stop"; fi
"""


class WeightedLoopPod:
    """The netutils pod: each phase's requests answered by the subsets in the exact shares
    of the weights the VirtualService has when the phase starts (nothing is sent)."""

    def __init__(self, server: Any, namespace: str = "default") -> None:
        self.server, self.namespace = server, namespace

    def exec(self, argv: list[str], **popen: Any) -> subprocess.Popen:
        if argv[:2] == ["sh", "-c"] and "url=$1" in argv[2]:
            count = int(argv[5])
            argv = ["sh", "-c", ANSWER_LOOP, "sh", argv[5], argv[6], *self._answers(count)]
        return subprocess.Popen(argv, **popen)

    def _answers(self, count: int) -> list[str]:
        vs = self.server.get(VS_API, "VirtualService", "fortio", self.namespace)
        routes = vs["spec"]["http"][0]["route"]
        weights = {SERVERS[r["destination"]["subset"]]: r.get("weight", 100) for r in routes}
        given = dict.fromkeys(weights, 0)
        answers = []
        for sent in range(1, count + 1):  # the server furthest behind its share answers next
            server = max(weights, key=lambda s: weights[s] * sent / 100 - given[s])
            given[server] += 1
            answers.append(server)
        return answers

    def connect(self, port: int) -> Any:
        raise OSError("no port-forward to the stand-in netutils pod")


def _fortio(subset: str, ns: str = "default") -> dict:
    labels = {"app": "fortio", "version": subset}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"fortio-{subset}", "namespace": ns, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                         "name": "fortio", "image": "fortio/fortio:1.68.2",
                         "args": ["server", "-http-port", "0.0.0.0:8080", "-echo-server-default-params",
                                  f"header=server:{SERVERS[subset]}"]}]}}}}


def _routing(cluster: Any, weights: dict[str, int], ns: str = "default") -> None:
    """The demo's own VirtualService (its label, as `kubectl apply -f examples/fortio` gives
    it) routing with ``weights``, the DestinationRule, and a Deployment for each subset the
    manifests lack, made by the user's kubectl."""
    server = cluster.server
    server.put({"apiVersion": VS_API, "kind": "VirtualService",
                "metadata": {"name": "fortio", "namespace": ns, "labels": dict(DEMO_LABELS)},
                "spec": {"hosts": ["fortio"], "http": [{"route": [
                    {"destination": {"host": "fortio", "subset": s}, "weight": w} for s, w in weights.items()]}]}},
               manager="kubectl-client-side-apply")
    server.put({"apiVersion": VS_API, "kind": "DestinationRule",
                "metadata": {"name": "fortio", "namespace": ns, "labels": dict(DEMO_LABELS)},
                "spec": {"host": "fortio", "subsets": [{"name": s, "labels": {"version": s}} for s in weights]}},
               manager="kubectl-client-side-apply")
    for subset in set(weights) - {"v1", "v2"}:  # the manifests' own the demo applies
        server.put(_fortio(subset, ns), manager="kubectl-client-side-apply")
    server.pod_backend_resolver = lambda p: WeightedLoopPod(server, ns) if (p["metadata"].get("labels") or {}).get(
        "app") == "netutils" else None


def _vs_weights(cluster: Any, ns: str = "default") -> dict[str, int]:
    vs = cluster.server.get(VS_API, "VirtualService", "fortio", ns)
    return {r["destination"]["subset"]: r["weight"] for r in vs["spec"]["http"][0]["route"]}


def _demo(cluster: Any, *extra: str) -> Any:
    import json

    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "100",
                              "-o", "json", *extra)
    result.report = json.loads(result.out) if result.out.strip() else None
    return result


# ------------------------------------------------------------------ 1. the weights in force


def test_the_demos_own_virtual_service_at_70_30_is_measured_at_70_30_and_kept(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})
    result = _demo(cluster)
    assert result.code == 0, result.err
    report = result.report
    assert report["subsets"] == [{"subset": "v1", "server": "1"}, {"subset": "v2", "server": "2"}]
    [phase] = report["phases"]
    assert phase["weights"] == {"v1": 70, "v2": 30} and phase["counts"] == {"v1": 70, "v2": 30}, phase
    assert phase["during_change"] is None and report["passed"]
    assert _vs_weights(cluster) == {"v1": 70, "v2": 30}  # never the examples' 90/10
    assert "measuring the weights in force, v1=70, v2=30, and putting them back afterwards" in result.err, result.err


def test_three_subsets_are_measured_by_subset_and_their_weights_put_back(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 50, "v2": 30, "v3": 20})
    result = _demo(cluster, "--weights", "50/30/20,0/0/100")
    assert result.code == 0, result.err
    report = result.report
    assert [s["subset"] for s in report["subsets"]] == ["v1", "v2", "v3"]
    first, second = report["phases"]
    assert first["counts"] == {"v1": 50, "v2": 30, "v3": 20} and first["test"] == "chi-square", first
    assert second["weights"] == {"v1": 0, "v2": 0, "v3": 100} and second["counts"] == {"v1": 0, "v2": 0, "v3": 100}
    assert _vs_weights(cluster) == {"v1": 50, "v2": 30, "v3": 20}  # the weights it found, put back
    rule = cluster.server.get(VS_API, "DestinationRule", "fortio", "default")
    assert [s["name"] for s in rule["spec"]["subsets"]] == ["v1", "v2", "v3"]  # the third subset kept
    assert "restoring the VirtualService's weights" in result.err


def test_other_weights_are_put_back_to_the_ones_found(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})
    result = _demo(cluster, "--weights", "0/100")
    assert result.code == 0, result.err
    assert [p["weights"] for p in result.report["phases"]] == [{"v1": 0, "v2": 100}]
    assert _vs_weights(cluster) == {"v1": 70, "v2": 30}


def test_weights_for_the_manifests_subsets_are_refused_on_a_three_subset_route(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 50, "v2": 30, "v3": 20})
    before = len(cluster.server.requests)
    result = _demo(cluster, "--weights", "90/10")
    assert result.code == 2 and result.out == "", result
    assert "--weights 90/10: 2 weights for 3 versions (v1/v2/v3); use 3 weights that add up to 100" in result.err
    assert [r for r in cluster.server.requests[before:] if r.method in WRITES] == []


def test_a_route_to_a_subset_no_destination_rule_defines_is_named(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})
    vs = cluster.server.get(VS_API, "VirtualService", "fortio", "default")
    vs["spec"]["http"][0]["route"][1]["destination"]["subset"] = "v9"
    cluster.server.put(vs, manager="kubectl-edit")
    result = _demo(cluster)
    assert result.code == 1 and result.out == "", result
    line = " ".join(result.err.split())
    assert "Error: VirtualService default/fortio in the cluster routes to subset v9 of fortio, which " \
           "DestinationRule default/fortio does not define; fix its route, or delete it so that the demo " \
           "applies its own: `kubectl delete virtualservice fortio -n default" in line, line


# ------------------------------------------------------------------ 2. another data plane's namespace


def _refused_namespace(cluster: Any, labels: dict[str, str], *extra: str) -> str:
    from standin import namespace

    ns = extra[1] if extra else "default"
    cluster.server.put({**namespace(ns), "metadata": {"name": ns, "labels": labels}}, manager="kubectl-label")
    before = len(cluster.server.requests)
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3",
                              "-q", *extra)
    assert result.code == 2 and result.out == "", result
    assert [r for r in cluster.server.requests[before:] if r.method in WRITES] == []
    assert cluster.server.get("v1", "Namespace", ns)["metadata"]["labels"] == labels  # as it was
    [line] = result.err.strip().splitlines()
    return line


def test_a_namespace_of_another_data_plane_is_refused_as_enable_ns_does(make) -> None:
    cluster = make()
    line = _refused_namespace(cluster, {"istio.io/dataplane-mode": "ambient"})
    assert line == ("Error: namespace default is enrolled in another data plane (istio.io/dataplane-mode=ambient): "
                    "the demo's Namespace object would relabel it istio.io/dataplane-mode=Kmesh (nothing was "
                    "changed); run the demo in another namespace (-n), or move it to kmesh first: "
                    f"`kmeshctl {_flags(cluster)} enable-ns default --overwrite` (see 'kmeshctl demo "
                    "traffic-shift --help')"), line


def test_a_namespace_with_sidecar_injection_is_refused(make) -> None:
    cluster = make()
    line = _refused_namespace(cluster, {"istio-injection": "enabled"})
    assert line == ("Error: namespace default has Istio sidecar injection on (istio-injection=enabled): the demo's "
                    "pods would get sidecars, and kmesh never enrolls a pod with one (nothing was changed); run the "
                    "demo in another namespace (-n), or turn injection off: "
                    f"`kubectl label namespace default istio-injection- {_flags(cluster)}` (see 'kmeshctl demo "
                    "traffic-shift --help')"), line


def test_a_system_namespace_is_refused(make) -> None:
    cluster = make()
    line = _refused_namespace(cluster, {"kubernetes.io/metadata.name": "kube-system"}, "-n", "kube-system")
    # refused before the cluster is asked (p48 f48c), with the line without -n
    assert line.startswith("Error: -n kube-system: namespace kube-system is Kubernetes' own: enrolling it (the demo "
                           "labels its namespace for kmesh) makes no sense (nothing was changed); leave out -n"), line
    assert "demo traffic-shift --target cluster -c 3 -q`, or give -n another namespace" in line, line


def test_a_namespace_already_in_kmesh_is_used(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 90, "v2": 10})
    from standin import namespace

    cluster.server.put({**namespace("default"), "metadata": {"name": "default", "labels": {
        "istio.io/dataplane-mode": "Kmesh"}}})
    assert _demo(cluster).code == 0


# ------------------------------------------------------------------ 3. the documented JSON


def _documented_fields() -> set[str]:
    """The top-level field names the table of docs/usage.md's "The demo's JSON" lists."""
    section = DOCS.read_text().split("### The demo's JSON", 1)[1].split("\n### ", 1)[0]
    return {name.removesuffix("[]") for row in section.splitlines() if row.startswith("| `")
            for name in re.findall(r"`([a-z_\[\]]+)`", row.split("|")[1])}


def test_the_cluster_report_keeps_the_documented_schema(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})
    report = _demo(cluster, "--weights", "70/30,0/100").report
    assert set(report) == _documented_fields(), set(report) ^ _documented_fields()
    assert report["schema"] == "kmeshctl.demo.traffic-shift/v1" and report["target"] == "cluster"
    assert report["cluster"] == cluster.server.url and report["sandbox"] is None
    phase_keys = {"phase", "weights", "configured_share", "counts", "observed_share", "other_servers",
                  "counts_by_server", "test", "p_value", "consistent", "needed_requests", "judged", "requests",
                  "failures", "failed_requests", "during_change"}
    for phase in report["phases"]:
        assert set(phase) == phase_keys, set(phase) ^ phase_keys
        assert set(phase["counts"]) == set(phase["weights"]) == set(phase["observed_share"]) == {"v1", "v2"}
    assert set(report["phases"][1]["during_change"]) == {"requests", "failures", "counts", "other_servers",
                                                         "counts_by_server", "failed_requests"}
    assert set(report["totals"]) == {"requests", "failures", "phases", "during_changes"}
