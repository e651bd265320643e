"""The cluster demo's execs in its client pod when the connection of a WebSocket upgrade is
lost before the API server answers (seen in CI against the stand-in: "Connection to remote
host was lost", "Connection reset by peer", at the start of a phase): nothing ran in the pod,
so the exec is opened once more; a second loss in a row is the demo's one error line, and
a refused upgrade (an HTTP status) is never opened again. The stand-in cuts the next N upgrades
(``upgrades_to_drop``) as a dropped connection does."""

from __future__ import annotations

from typing import Any

from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

from kmeshctl.kube import stream_lost_before_answer
from standin import HostNetworkBackend, StandinApiServer, core_v1_client, namespace
from test_demo_cluster_refusals import make  # noqa: F401 (fixture)
from test_demo_cluster_weights_in_force import _demo, _routing, _vs_weights


def _execs(cluster: Any) -> int:
    return sum(1 for r in cluster.server.requests if r.path.endswith("/exec"))


def _demo_losing(make: Any, upgrades: int) -> tuple[Any, Any]:
    """The demo at the 70/30 in force, the stand-in cutting its first ``upgrades`` execs."""
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})
    cluster.server.upgrades_to_drop = upgrades
    return cluster, _demo(cluster)


def test_an_upgrade_lost_before_any_answer_is_opened_again_and_the_demo_passes(make) -> None:
    cluster, result = _demo_losing(make, 3)  # the start-up sweep's two (it goes on without), the loop's first
    assert result.code == 0, result.err
    assert cluster.server.upgrades_to_drop == 0 and result.report["passed"], result.err


def test_two_losses_in_a_row_are_the_demos_one_error_line(make) -> None:
    cluster, result = _demo_losing(make, 4)  # the start-up sweep's two (it goes on without), the loop's two
    assert result.code == 1, result.err
    [line] = [x for x in result.err.splitlines() if x.startswith("Error:")]
    assert line.startswith("Error: cannot exec in pod default/netutils-") and "Connection to remote host was lost" \
        in line and line.endswith("check that it runs and that you may create pods/exec"), line
    assert cluster.server.upgrades_to_drop == 0 and _execs(cluster) == 4, _execs(cluster)
    assert _vs_weights(cluster) == {"v1": 70, "v2": 30}  # put back


def _pod() -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"nodeName": "n", "containers": [{"name": "app", "image": "x"}]}, "status": {"phase": "Running"}}


def _failed_open(server: StandinApiServer, tmp_path: Any, pod: str = "p") -> ApiException:
    core = core_v1_client(server, tmp_path)
    try:
        stream(core.connect_get_namespaced_pod_exec, pod, "ns", command=["true"], stdout=True, stderr=True,
               stdin=False, tty=False, _preload_content=False)
    except ApiException as err:
        return err
    raise AssertionError("the upgrade was not cut")


def test_only_a_connection_lost_before_an_answer_counts_as_lost(tmp_path) -> None:
    server = StandinApiServer().start()
    try:
        server.put(namespace("ns"))
        server.put(_pod())
        server.back_pod("ns", "p", HostNetworkBackend())
        server.upgrades_to_drop = 1
        assert stream_lost_before_answer(_failed_open(server, tmp_path))
        assert not stream_lost_before_answer(_failed_open(server, tmp_path, "missing"))  # a 404: an answer
    finally:
        server.stop()
    assert not stream_lost_before_answer(ValueError("not a transport error"))
