"""p32 findings of the cluster demo, one test (or more) per kind, each failing before its fix
(stand-in API server, no root):

1  a second cluster demo is refused while one runs on the same VirtualService whatever
   weights the first measures (its own ones too: it changes none, so it wrote no record and
   the second changed the weights under it, its FAIL blaming the data path): a run holds
   the VirtualService from its prepare on (the weights record, found == set), the second is
   refused in one line naming the first's pid and what to do; the hold goes on every way out
   (the end, an error, Ctrl-C, SIGTERM); a stale one (a dead pid, another host's expired)
   never blocks; a run whose weights someone changed anyway names that, not the data path;
2  every re-run line the cluster demo's fixes build (the --waypoint refusals, the finish
   that fails) keeps every flag typed: -c, --weights, -q/-v, -o, --plot, --context."""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kmeshctl import demo, kube
from kmeshctl.demo_cluster import ORIGINAL_WEIGHTS, ClusterTarget, bare_again
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import connect
from kmeshctl.stopping import Stopped
from test_demo_cluster_refusals import VS_API, _documents, make  # noqa: F401 (fixture)
from test_demo_cluster_weights_in_force import _routing, _vs_weights

VS = "VirtualService default/fortio"
USE = "istio.io/use-waypoint"
BACKTICKED = re.compile(r"`([^`]*)`")


def _target(cluster: Any) -> ClusterTarget:
    return ClusterTarget(connect(kube.KubeTarget(str(cluster.kubeconfig))), _documents(), ("default", "fortio"),
                         settle_s=0, ready_timeout_s=10)


def _vs(cluster: Any) -> dict:
    return cluster.server.get(VS_API, "VirtualService", "fortio", "default")


def _record(cluster: Any) -> dict | None:
    text = (_vs(cluster)["metadata"].get("annotations") or {}).get(ORIGINAL_WEIGHTS)
    return json.loads(text) if text else None


def _put_record(cluster: Any, **changes: Any) -> None:
    vs = copy.deepcopy(_vs(cluster))
    record = json.loads(vs["metadata"]["annotations"][ORIGINAL_WEIGHTS])
    record.update(changes)
    vs["metadata"]["annotations"][ORIGINAL_WEIGHTS] = json.dumps(record)
    vs["metadata"].pop("managedFields", None)
    cluster.server.put(vs, manager="kubectl-annotate")


