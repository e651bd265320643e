"""Pass-21 review findings 3 and 9: a stop after something was deleted names what was.

3. uninstall: a read (not the DELETE) left unanswered by --request-timeout once a delete
   was sent (the read of the next object, or the look after an accepted DELETE) was the
   bare `cannot reach the Kubernetes API ... check that the cluster is up`: now the stopped
   line, deleted / being deleted / not deleted and the re-run. With nothing sent yet the
   bare line stays: nothing changed.
9. waypoint delete: a leftover binding removed, then the next one's DELETE unanswered: the
   first was named neither deleted nor not deleted; now it is named deleted.

Real parts: kmeshctl.cli.main in-process against the stand-in API server, its answers
delayed per object."""

from __future__ import annotations

import shlex
import time
from typing import Any

import pytest

from kmeshctl.cli import badinput
from kmeshctl.waypoint import deploy
from standin.frontend import _Handler
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd
from test_uninstall_stops_say_what_went_f20b import EF, EF_REF, ORDER, _REAL_ON_OBJECT, _error_line, _installed, \
    _present
from test_waypoint_delete_unanswered_and_no_gateway_api_f20c import _put_waypoint

SLOW_S = 2.5  # past the --request-timeout 1s these tests pass
FIRST = ORDER[0]
FIRST_NAME = FIRST.rpartition("/")[2]


def _slow_reads_of(monkeypatch, name: str, when: Any = lambda: True) -> None:
    """Every GET of EnvoyFilter ``name`` answers SLOW_S late while ``when()``."""
    def on_object(self, method, res, ns, obj_name, *args):  # type: ignore[no-untyped-def]
        if method == "GET" and res.plural == "envoyfilters" and obj_name == name and when():
            time.sleep(SLOW_S)
        return _REAL_ON_OBJECT(self, method, res, ns, obj_name, *args)

    monkeypatch.setattr(_Handler, "on_object", on_object)


def _slow_answer_ended(cluster) -> None:  # noqa: F811
    """Until the request the client gave up on is answered: the stand-in delays it under its
    lock, and the pasted re-run (--request-timeout 1s too) would otherwise wait for it (seen
    in a clean-clone run)."""
    with cluster.server.lock:
        pass


def _re_run(line: str) -> list[str]:
    return shlex.split(line.split("re-run `")[1].split("`")[0])


def _uninstall(cluster) -> str:  # noqa: F811
    result = cluster.kmeshctl("--request-timeout", "1s", "uninstall", "--timeout", "60s")
    assert result.code == 1, result
    return _error_line(result.err)


# -- 3. uninstall: a read unanswered after a delete was sent ------------------------------------


def test_uninstall_read_unanswered_before_the_next_delete_names_what_went(cluster, monkeypatch) -> None:  # noqa: F811
    _installed(cluster)
    _slow_reads_of(monkeypatch, EF)
    line = _uninstall(cluster)
    at = ORDER.index(EF_REF)
    assert line.startswith(f"uninstall stopped by no answer within --request-timeout 1s before deleting {EF_REF}: "
                           f"deleted {', '.join(ORDER[:at])}; not deleted: {', '.join(ORDER[at:])}; re-run `"), line
    assert line.endswith("` to remove the rest (it is safe to repeat), with a longer --request-timeout if it was "
                         "only slow"), line
    assert "check that the cluster is up" not in line, line
    monkeypatch.undo()
    _slow_answer_ended(cluster)
    again = cluster.kmeshctl(*_re_run(line)[1:])
    assert again.code == 0 and not _present(cluster), again


def test_uninstall_look_unanswered_after_its_delete_says_being_deleted(cluster, monkeypatch) -> None:  # noqa: F811
    _installed(cluster)
    taken: list[str] = []
    real = cluster.server.delete

    def delete(res, key, dry_run=False):  # type: ignore[no-untyped-def]
        out = real(res, key, dry_run)
        if key[-1] == EF and not dry_run:
            taken.append(EF)
        return out

    cluster.server.delete = delete
    _slow_reads_of(monkeypatch, EF, lambda: bool(taken))
    line = _uninstall(cluster)
    at = ORDER.index(EF_REF)
    assert line.startswith(f"uninstall stopped by no answer within --request-timeout 1s while deleting {EF_REF}: "
                           f"deleted {', '.join(ORDER[:at])}; {EF_REF} being deleted (the cluster finishes it); "
                           f"not deleted: {', '.join(ORDER[at + 1:])}; re-run `"), line
    assert "answer not seen" not in line, line


def test_uninstall_read_unanswered_before_any_delete_is_the_plain_error(cluster, monkeypatch) -> None:  # noqa: F811
    _installed(cluster)
    _slow_reads_of(monkeypatch, FIRST_NAME)
    line = _uninstall(cluster)
    assert line.startswith("cannot reach the Kubernetes API"), line
    assert "check that the cluster is up" in line and "deleted" not in line, line
    assert _present(cluster) == ORDER


# -- 9. waypoint delete: a leftover binding removed before the next one's DELETE went unanswered -


def _leftover(cluster, ns: str) -> str:  # noqa: F811
    """A binding waypoint ``ns``/waypoint left when its namespace was deleted; its ref."""
    binding = next(o for o in deploy.render(deploy.WaypointParams(ns, "waypoint"))
                   if o["kind"] == "ClusterRoleBinding")
    cluster.server.put(binding)
    return f"ClusterRoleBinding {binding['metadata']['name']}"


@pytest.fixture
def whole_lines(monkeypatch) -> None:
    # pytest's long tmp kubeconfig path is in the line twice: it would pass the CLI's cut
    monkeypatch.setattr(badinput, "MAX_LINE", 4000)


def test_waypoint_leftover_removed_then_next_unanswered_is_named_deleted(cluster, whole_lines) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    _put_waypoint(cluster)
    first, second = _leftover(cluster, "p21gone1"), _leftover(cluster, "p21gone2")
    real = cluster.server.delete

    def slow(res: Any, key: Any, dry_run: bool = False) -> dict:
        out = real(res, key, dry_run)
        if f"ClusterRoleBinding {key[-1]}" == second and not dry_run:
            time.sleep(2)  # taken, its answer later than --request-timeout
        return out

    cluster.server.delete = slow
    result = cluster.kmeshctl("--request-timeout", "1s", "waypoint", "delete", "-n", "default", "--timeout", "60s")
    assert result.code == 1, result
    line = next(x for x in result.err.splitlines() if x.startswith("Error:"))
    assert line.startswith(f"Error: waypoint delete stopped while deleting {second} (delete sent, answer not seen): "
                           ), line
    deleted = line.split("; deleted ")[1].split(";")[0].split(", ")
    assert deleted[-1] == first, line
    assert "ClusterRoleBinding kmeshctl-waypoint-default-waypoint" in deleted, line
    assert "not deleted: ClusterRole kmeshctl-waypoint, ServiceAccount default/waypoint; re-run `" in line, line
    cluster.server.delete = real
    _slow_answer_ended(cluster)
    assert cluster.kmeshctl(*_re_run(line)[3:]).code == 0
    assert cluster.server.get("v1", "ServiceAccount", "waypoint", "default") is None
