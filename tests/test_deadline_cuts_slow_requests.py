"""--timeout bounds every request of `uninstall` and `waypoint delete` (F19E, finding B): a
request the API server is slow to answer (within --request-timeout) is cut at the limit, a
DELETE cut so is named as sent with its answer not seen (never `not deleted`), and the
re-run command is given."""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

SLOW_S = 8  # well within --request-timeout (30 s), well past each --timeout below
SLACK_S = 1.5  # what a run may take past its --timeout: startup, the floor of a cut request


def _error_line(err: str) -> str:
    return next(line for line in err.splitlines() if line.startswith("Error:"))


def _rerun(line: str) -> list[str]:
    return shlex.split(line.split("re-run `")[1].split("`")[0])


def _slow_delete(cluster, kind: str) -> None:  # noqa: F811
    real_delete = cluster.server.delete

    def slow(res: Any, key: Any, dry_run: bool = False) -> dict:
        if res.kind == kind and not dry_run:
            time.sleep(SLOW_S)
        return real_delete(res, key, dry_run)

    cluster.server.delete = slow


def _timed(cluster, *args: str) -> tuple[Any, float]:  # noqa: F811
    started = time.monotonic()
    result = cluster.kmeshctl(*args)
    return result, time.monotonic() - started


def test_uninstall_cuts_a_slow_delete_at_the_timeout(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    _slow_delete(cluster, "ClusterRole")
    result, took = _timed(cluster, "uninstall", "--timeout", "2", "-q")
    assert took < 2 + SLACK_S, f"uninstall --timeout 2 ran {took:.1f}s"
    assert result.code == 1, result
    line = _error_line(result.err)
    assert line.startswith("Error: uninstall stopped by the --timeout 2s limit (reached while deleting "
                           "ClusterRole kmesh): deleted "), line
    assert "; ClusterRole kmesh: delete sent, answer not seen; not deleted: ServiceAccount kmesh-system/kmesh, " \
           "Namespace kmesh-system; re-run `" in line, line
    assert "not deleted: ClusterRole" not in line and ", ClusterRole kmesh" not in line, line
    sent = [r.path for r in cluster.server.requests if r.method == "DELETE"]
    assert not any(p.endswith("/serviceaccounts/kmesh") for p in sent), sent
    assert _rerun(line)[3:] == ["uninstall", "--timeout", "2s", "-q"], line


def test_uninstall_cuts_the_slow_pod_check_and_names_the_nodes(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20", "-q").code == 0
    real_list = cluster.server.list

    def slow_cluster_wide_pods(res: Any, ns: str, labels: str, fields: str) -> dict:
        if res.kind == "Pod" and not ns:
            time.sleep(SLOW_S)
        return real_list(res, ns, labels, fields)

    cluster.server.list = slow_cluster_wide_pods
    result, took = _timed(cluster, "uninstall", "--timeout", "3", "-o", "json")
    assert took < 3 + SLACK_S, f"uninstall --timeout 3 ran {took:.1f}s"
    assert result.code == 1, result
    doc = json.loads(result.out)
    assert doc["nodes"], doc
    assert all("could not check pods within the --timeout 3s limit" in n["detail"] for n in doc["nodes"]), doc
    assert "DaemonSet kmesh-system/kmesh" in doc["deleted"], doc
    [error] = doc["errors"]
    assert "uninstall stopped by the --timeout 3s limit (reached before deleting " in error, error


def test_waypoint_delete_cuts_a_slow_delete_at_the_timeout(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    _slow_delete(cluster, "Deployment")
    result, took = _timed(cluster, "waypoint", "delete", "-n", "default", "--timeout", "2s")
    assert took < 2 + SLACK_S, f"waypoint delete --timeout 2s ran {took:.1f}s"
    assert result.code == 1, result
    line = _error_line(result.err)
    assert line.startswith("Error: waypoint delete stopped by the --timeout 2s limit while deleting Deployment "
                           "default/waypoint (delete sent, answer not seen); deleted Gateway default/waypoint; "
                           "not deleted: Service default/waypoint, "), line
    assert "not deleted: Deployment" not in line and ", Deployment" not in line, line
    assert _rerun(line)[3:] == ["waypoint", "delete", "-n", "default", "--timeout", "2s"], line


def test_waypoint_delete_cuts_a_slow_read_after_a_delete(cluster, monkeypatch) -> None:  # noqa: F811
    from standin import frontend

    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    real_on_object = frontend._Handler.on_object

    def slow_gone_gateway(self: Any, method: str, res: Any, ns: str, name: str, *rest: Any) -> Any:
        if method == "GET" and res.kind == "Gateway" and (res.group, res.plural, ns, name) not in self.api.objects:
            time.sleep(SLOW_S)  # the wait's look after the Gateway's delete
        return real_on_object(self, method, res, ns, name, *rest)

    monkeypatch.setattr(frontend._Handler, "on_object", slow_gone_gateway)
    result, took = _timed(cluster, "waypoint", "delete", "-n", "default", "--timeout", "2s")
    assert took < 2 + SLACK_S, f"waypoint delete --timeout 2s ran {took:.1f}s"
    assert result.code == 1, result
    line = _error_line(result.err)
    assert line.startswith("Error: waypoint delete stopped by the --timeout 2s limit while deleting Gateway "
                           "default/waypoint (being deleted, it may be gone); not deleted: Deployment "
                           "default/waypoint, "), line