def _second_demo(cluster: Any, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """`kmeshctl demo traffic-shift --target cluster -c 3 --weights 0/100 -q` in a process of its own."""
    return subprocess.run([sys.executable, "-m", "kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context",
                           "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3", "--weights",
                           "0/100", "-q", *extra], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")})


def _vs_patches(cluster: Any, since: int) -> list[str]:
    return [r.path for r in cluster.server.requests[since:] if r.method == "PATCH" and "virtualservices" in r.path]


# ------------------------------------------------------------------ 1. one demo at a time


def test_a_run_at_the_virtual_services_own_weights_holds_it_and_a_second_demo_is_refused(make, tmp_path) -> None:
    cluster = make()
    first = _target(cluster)
    first.prepare(lambda _: None)  # it measures the weights in force: it changes none
    held = _record(cluster)
    assert held is not None and held["run"] == {"host": socket.gethostname(), "pid": os.getpid()}, held
    assert held["found"] == held["set"] == _vs(cluster)["spec"]["http"], held
    before = len(cluster.server.requests)
    second = _second_demo(cluster, tmp_path)
    assert second.returncode == 1 and second.stdout == "", second
    [line] = second.stderr.strip().splitlines()
    assert line.startswith(f"Error: {VS}: another demo (pid {os.getpid()}) may be running: it measures the "
                           "weights v1=90, v2=10 (nothing was changed); wait for it"), line
    assert f"kubectl annotate virtualservice fortio -n default {ORIGINAL_WEIGHTS}-" in line, line
    assert _vs_patches(cluster, before) == [] and _vs_weights(cluster) == {"v1": 90, "v2": 10}
    first.finish(lambda _: None)
    assert _record(cluster) is None and _vs_weights(cluster) == {"v1": 90, "v2": 10}


@pytest.mark.parametrize("way_out", ["end", "error", "ctrl-c", "sigterm"])
def test_the_hold_goes_on_every_way_out(make, monkeypatch, way_out: str) -> None:
    cluster = make()
    _routing(cluster, {"v1": 90, "v2": 10})  # the loop answers in the weights' shares
    seen: list[Any] = []
    real = ClusterTarget.run_loop

    def run_loop(self: ClusterTarget, argv: list[str]) -> Any:
        seen.append(_record(cluster))  # held while it measures
        if way_out == "error":
            raise KmeshctlError("the exec was refused (p32 stand-in)")
        if way_out in ("ctrl-c", "sigterm"):
            raise KeyboardInterrupt if way_out == "ctrl-c" else Stopped(15)
        return real(self, argv)

    monkeypatch.setattr(ClusterTarget, "run_loop", run_loop)
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "40",
                              "-q")
    assert result.code == {"end": 0, "error": 1, "ctrl-c": 130, "sigterm": 143}[way_out], result
    assert seen and seen[0] is not None and seen[0]["run"]["pid"] == os.getpid(), seen
    assert _record(cluster) is None and _vs_weights(cluster) == {"v1": 90, "v2": 10}, _record(cluster)


def test_a_stale_hold_never_blocks(make, tmp_path) -> None:
    cluster = make()
    _target(cluster).prepare(lambda _: None)  # then killed: its hold stays
    dead = subprocess.Popen(["true"])
    dead.wait()
    _put_record(cluster, run={"host": socket.gethostname(), "pid": dead.pid})
    lines: list[str] = []
    again = _target(cluster)
    again.prepare(lines.append)
    assert [line for line in lines if "left its hold" in line] == [
        f"{VS}: a demo stopped before its end left its hold on it (it changed no weight; now v1=90, v2=10): "
        "dropping it"], lines
    again.finish(lambda _: None)
    _target(cluster).prepare(lambda _: None)  # another host's, not rewritten for long: expired
    long_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    _put_record(cluster, run={"host": "p32-elsewhere", "pid": 4242}, at=long_ago)
    _target(cluster).prepare(lambda _: None)
    assert _record(cluster)["run"]["pid"] == os.getpid() and _vs_weights(cluster) == {"v1": 90, "v2": 10}


def test_a_demo_that_held_it_first_while_this_one_started_is_refused(make, monkeypatch) -> None:
    from kmeshctl import apply as applier

    cluster = make()
    _target(cluster).prepare(lambda _: None)
    _target(cluster).finish(lambda _: None)
    sleeper = subprocess.Popen(["sleep", "60"])
    real = applier.apply_all

    def apply_all(*args: Any, **kwargs: Any) -> Any:
        done = real(*args, **kwargs)
        vs = copy.deepcopy(_vs(cluster))  # another demo's hold, written since this one read the VirtualService
        http = vs["spec"]["http"]
        vs["metadata"].setdefault("annotations", {})[ORIGINAL_WEIGHTS] = json.dumps(
            {"found": http, "set": http, "run": {"host": socket.gethostname(), "pid": sleeper.pid},
             "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        vs["metadata"].pop("managedFields", None)
        cluster.server.put(vs, manager="kmeshctl")
        return done

    monkeypatch.setattr(applier, "apply_all", apply_all)
    try:
        with pytest.raises(KmeshctlError) as refused:
            _target(cluster).prepare(lambda _: None)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert str(refused.value).startswith(f"{VS}: another demo (pid {sleeper.pid}) may be running: it measures the "
                                         "weights v1=90, v2=10 (no request was sent)"), refused.value


def test_weights_changed_under_a_run_are_named_not_the_data_path(make, monkeypatch) -> None:
    cluster = make()
    _routing(cluster, {"v1": 90, "v2": 10})
    real = ClusterTarget.run_loop

    def run_loop(self: ClusterTarget, argv: list[str]) -> Any:
        vs = copy.deepcopy(_vs(cluster))  # what an older kmeshctl's demo (no hold) would do meanwhile
        vs["spec"]["http"][0]["route"][0]["weight"], vs["spec"]["http"][0]["route"][1]["weight"] = 0, 100
        vs["metadata"].pop("managedFields", None)
        cluster.server.put(vs, manager="kubectl-edit")
        return real(self, argv)

    monkeypatch.setattr(ClusterTarget, "run_loop", run_loop)
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "100",
                              "-o", "json")
    report = json.loads(result.out)
    assert result.code == 1 and report["passed"] is False, result
    assert report["reason"].startswith(f"likeliest reason: {VS}'s routes were changed during the run by someone "
                                       "else (another demo, a user; now v1=0, v2=100)"), report["reason"]


# ------------------------------------------------------------------ 2. re-run lines keep every flag typed


TYPED = ["-c", "50", "--weights", "80/20", "-q"]


def _demo_lines(err: str) -> list[list[str]]:
    return [shlex.split(c) for c in BACKTICKED.findall(err) if "traffic-shift" in c]


def _value(words: list[str], *flags: str) -> list[str]:
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w in flags]


def _keeps_typed(words: list[str], plot: str, waypoint: str) -> None:
    assert words[0] == "kmeshctl" and _value(words, "--context") == ["standin"], words
    assert _value(words, "-c", "--requests") == ["50"] and _value(words, "--weights") == ["80/20"], words
    assert "-q" in words and _value(words, "--plot") == [plot], words
    assert _value(words, "--target") == ["cluster"] and _value(words, "-n", "--namespace") == ["default"], words
    assert _value(words, "--waypoint") == [waypoint], words


def test_the_waypoint_refusals_demo_lines_keep_every_flag_typed(make, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # a short --plot path: the line stays under the error line's limit
    cluster = make()
    service = copy.deepcopy(next(d for d in _documents() if d["kind"] == "Service"))
    service["metadata"].setdefault("namespace", "default")
    service["metadata"]["labels"][USE] = "waypoint"
    cluster.server.put(service, manager="kubectl-client-side-apply")  # `kubectl apply -f examples/fortio`
    plot = "q.png"
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "--waypoint",
                              "nope", *TYPED, "--plot", plot)
    assert result.code == 1 and "whose fields the demo never takes" in result.err, result
    lines = _demo_lines(result.err)
    assert len(lines) == 2, result.err
    _keeps_typed(lines[0], plot, "nope")
    _keeps_typed(lines[1], plot, "waypoint")
    assert "--force" not in lines[0]  # refused before the run: no plot written


def test_a_taken_waypoint_names_fix_keeps_every_flag_typed(make, tmp_path) -> None:
    cluster = make(waypoint=None)
    cluster.server.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "waypoint", "namespace": "default"},
                        "spec": {"ports": [{"port": 80, "targetPort": 8080}]}})
    plot = str(tmp_path / "q.png")
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", *TYPED,
                              "--plot", plot, "-o", "json")
    assert result.code == 1 and "taken there by" in result.err, result
    [line] = _demo_lines(result.err)
    _keeps_typed(line, plot, "waypoint-demo")
    assert _value(line, "-o") == ["json"], line


