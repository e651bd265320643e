"""`demo traffic-shift --target cluster` on a cluster that lacks what the VirtualService's
split needs (a new user's pass on a real cluster: with kmesh uninstalled `-c 3` printed
PASS, `-c 20` a bare FAIL; with the waypoint deleted 19/21 requests failed with no hint).

Before it applies or sends anything the demo refuses, exit 1, one line naming what is
missing and the pasteable command that fixes it (the typed --kubeconfig/--context kept),
the cluster untouched: no kmesh DaemonSet, one not ready, the namespace not enrolled, the
waypoint the fortio Service names missing or not programmed. A run that fails anyway
names the likeliest reason; one on too few requests to tell the weights from an even
spread never says PASS. Stand-in API server, no root."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from demo_mesh_seed import seed_mesh
from kmeshctl import demo, kube
from kmeshctl.demo_cluster import ClusterTarget, in_namespace, split_needs_error
from kmeshctl.kube import connect
from kmeshctl.splitstats import even_counts, min_requests, split_test
from standin import StandinApiServer, istio_crds, namespace, node
from standin.fixtures import StandinCluster

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "fortio"
VS_API = "networking.istio.io/v1alpha3"
WRITES = ("POST", "PUT", "PATCH", "DELETE")

# `sh -c LOOP sh COUNT STOP`: the demo's loop contract (kmeshctl.demo.REQUEST_LOOP), the
# versions answering in turn: what kube-proxy's spread over the pods looks like.
EVEN_LOOP = r"""
count=$1; stop=$2; i=0
while :; do
  if [ "$count" -gt 0 ]; then [ "$i" -ge "$count" ] && break; else [ -e "$stop" ] && break; fi
  i=$((i + 1)); echo "$i 0 200 $(( i % 2 + 1 ))"
done
if [ -n "$stop" ]; then rm -f "$stop"; fi
"""


class EvenLoopPod:
    """Runs the netutils pod: the demo's request loop becomes EVEN_LOOP (nothing is sent)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def exec(self, argv: list[str], **popen: Any) -> subprocess.Popen:
        if argv[:2] == ["sh", "-c"] and "url=$1" in argv[2]:
            argv = ["sh", "-c", EVEN_LOOP, "sh", argv[5], argv[6]]
        return subprocess.Popen(argv, **popen)

    def connect(self, port: int) -> Any:
        raise OSError("no port-forward to the stand-in netutils pod")


