"""`waypoint delete` faults a reviewer found (r125): a DELETE left unanswered by
--request-timeout (before the command's own --timeout) says what was deleted, what was
sent with its answer not seen, what was not and the command that finishes it, as a cut by
--timeout does (not the bare "cannot reach the Kubernetes API"); on a cluster without the
Gateway API, -o json still prints its document, --ignore-not-found has nothing to delete
(exit 0), and a waypoint's own objects left there are deleted."""

from __future__ import annotations

import json
import math
import shlex
import time
from typing import Any

from kmeshctl.kube import ApiUnreachable
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import GATEWAY_MISSING, gateway_crd

P = deploy.WaypointParams("default", "waypoint")


def _error_line(result: Any) -> str:
    return next(line for line in result.err.splitlines() if line.startswith("Error:"))


def _put_waypoint(cluster, gateway: bool = True) -> None:  # noqa: F811
    """The waypoint's objects as apply leaves them (``gateway``: its Gateway too)."""
    cluster.server.put(namespace("default"))
    for obj in deploy.render(P):
        if gateway or obj["kind"] != "Gateway":
            cluster.server.put(obj)


# ------------------------------------------------------------------ 1: a DELETE --request-timeout cut


def test_a_delete_unanswered_within_request_timeout_says_what_was_and_was_not_deleted(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    _put_waypoint(cluster)
    real = cluster.server.delete

    def slow_service(res: Any, key: Any, dry_run: bool = False) -> dict:
        out = real(res, key, dry_run)
        if res.kind == "Service" and not dry_run:
            time.sleep(2)  # taken, its answer later than --request-timeout
        return out

    cluster.server.delete = slow_service
    result = cluster.kmeshctl("--request-timeout", "1s", "waypoint", "delete", "-n", "default", "--timeout", "60s")
    assert result.code == 1, result
    line = _error_line(result)
    assert line.startswith("Error: waypoint delete stopped while deleting Service default/waypoint (delete sent, "
                           "answer not seen): cannot reach the Kubernetes API"), line
    assert "; deleted Gateway default/waypoint, Deployment default/waypoint; not deleted: ClusterRoleBinding " \
           "kmeshctl-waypoint-default-waypoint, ClusterRole kmeshctl-waypoint, ServiceAccount default/waypoint; " \
           "re-run `" in line, line
    assert "check that the cluster is up" not in line, line
    again = shlex.split(line.split("re-run `")[1].split("`")[0])
    assert again[3:] == ["--request-timeout", "1s", "waypoint", "delete", "-n", "default", "--timeout", "1m"], again
    assert line.endswith("to delete the rest once the API server answers, with a longer --request-timeout if it "
                         "was only slow"), line
    cluster.server.delete = real
    assert cluster.kmeshctl(*again[3:]).code == 0
    assert cluster.server.get("v1", "ServiceAccount", "waypoint", "default") is None


class _Unreachable:
    """A client whose every read goes unanswered (failed() then reports the plan)."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise ApiUnreachable("cannot reach the Kubernetes API (i/o timeout)")

    list = get


def _deletion(**state: Any) -> deploy._Deletion:
    run = deploy._Deletion(_Unreachable(), P, lambda ref, outcome: None, lambda ref: None,  # type: ignore[arg-type]
                           lambda ref, ns: None, False, time.monotonic() + 60, 60.0, "kmeshctl waypoint delete")
    run.rest = [o for o in reversed(deploy.render(P)) if o["kind"] in ("ClusterRole", "ServiceAccount")]
    for key, value in state.items():
        setattr(run, key, value)
    return run


def test_a_read_unanswered_before_anything_changed_is_the_plain_error() -> None:
    err = ApiUnreachable("cannot reach the Kubernetes API (i/o timeout)", fix="check that the cluster is up")
    assert _deletion().cut(err, _deletion().rest[0]) is err


def test_a_read_unanswered_after_a_delete_says_what_was_deleted() -> None:
    err = ApiUnreachable("cannot reach the Kubernetes API (i/o timeout)", fix="check that the cluster is up")
    run = _deletion(deleted=["Gateway default/waypoint"])
    cut = run.cut(err, run.rest[0])
    assert str(cut).startswith("waypoint delete stopped before deleting ClusterRole kmeshctl-waypoint: cannot reach "
                               "the Kubernetes API (i/o timeout); deleted Gateway default/waypoint; not deleted: "
                               "ClusterRole kmeshctl-waypoint, ServiceAccount default/waypoint; re-run "
                               "`kmeshctl waypoint delete`"), cut


def test_an_unanswered_delete_is_never_reported_not_deleted() -> None:
    err = deploy.DeleteUnanswered("ServiceAccount default/waypoint", ApiUnreachable("no answer"))
    run = _deletion()
    run.rest = run.rest[1:]  # the ServiceAccount, the last
    cut = str(run.cut(err, run.rest[0]))
    assert cut.startswith("waypoint delete stopped while deleting ServiceAccount default/waypoint (delete sent, "
                          "answer not seen): no answer; re-run"), cut
    assert "not deleted" not in cut, cut


def test_the_deadline_s_words_stay() -> None:
    err = ApiUnreachable("cannot reach the Kubernetes API (i/o timeout)")
    run = _deletion(deadline=time.monotonic() - 1, timeout=2.0)
    assert str(run.cut(err, run.rest[0])).startswith("waypoint delete stopped by the --timeout 2s limit before "
                                                       "deleting ClusterRole kmeshctl-waypoint; not deleted: ")
    assert _deletion(dry_run=True, deleted=["x"], deadline=-math.inf).cut(err, run.rest[0]) is err


# ------------------------------------------------------------------ 3: no Gateway API


def test_delete_json_without_the_gateway_api_prints_its_document(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("default"))
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "-o", "json")
    assert result.code == 1, result
    document = json.loads(result.out)
    assert len(document["errors"]) == 1 and document["errors"][0].startswith(f"{GATEWAY_MISSING}, which waypoints "
                                                                             "need"), document
    assert document["deleted"] == [] and document["waypoint"] == "default/waypoint", document
    assert _error_line(result).startswith(f"Error: {GATEWAY_MISSING}"), result


def test_ignore_not_found_without_the_gateway_api_has_nothing_to_delete(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("default"))
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--ignore-not-found")
    assert result.code == 0, result
    assert result.out == ("Nothing to delete: waypoint default/waypoint does not exist (the cluster does not serve "
                          "the Gateway API).\n"), result
    as_json = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--ignore-not-found", "-o", "json")
    assert as_json.code == 0 and json.loads(as_json.out)["errors"] == [], as_json
    assert not [r for r in cluster.server.requests if r.method == "DELETE"]


def test_a_waypoint_s_objects_left_without_the_gateway_api_are_deleted(cluster) -> None:  # noqa: F811
    """The Gateway API's CRDs removed (the Gateways went with them): the waypoint's
    Deployment, Service, ServiceAccount and RBAC stay, and delete removes them."""
    _put_waypoint(cluster, gateway=False)
    for flags in ([], ["--ignore-not-found"]):
        result = cluster.kmeshctl("waypoint", "delete", "-n", "default", *flags)
        assert result.code == 0, result
    lines = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--ignore-not-found").out
    assert "Nothing to delete" in lines, lines
    for api, kind, name, ns in (("apps/v1", "Deployment", "waypoint", "default"),
                                ("v1", "ServiceAccount", "waypoint", "default"),
                                (deploy.RBAC_API, "ClusterRole", deploy.CLUSTER_ROLE, "")):
        assert cluster.server.get(api, kind, name, ns) is None, kind


def test_left_objects_are_deleted_and_said_so_without_the_gateway_api(cluster) -> None:  # noqa: F811
    _put_waypoint(cluster, gateway=False)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "-o", "json")
    assert result.code == 0, result
    document = json.loads(result.out)
    assert document["deleted"] == ["Deployment default/waypoint", "Service default/waypoint",
                                   "ClusterRoleBinding kmeshctl-waypoint-default-waypoint",
                                   "ClusterRole kmeshctl-waypoint", "ServiceAccount default/waypoint"], document
    assert document["errors"] == [], document


def test_an_object_of_its_name_only_is_no_waypoint_without_the_gateway_api(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("default"))
    deployment = next(o for o in deploy.render(P) if o["kind"] == "Deployment")
    cluster.server.put({**deployment, "metadata": {"name": "waypoint", "namespace": "default"}})  # the user's
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default")
    assert result.code == 1 and _error_line(result).startswith(f"Error: {GATEWAY_MISSING}"), result
    assert cluster.server.get("apps/v1", "Deployment", "waypoint", "default") is not None