def test_a_failed_finish_names_the_next_demo_as_typed(make, monkeypatch, tmp_path) -> None:
    cluster = make()
    _routing(cluster, {"v1": 90, "v2": 10})
    real_patch = kube.KubeClient.merge_patch

    def merge_patch(self: Any, api_version: str, kind: str, name: str, patch: dict, namespace: Any = None) -> dict:
        if kind == "VirtualService" and (patch.get("spec") or {}).get("http") and not (
                patch.get("metadata") or {}).get("annotations", {}).get(ORIGINAL_WEIGHTS):
            raise KmeshctlError("the API server refused the PATCH (p32 stand-in)")  # the restore only
        return real_patch(self, api_version, kind, name, patch, namespace)

    monkeypatch.setattr(kube.KubeClient, "merge_patch", merge_patch)
    plot = str(tmp_path / "q.png")
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-n",
                              "default", "-c", "50", "--weights", "80/20", "-q", "--plot", plot)
    assert result.code == 1 and "could not put back the weights" in result.err, result
    [line] = _demo_lines(result.err)
    assert _value(line, "--weights") == ["80/20"] and _value(line, "-c") == ["50"] and "-q" in line, line
    assert _value(line, "--plot") == [plot] and "--force" in line, line  # this run wrote the plot


def test_the_builder_replaces_the_typed_options_and_outside_a_run_is_bare() -> None:
    typed = "kmeshctl demo traffic-shift --target=auto -n team-a --waypoint=nope -c 50 --plot q.png"
    assert shlex.split(demo.cluster_again(lambda *_: typed, "team-a", "waypoint", ran=True)) == [
        "kmeshctl", "demo", "traffic-shift", "-c", "50", "--plot", "q.png", "--force", "--target", "cluster",
        "-n", "team-a", "--waypoint", "waypoint"]
    assert bare_again("default", "waypoint-demo") == \
        "kmeshctl demo traffic-shift --target cluster -n default --waypoint waypoint-demo"
    assert demo.with_options("kmeshctl demo traffic-shift -q", [("-c", "--requests", "12")], ran=True) == \
        "kmeshctl demo traffic-shift -q -c 12"


def test_a_pasted_waypoint_line_runs(make, tmp_path) -> None:
    cluster = make()
    service = copy.deepcopy(next(d for d in _documents() if d["kind"] == "Service"))
    service["metadata"].setdefault("namespace", "default")
    service["metadata"]["labels"][USE] = "waypoint"
    cluster.server.put(service, manager="kubectl-client-side-apply")
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "--waypoint",
                              "nope", "-c", "3", "-o", "json")
    pasted = BACKTICKED.findall(result.err)[-1]  # the waypoint the label names, which is ready
    assert "--waypoint waypoint" in pasted, result.err
    again = cluster.as_typed(*shlex.split(pasted))
    assert again.code in (0, 1) and "whose fields the demo never takes" not in again.err, again
    assert json.loads(again.out)["requests"] == 3, again  # the run typed: -c 3, -o json


def test_the_local_demos_weights_left_line_is_the_demo_as_typed(monkeypatch, tmp_path) -> None:
    from kmeshctl.sandbox import demo_target
    from kmeshctl.sandbox import state as state_mod

    state = state_mod.SandboxState(name="p32a", phase=state_mod.PHASE_READY)
    monkeypatch.setattr(state_mod, "STATE_ROOT", tmp_path)
    in_force = type("Subject", (), {"default_weights": (0, 100)})()
    monkeypatch.setattr(demo_target, "_in_force", lambda *a, **k: in_force)

    def typed(command: str, flag: str, name: str, after: str = "") -> str:  # the CLI's Rerun, flags typed kept
        return f"{command} {flag} {name} -c 50 --weights 80/20 -o json --plot q.png"

    target = demo_target.LocalTarget("p32a", ("default", "fortio"), [50, 50], typed)
    target._state = state
    line = target._weights_left()
    assert line.endswith("the next demo puts back 50/50: `kmeshctl demo traffic-shift --sandbox p32a -c 50 --weights "
                         "80/20 -o json --plot q.png --force`"), line
