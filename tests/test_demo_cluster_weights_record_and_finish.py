"""The cluster demo's hold on the VirtualService whose weights it changes (h115, reviewer
106), against the stand-in API server, no root:

  - H1: a user's VirtualService fortio an older demo once wrote into (a kmeshctl field
    manager beside the user's) was taken as the demo's and force-applied: refused now, as
    every other kind is, naming `kubectl label` (if it is the demo's) or delete.
  - H3: the record of the weights a run found is put back only while the VirtualService
    still has the weights that run set; changed since (the user's), they stay and only the
    record goes; a run that may still be going (its pid alive here, or a recent record of
    another host) is refused.
  - M1: finish never replaces the run's own outcome (the VirtualService gone, Ctrl-C); a
    failed restore is one line saying what stays and what the next run puts back.
  - M2: set_weights and finish write only to the VirtualService prepare checked (its uid),
    and only as read (uid and resourceVersion preconditions).
  - M3: the waypoint's timeout speaks of the waypoint's /status, not of an agent's admin
    port, and a replaced waypoint pod's successor is polled.
  - A refusal before any write never says "putting them back afterwards".
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from typing import Any

import pytest

from kmeshctl import kube
from kmeshctl.demo_cluster import ORIGINAL_WEIGHTS, ClusterTarget, WeightsRecord
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import connect
from test_demo_cluster_refusals import VS_API, _documents, make  # noqa: F401 (fixture)
from test_demo_cluster_weights_in_force import _routing, _vs_weights

USER = "kubectl-client-side-apply"
VS = "VirtualService default/fortio"


def _target(cluster: Any) -> ClusterTarget:
    return ClusterTarget(connect(kube.KubeTarget(str(cluster.kubeconfig))), _documents(), ("default", "fortio"),
                         settle_s=0, ready_timeout_s=10)


def _vs(cluster: Any) -> dict:
    return cluster.server.get(VS_API, "VirtualService", "fortio", "default")


def _annotations(cluster: Any) -> dict:
    return _vs(cluster)["metadata"].get("annotations") or {}


def _demo(cluster: Any, *extra: str) -> Any:
    return cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "20",
                            "-q", *extra)


def _vs_patches(cluster: Any, since: int = 0) -> list[str]:
    return [r.method for r in cluster.server.requests[since:]
            if r.method == "PATCH" and "virtualservices" in r.path]


# ------------------------------------------------------------------ H1. one ownership rule


def test_a_users_virtual_service_an_older_demo_wrote_into_is_refused(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})
    users = {"apiVersion": VS_API, "kind": "VirtualService",
             "metadata": {"name": "fortio", "namespace": "default", "labels": {"team": "mine"}},
             "spec": {"hosts": ["fortio"], "http": [{"route": [
                 {"destination": {"host": "fortio", "subset": "v1"}, "weight": 70},
                 {"destination": {"host": "fortio", "subset": "v2"}, "weight": 30}]}]}}
    cluster.server.put(users, manager=USER)
    cluster.server.put(users, manager="kmeshctl")  # what an older demo left in it
    before = len(cluster.server.requests)
    result = _demo(cluster, "--weights", "0/100")
    assert result.code == 2, result
    line = result.err.strip().splitlines()[-1]
    assert line.startswith(f"Error: {VS} exists and was not made by kmeshctl demo (nothing was changed)"), line
    assert "`kubectl label virtualservice fortio -n default app.kubernetes.io/part-of=kmeshctl-demo" in line, line
    assert _vs_patches(cluster, before) == []
    assert _vs(cluster)["metadata"]["labels"] == {"team": "mine"}
    assert _vs_weights(cluster) == {"v1": 70, "v2": 30}


# ------------------------------------------------------------------ H3. the record of the weights


def _killed_run(cluster: Any, weights: list[int]) -> None:
    """A run that set ``weights`` and was then SIGKILLed (no finish)."""
    first = _target(cluster)
    first.prepare(lambda _: None)
    first.set_weights(weights)


def _killed_runs_record_gone(cluster: Any) -> bool:
    """No record on the VirtualService but the hold of the run prepared since (this
    process's, its weights unchanged: found == set), which its finish drops (p32)."""
    text = _annotations(cluster).get(ORIGINAL_WEIGHTS)
    record = json.loads(text) if text else None
    return record is None or (record["run"] == {"host": socket.gethostname(), "pid": os.getpid()}
                              and record["found"] == record["set"] == _vs(cluster)["spec"]["http"])


def _rewrite_record(cluster: Any, **changes: Any) -> None:
    vs = _vs(cluster)
    record = json.loads(vs["metadata"]["annotations"][ORIGINAL_WEIGHTS])
    record.update(changes)
    vs["metadata"]["annotations"][ORIGINAL_WEIGHTS] = json.dumps(record)
    vs["metadata"].pop("managedFields", None)
    cluster.server.put(vs, manager="kubectl-annotate")


def test_the_record_says_what_was_found_and_set_and_by_which_run(make) -> None:
    cluster = make()
    _killed_run(cluster, [0, 100])
    record = json.loads(_annotations(cluster)[ORIGINAL_WEIGHTS])
    assert [r["weight"] for r in record["found"][0]["route"]] == [90, 10]
    assert [r["weight"] for r in record["set"][0]["route"]] == [0, 100]
    assert record["run"] == {"host": socket.gethostname(), "pid": os.getpid()}
    assert record["at"].endswith("Z")


def test_weights_a_user_set_after_a_killed_run_stay_and_the_record_goes(make) -> None:
    cluster = make()
    _killed_run(cluster, [0, 100])
    vs = _vs(cluster)
    vs["spec"]["http"][0]["route"][0]["weight"], vs["spec"]["http"][0]["route"][1]["weight"] = 50, 50
    vs["metadata"].pop("managedFields", None)
    cluster.server.put(vs, manager="kubectl-patch")  # the user's deliberate edit
    again = _target(cluster)
    assert list(again.subject(None).default_weights) == [50, 50]  # measured as the user set them
    lines: list[str] = []
    again.prepare(lines.append)
    assert _vs_weights(cluster) == {"v1": 50, "v2": 50} and _killed_runs_record_gone(cluster)
    said = [line for line in lines if "stopped before" in line]
    assert said == [f"{VS}: a demo stopped before it could put back the weights it found (v1=90, v2=10), and they "
                    "were changed since (now v1=50, v2=50): keeping them, dropping its record"], lines
    forced = [line for line in lines if "measuring the weights in force" in line]
    assert forced and "v1=50, v2=50" in forced[0], lines  # the weights this run measures


def test_an_older_demos_record_of_the_found_weights_only_is_dropped(make) -> None:
    cluster = make()
    _killed_run(cluster, [0, 100])
    found = json.loads(_annotations(cluster)[ORIGINAL_WEIGHTS])["found"]
    vs = _vs(cluster)
    vs["metadata"]["annotations"][ORIGINAL_WEIGHTS] = json.dumps(found)  # the old format: no `set`
    vs["metadata"].pop("managedFields", None)
    cluster.server.put(vs, manager="kubectl-annotate")
    lines: list[str] = []
    _target(cluster).prepare(lines.append)
    assert _vs_weights(cluster) == {"v1": 0, "v2": 100} and _killed_runs_record_gone(cluster)
    # it cannot tell whether the weights in force are the ones it set: never "were changed since"
    said = [line for line in lines if "stopped before" in line]
    assert said == [f"{VS}: an older demo stopped before it could put back the weights it found (v1=90, v2=10); "
                    "its record cannot tell whether v1=0, v2=100 are its weights: keeping them, dropping its "
                    "record"], lines


@pytest.fixture
def live_pid() -> Any:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_a_run_whose_pid_lives_on_this_host_is_waited_for(make, live_pid: int) -> None:
    cluster = make()
    _killed_run(cluster, [0, 100])
    _rewrite_record(cluster, run={"host": socket.gethostname(), "pid": live_pid})
    before = len(cluster.server.requests)
    with pytest.raises(KmeshctlError) as caught:
        _target(cluster).prepare(lambda _: None)
    assert str(caught.value).startswith(f"{VS}: another demo (pid {live_pid}) may be running: it set the weights "
                                        "v1=0, v2=100 (nothing was changed); wait for it"), caught.value
    assert f"`kubectl annotate virtualservice fortio -n default {ORIGINAL_WEIGHTS}-`" in str(caught.value)
    assert _vs_patches(cluster, before) == []
    assert _vs_weights(cluster) == {"v1": 0, "v2": 100} and ORIGINAL_WEIGHTS in _annotations(cluster)


def test_a_recent_record_of_another_host_is_waited_for_an_old_one_put_back(make) -> None:
    cluster = make()
    _killed_run(cluster, [0, 100])
    _rewrite_record(cluster, run={"host": "h115-elsewhere", "pid": 4242})
    with pytest.raises(KmeshctlError, match=r"another demo \(pid 4242 on host h115-elsewhere, \d+s ago\)"):
        _target(cluster).prepare(lambda _: None)
    long_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    _rewrite_record(cluster, at=long_ago)
    _target(cluster).prepare(lambda _: None)
    assert _vs_weights(cluster) == {"v1": 90, "v2": 10} and _killed_runs_record_gone(cluster)


def test_a_dead_pid_of_this_host_is_put_back(make, live_pid: int) -> None:
    cluster = make()
    _killed_run(cluster, [0, 100])
    dead = subprocess.Popen(["true"])
    dead.wait()
    _rewrite_record(cluster, run={"host": socket.gethostname(), "pid": dead.pid})
    _target(cluster).prepare(lambda _: None)
    assert _vs_weights(cluster) == {"v1": 90, "v2": 10}


def test_the_record_round_trips() -> None:
    from kmeshctl.demo_cluster import weights_record

    record = WeightsRecord([{"route": []}], [{"route": [1]}], "h", 7, 1_700_000_000.0)
    vs = {"metadata": {"annotations": {ORIGINAL_WEIGHTS: record.to_json()}}}
    assert weights_record(vs) == record


# ------------------------------------------------------------------ M1. finish keeps the outcome


def _deleting_after_first_phase(monkeypatch: pytest.MonkeyPatch, cluster: Any, then: str) -> None:
    """The first phase's set_weights succeeds; then the user deletes the VirtualService and
    ``then``: "phase" (the next set_weights finds it gone) or "ctrl-c"."""
    real = ClusterTarget.set_weights

    def set_weights(self: ClusterTarget, weights: list[int]) -> None:
        real(self, weights)
        cluster.server.delete_object(VS_API, "VirtualService", "fortio", "default")
        if then == "ctrl-c":
            raise KeyboardInterrupt
        real(self, weights)

    monkeypatch.setattr(ClusterTarget, "set_weights", set_weights)


def test_a_virtual_service_gone_mid_run_is_the_runs_error_not_the_restores(make, monkeypatch) -> None:
    cluster = make()
    _deleting_after_first_phase(monkeypatch, cluster, "phase")
    result = _demo(cluster, "--weights", "0/100,100/0")
    assert result.code == 1, result
    err = result.err.strip().splitlines()
    assert err[-1].startswith(f"Error: {VS} is gone: its weights were not changed"), err
    assert "not found" not in result.err, result.err


def test_ctrl_c_with_the_virtual_service_gone_ends_with_the_stop_line(make, monkeypatch) -> None:
    cluster = make()
    _deleting_after_first_phase(monkeypatch, cluster, "ctrl-c")
    result = _demo(cluster, "--weights", "0/100,100/0")
    assert result.code == 130, result
    assert result.err.strip().splitlines()[-1].startswith("Error: stopped by Ctrl-C (SIGINT)"), result.err
    assert "not found" not in result.err and "PATCH" not in result.err, result.err


def test_a_failed_restore_is_one_line_before_the_stop_line(make, monkeypatch) -> None:
    cluster = make()
    real_set, real_patch = ClusterTarget.set_weights, kube.KubeClient.merge_patch

    def set_weights(self: ClusterTarget, weights: list[int]) -> None:
        real_set(self, weights)
        raise KeyboardInterrupt

    def merge_patch(self: Any, api_version: str, kind: str, name: str, patch: dict, namespace: Any = None) -> dict:
        if kind == "VirtualService" and (patch.get("metadata") or {}).get("annotations") == {ORIGINAL_WEIGHTS: None}:
            raise KmeshctlError("the API server refused the PATCH (h115 stand-in)")
        return real_patch(self, api_version, kind, name, patch, namespace)

    monkeypatch.setattr(ClusterTarget, "set_weights", set_weights)
    monkeypatch.setattr(kube.KubeClient, "merge_patch", merge_patch)
    result = _demo(cluster, "--weights", "0/100")
    assert result.code == 130, result
    err = result.err.strip().splitlines()
    assert err[-1].startswith("Error: stopped by Ctrl-C (SIGINT)"), err
    assert (f"Error: could not put back the weights of {VS} (the API server refused the PATCH (h115 stand-in)): "
            "weights left at v1=0, v2=100; the next demo, `kmeshctl ") in result.err, err
    assert "--weights 0/100 -q --target cluster -n default`, puts back v1=90, v2=10" in result.err, err  # p32
    assert _vs_weights(cluster) == {"v1": 0, "v2": 100}  # and the record stays for that next run
    assert json.loads(_annotations(cluster)[ORIGINAL_WEIGHTS])["set"] == _vs(cluster)["spec"]["http"]


# ------------------------------------------------------------------ M2. the object prepare checked


def _made_again(cluster: Any, weights: dict[str, int]) -> None:
    old_uid = _vs(cluster)["metadata"]["uid"]
    cluster.server.delete_object(VS_API, "VirtualService", "fortio", "default")
    _routing(cluster, weights)  # labelled the demo's, another uid
    assert _vs(cluster)["metadata"]["uid"] != old_uid


def test_set_weights_refuses_a_virtual_service_made_again_since_prepare(make) -> None:
    cluster = make()
    target = _target(cluster)
    target.prepare(lambda _: None)
    _made_again(cluster, {"v1": 70, "v2": 30})
    before = len(cluster.server.requests)
    with pytest.raises(KmeshctlError, match=f"^{VS} is no longer the one the demo checked"):
        target.set_weights([0, 100])
    assert _vs_patches(cluster, before) == [] and _vs_weights(cluster) == {"v1": 70, "v2": 30}


def test_finish_leaves_a_virtual_service_made_again_since_prepare(make) -> None:
    cluster = make()
    target = _target(cluster)
    target.prepare(lambda _: None)
    target.set_weights([0, 100])
    _made_again(cluster, {"v1": 70, "v2": 30})
    lines: list[str] = []
    target.finish(lines.append)
    assert _vs_weights(cluster) == {"v1": 70, "v2": 30}
    assert lines == [f"{VS} is no longer the one the demo checked (made again since, or not the demo's any more): "
                     "the weights it had (v1=90, v2=10) are not put back"], lines


def test_the_weight_patch_carries_the_uid_and_resource_version_read(make, monkeypatch) -> None:
    cluster = make()
    target = _target(cluster)
    target.prepare(lambda _: None)
    sent: list[dict] = []
    real = kube.KubeClient.merge_patch
    monkeypatch.setattr(kube.KubeClient, "merge_patch",
                        lambda self, a, k, n, patch, ns=None: sent.append(patch) or real(self, a, k, n, patch, ns))
    read = _vs(cluster)["metadata"]
    target.set_weights([0, 100])
    assert sent[0]["metadata"]["uid"] == read["uid"]
    assert sent[0]["metadata"]["resourceVersion"] == read["resourceVersion"]


# ------------------------------------------------------------------ M3. the waypoint's own words


AGENT_ADVICE = ("no agent admin endpoint at port 15000 of default/waypoint-a (refused): check the port the agent "
                "serves (its --admin-port)")
HOST = "|fortio.default.svc.cluster.local"


def _status(weights: dict[str, int]) -> dict:
    return {"routes": {f"inbound-vip|80|http{HOST}": {f"outbound|80|{s}{HOST}": w for s, w in weights.items()}}}


def _waypoint_target(cluster: Any, monkeypatch: pytest.MonkeyPatch, listings: list[list[str]],
                     answers: dict[str, Any]) -> ClusterTarget:
    from kmeshctl.waypoint import deploy

    calls = {"n": 0}

    def pods(self: ClusterTarget, waypoint: tuple[str, str]) -> list[str]:
        calls["n"] += 1
        return listings[min(calls["n"], len(listings)) - 1]

    def pod_status(namespace: str, pod: str, target: Any) -> dict:
        answer = answers[pod]
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(ClusterTarget, "_waypoint_pods", pods)
    monkeypatch.setattr(deploy, "pod_status", pod_status)
    monkeypatch.setattr("kmeshctl.demo_cluster.WAYPOINT_POLL_S", 0.01)
    return _target(cluster)


VS_DOC = {"spec": {"hosts": ["fortio"]}}
ROUTES = [{"destination": {"host": "fortio", "subset": "v1"}, "weight": 0},
          {"destination": {"host": "fortio", "subset": "v2"}, "weight": 100}]


def test_a_replaced_waypoint_pods_successor_is_polled(make, monkeypatch) -> None:
    cluster = make()
    target = _waypoint_target(cluster, monkeypatch, [["waypoint-a"], ["waypoint-b"]],
                              {"waypoint-a": KmeshctlError(AGENT_ADVICE), "waypoint-b": _status({"v2": 100})})
    target._wait_waypoint_weights(("default", "waypoint"), VS_DOC, ROUTES)  # returns: waypoint-b applies


def test_the_waypoint_timeout_speaks_of_the_waypoints_status(make, monkeypatch) -> None:
    cluster = make()
    target = _waypoint_target(cluster, monkeypatch, [["waypoint-a"]], {"waypoint-a": KmeshctlError(AGENT_ADVICE)})
    monkeypatch.setattr("kmeshctl.demo_cluster.WAYPOINT_APPLY_TIMEOUT_S", 0.1)
    with pytest.raises(KmeshctlError) as caught:
        target._wait_waypoint_weights(("default", "waypoint"), VS_DOC, ROUTES)
    text = str(caught.value)
    assert text.startswith("waypoint pod(s) default/waypoint-a did not apply weights {'v2': 100} within 0s "
                           "(the controller's /status at port "), text
    assert "agent" not in text and "--admin-port" not in text, text
    assert "`kmeshctl waypoint status -n default --name waypoint`" in text, text


# ------------------------------------------------------------------ the promise after the refusals


def test_a_refusal_does_not_promise_to_put_weights_back(make) -> None:
    cluster = make(kmesh=None)
    _routing(cluster, {"v1": 70, "v2": 30})
    vs = _vs(cluster)
    vs["metadata"].pop("managedFields", None)
    cluster.server.put(vs, manager="kubectl-patch")  # its spec changed by another manager
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3")
    assert result.code == 1, result
    assert "nothing was changed" in result.err and "putting them back afterwards" not in result.err, result.err