def _documents() -> list[dict]:
    return [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


@pytest.fixture
def make(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("COLUMNS", "300")
    for name in ("KUBECONFIG", "KMESHCTL_SANDBOX_NAME", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    started: list[StandinApiServer] = []

    def start(**mesh: Any) -> StandinCluster:
        server = StandinApiServer(crds=istio_crds())
        server.deployment_controller = "ready"
        server.controller_delay = 0.05
        server.put(namespace("default"))
        server.put(node("node-a"))
        seed_mesh(server, **mesh)
        server.pod_backend_resolver = lambda p: EvenLoopPod() if (p["metadata"].get("labels") or {}).get(
            "app") == "netutils" else None
        server.start()
        started.append(server)
        return StandinCluster(server, server.write_kubeconfig(tmp_path / "kubeconfig"), capsys)

    yield start
    for server in started:
        server.stop()


def _refused(cluster: StandinCluster, *extra: str) -> str:
    """The one error line of a refused `--context standin demo traffic-shift --target cluster
    -c 3 -q` (exit 1, nothing on stdout, nothing written to the cluster)."""
    before = len(cluster.server.requests)
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3",
                              "-q", *extra)
    assert result.code == 1 and result.out == "", result
    [line] = result.err.strip().splitlines()
    writes = [r for r in cluster.server.requests[before:] if r.method in WRITES]
    assert writes == [], [(r.method, r.path) for r in writes]
    assert cluster.server.get(VS_API, "VirtualService", "fortio", "default") is None  # nothing applied
    return line


def _flags(cluster: StandinCluster) -> str:
    return f"--kubeconfig {cluster.kubeconfig} --context standin"


# ------------------------------------------------------------------ refusals, nothing changed


def test_without_kmesh_the_demo_refuses_and_names_install(make) -> None:
    cluster = make(kmesh=None)
    line = _refused(cluster)
    assert line.startswith("Error: kmesh is not installed (no DaemonSet kmesh in kmesh-system; nothing was "
                           "changed); run `kmeshctl "), line
    assert f"`kmeshctl {_flags(cluster)} install --cluster-id ID`" in line, line  # the typed flags kept


def test_a_kmesh_not_ready_is_refused_with_status(make) -> None:
    cluster = make(kmesh="not-ready")
    line = _refused(cluster)
    assert line.startswith("Error: kmesh is not ready in kmesh-system (0/1 agent pods ready; nothing was changed); "
                           f"see why with `kmeshctl {_flags(cluster)} status`"), line


def test_a_deleted_waypoint_is_refused_with_waypoint_apply(make) -> None:
    cluster = make(waypoint=None)
    line = _refused(cluster)
    # no Service fortio in the cluster yet: said so, never a label on a Service that is not there
    assert line == ("Error: no Service default/fortio in the cluster yet (the demo creates it, labelled "
                    "istio.io/use-waypoint=waypoint) and the waypoint default/waypoint it would use does not exist "
                    "(nothing was changed); run "
                    f"`kmeshctl {_flags(cluster)} waypoint apply -n default --name waypoint --wait`"), line


def test_a_waypoint_istiod_has_not_programmed_is_refused(make) -> None:
    cluster = make(waypoint="pending")
    line = _refused(cluster)
    assert line.startswith("Error: waypoint default/waypoint, which Service default/fortio will use (the demo "
                           "creates it), is not ready "
                           "(Gateway Pending; nothing was changed); see `kmeshctl "), line
    assert f"`kmeshctl {_flags(cluster)} waypoint status -n default --name waypoint`" in line, line


def test_without_the_gateway_api_the_waypoint_cannot_exist(make) -> None:
    cluster = make(gateway_api=False)
    line = _refused(cluster)
    assert "does not serve the Gateway API" in line and "waypoint default/waypoint that Service default/fortio " \
                                                        "will use (the demo creates it)" in line and "nothing was changed" in line, line


def test_the_demo_namespace_of_dash_n_is_the_one_named(make) -> None:
    cluster = make(waypoint=None)
    cluster.server.put(namespace("team"))  # one that does not exist is its own refusal (h99)
    line = _refused(cluster, "-n", "team")
    assert "no Service team/fortio in the cluster yet" in line and "waypoint team/waypoint it would use" in line, line
    assert "waypoint apply -n team --name waypoint --wait`" in line, line


def test_a_namespace_not_enrolled_names_enable_ns(make) -> None:
    # The demo's own Namespace object enrolls it: only a cluster that drops the label (a
    # policy, a disable-ns after the apply) shows this; checked as after the apply.
    cluster = make()
    client = connect(kube.KubeTarget(str(cluster.kubeconfig)))
    objs = in_namespace(_documents(), "default")
    error = split_needs_error(client, objs, planned=False, outcome="no request was sent")
    assert error is not None and str(error) == (
        "namespace default is not enrolled in kmesh (no label istio.io/dataplane-mode=Kmesh: its pods' requests "
        "bypass kmesh and the waypoint; no request was sent); run `kmeshctl enable-ns default`")
    assert split_needs_error(client, objs, planned=True, outcome="") is None  # the apply would enroll it


# ------------------------------------------------------------------ a run that fails anyway


def test_an_even_split_fails_and_names_the_likeliest_reason(make) -> None:
    cluster = make()
    result = cluster.kmeshctl("demo", "traffic-shift", "--target", "cluster", "-c", "20", "-q")
    assert result.code == 1, result
    last = result.out.strip().splitlines()[-1]
    assert last.startswith("FAIL: target cluster "), last
    # the stand-in runs no agent: the netutils pod was never marked for redirection
    assert "likeliest reason: pod default/netutils-" in last and "is not marked kmesh.net/redirection=enabled" in last
    assert f"`kmeshctl --kubeconfig {cluster.kubeconfig} enable-ns default --wait`" in last, last


def test_the_reason_names_what_went_missing_during_the_run(make) -> None:
    cluster = make()
    client = connect(kube.KubeTarget(str(cluster.kubeconfig)))
    target = ClusterTarget(client, _documents(), ("default", "fortio"), settle_s=0, ready_timeout_s=10)
    target.prepare(lambda _: None)
    subject = demo.fortio_demo()[1]
    even = demo.TrafficCount(20, 0, {"1": 10, "2": 10})
    report = demo.DemoReport("cluster", 20, [demo._phase_report(subject, [90, 10], even, None)], subject)
    [netutils] = [p for p in cluster.server.all_of("v1", "Pod") if p["metadata"]["labels"]["app"] == "netutils"]
    netutils["metadata"]["annotations"] = {"kmesh.net/redirection": "enabled"}
    cluster.server.put(netutils)
    assert target.fail_reason(report) == (
        "likeliest reason: the observed split fits an even spread over the fortio pods (what kube-proxy does): the "
        "requests seem not to pass the waypoint; see `kmeshctl waypoint status -n default --name waypoint`")
    gateway = cluster.server.get("gateway.networking.k8s.io/v1", "Gateway", "waypoint", "default")
    gateway["status"] = {}
    cluster.server.put(gateway)
    assert target.fail_reason(report).startswith("likeliest reason: waypoint default/waypoint, which Service "
                                                 "default/fortio uses, is not ready (Gateway no status from istiod "
                                                 "yet; seen after the run)")
    assert demo.fail_reason(target, report) == target.fail_reason(report)


# ------------------------------------------------------------------ too few requests to judge


def test_three_requests_cannot_tell_90_10_from_random_and_never_pass(make) -> None:
    cluster = make()
    result = cluster.kmeshctl("demo", "traffic-shift", "--target", "cluster", "-c", "3", "-q")
    assert result.code == 1, result
    assert "too few requests to judge (need at least 12 for these weights)" in result.out, result.out
    last = result.out.strip().splitlines()[-1]
    assert last.startswith("FAIL: ") and "PASS" not in result.out, result.out
    assert last.endswith("; too few requests to judge (need at least 12 for these weights): `kmeshctl --kubeconfig "
                         f"{cluster.kubeconfig} demo traffic-shift --target cluster -q -c 12`"), last
    as_json = cluster.kmeshctl("demo", "traffic-shift", "--target", "cluster", "-c", "3", "-q", "-o", "json")
    report = json.loads(as_json.out)
    [phase] = report["phases"]
    assert as_json.code == 1 and report["passed"] is False and phase["consistent"] is True
    assert phase["judged"] is False and phase["needed_requests"] == 12
    fix = f"kmeshctl --kubeconfig {cluster.kubeconfig} demo traffic-shift --target cluster -o json -q -c 12"
    assert report["reason"] == f"too few requests to judge (need at least 12 for these weights): `{fix}`", report
    assert report["fix"] == fix, report


def test_the_needed_count_is_where_an_even_split_stops_passing() -> None:
    for weights, needed in (((90, 10), 12), ((0, 100), 2), ((80, 20), 24), ((99, 1), 4), ((60, 40), 268)):
        named = {"1": weights[0], "2": weights[1]}
        assert min_requests(named, demo.P_VALUE_FLOOR) == needed, weights
        assert all(split_test(even_counts(n, named), named).p_value >= demo.P_VALUE_FLOOR for n in range(1, needed))
        assert split_test(even_counts(needed, named), named).p_value < demo.P_VALUE_FLOOR
    # even weights: an even split is what they ask for; needed is where any outcome can be rejected
    assert min_requests({"1": 50, "2": 50}, demo.P_VALUE_FLOOR) == 11
    assert split_test({"1": 10}, {"1": 50, "2": 50}).p_value >= demo.P_VALUE_FLOOR
    assert split_test({"1": 11}, {"1": 50, "2": 50}).p_value < demo.P_VALUE_FLOOR


def test_a_rejection_stands_at_any_count_and_enough_requests_pass() -> None:
    subject = demo.fortio_demo()[1]
    rejected = demo._phase_report(subject, [0, 100], demo.TrafficCount(1, 0, {"1": 1}), None)
    assert rejected.judged and not rejected.consistent
    enough = demo._phase_report(subject, [90, 10], demo.TrafficCount(12, 0, {"1": 11, "2": 1}), None)
    assert enough.judged and enough.consistent
    report = demo.DemoReport("cluster", 12, [enough], subject)
    assert report.passed and demo.fail_reason(object(), report) == "" and report.to_json()["reason"] is None
