"""Fixer f38e, t38c's findings 1, 2 and 3 (pass 38).

1 `kubectl delete pod <agent> --wait=false; kmeshctl uninstall`: a node seen being replaced
  stays awaited until its replacement has started (its startup probe passed: the agent's
  SIGTERM handling is in place and its data path loaded), whatever later lists show: the
  old pod gone and the new one looking like the node's first, no new pod made yet, or a
  container running whose probe has not passed.
2 `node cleanup` also takes the kmesh CNI plugin out of the node's CNI config lists and
  removes its files (the agent's own uninstall code, kmeshctl.cni.install.remove_plugin),
  a line each; uninstall's annotate lines remove kmesh.net/enrolled-by too.
3 A replacement that did not start after an agent that ran is never "it never ran ... this
  install left nothing there": the node needs a cleanup.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (pods stop after a
grace period, the DaemonSet controller replaces a deleted pod later, its container runs
before it has started: daemon_pod_make_s / daemon_pod_start_s / daemon_pod_startup_s); the
agent's stop is a hook doing what kmeshctl.node.lifecycle decides, and only for a container
that has started (one killed sooner never reaches its handler). The CNI part writes real
files in a temp dir (as root: the same modes as on a node) and a real bpffs path."""

from __future__ import annotations

import copy
import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from kmeshctl.cli import app
from kmeshctl.cni.install import SHEBANG, CniSettings, as_list, chained, remove_plugin
from kmeshctl.uninstall import replacing, unmark_commands
from standin_apiserver import app_pod, cluster, namespace  # noqa: F401 (fixture)

NS = "kmesh-system"
MARK = "kmesh.net/redirection"
ENROLLED_BY = "kmesh.net/enrolled-by"


# -- 1 and 3: uninstall and an agent pod being replaced -------------------------------------------


def _started(pod: dict) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all("running" in (c.get("state") or {}) and c.get("started") for c in statuses)


def _agent_stops(server: Any) -> None:
    """The agent's SIGTERM as kmeshctl.node.lifecycle decides it, for a container that has
    started: its DaemonSet gone or going, it unmarks its node's pods (both annotations); else
    it keeps everything for its replacement. A container not started yet dies unhandled."""
    def stop(pod: dict) -> None:
        meta = pod["metadata"]
        owner = next((o for o in meta.get("ownerReferences") or [] if o.get("kind") == "DaemonSet"), None)
        if owner is None or not _started(pod):
            return
        ds = server.objects.get(("apps", "daemonsets", meta["namespace"], owner["name"]))
        if ds is not None and not ds["metadata"].get("deletionTimestamp"):
            return
        node = pod["spec"].get("nodeName")
        for key, other in list(server.objects.items()):
            annotations = other["metadata"].get("annotations") or {}
            if key[1] == "pods" and other.get("spec", {}).get("nodeName") == node and MARK in annotations:
                unmarked = copy.deepcopy(other)
                for name in (MARK, ENROLLED_BY):
                    unmarked["metadata"]["annotations"].pop(name, None)
                server.store(server.resource_for("v1", "Pod"), key, unmarked)

    server.on_pod_stop = stop


@pytest.fixture
def installed(cluster: Any) -> Any:  # noqa: F811
    """kmesh installed just now (so a replacement looks like its node's first pod), an enrolled
    app pod marked on each node, pods stopping in 0.3s."""
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20", "-q")
    assert result.code == 0, result
    cluster.server.put(namespace("shop"))
    for name, node in (("web-a", "node-a"), ("web-b", "node-b")):
        pod = app_pod(name, "shop", annotated=True, nodeName=node)
        pod["metadata"].setdefault("annotations", {})[ENROLLED_BY] = "watch"
        cluster.server.put(pod)
    _agent_stops(cluster.server)
    cluster.server.pod_stop_s = 0.3
    return cluster


def _marked(server: Any) -> list[str]:
    return sorted(p["metadata"]["name"] for p in server.all_of("v1", "Pod")
                  if MARK in (p["metadata"].get("annotations") or {}))


def _node(result: Any, node: str) -> dict:
    return next(n for n in json.loads(result.out)["nodes"] if n["agent"].startswith(f"node {node}:"))


def test_the_old_pod_gone_and_no_replacement_yet_is_still_awaited(installed: Any) -> None:
    server = installed.server
    # Terminating 3s (long enough for a loaded machine's uninstall to see it so: its first look
    # is what makes the node awaited), then gone with no replacement for 1.5s (made 4.5s after the delete)
    server.pod_stop_s = 3.0
    server.daemon_pod_make_s, server.daemon_pod_start_s, server.daemon_pod_startup_s = 4.5, 0.5, 1.5
    server.delete_object("v1", "Pod", "kmesh-node-a", NS)  # `kubectl delete pod --wait=false`
    result = installed.kmeshctl("uninstall")
    assert result.code == 0, result
    assert "waiting for node node-a's agent pod gone, its replacement not made yet" in result.err, result.err
    assert "(a replacement) ContainerCreating" in result.err, result.err  # then it looks like the node's first
    assert "node node-a: the replacement agent pod runs (waited " in result.err, result.err
    assert "not waited for" not in result.err, result.err
    assert not _marked(installed.server), result.out


def test_a_replacement_running_before_its_startup_probe_passed_is_awaited(installed: Any) -> None:
    server = installed.server
    server.daemon_pod_start_s, server.daemon_pod_startup_s = 0.3, 3.0
    server.delete_object("v1", "Pod", "kmesh-node-b", NS)
    started = time.monotonic()
    result = installed.kmeshctl("uninstall", "-q", "-o", "json")
    assert result.code == 0, result
    assert time.monotonic() - started >= 3.0, "the DaemonSet went before the replacement's probe passed"
    b = _node(result, "node-b")
    assert b["outcome"] == "stopped" and b["detail"].startswith("data path removed; "), b
    assert not _marked(installed.server), result.out


def test_a_replaced_node_whose_replacement_cannot_start_needs_cleanup_never_never_ran(installed: Any) -> None:
    server = installed.server
    server.pod_stop_s, server.daemon_pod_start_s = 1.5, float("inf")
    with server.lock:  # no pod marked on node-a: only the replacement's state can tell
        key = ("", "pods", "shop", "web-a")
        pod = copy.deepcopy(server.objects[key])
        pod["metadata"]["annotations"].pop(MARK)
        server.store(server.resource_for("v1", "Pod"), key, pod)
    server.delete_object("v1", "Pod", "kmesh-node-a", NS)
    with server.lock:  # its image cannot be pulled: not waited for
        [key] = [k for k, p in server.objects.items() if k[1] == "pods" and k[2] == NS
                 and p["spec"]["nodeName"] == "node-a" and not p["metadata"].get("deletionTimestamp")]
        pod = copy.deepcopy(server.objects[key])
        pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "ImagePullBackOff"}}
        server.store(server.resource_for("v1", "Pod"), key, pod)
    result = installed.kmeshctl("uninstall", "-q", "-o", "json")
    assert result.code == 1, result
    a = _node(result, "node-a")
    assert a["outcome"] == "needs cleanup", a
    assert "never ran" not in a["detail"] and "left nothing" not in a["detail"], a
    assert a["detail"].startswith("it had not started (ImagePullBackOff) when its DaemonSet went, and the agent "
                                  "pod it replaced ran on the node and kept its data path for it"), a
    assert "`kmeshctl node cleanup --ignore-not-found`" in a["detail"], a
    assert "kmesh-node-a was being deleted as uninstall began" in a["detail"], a


def _ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(name: str, state: dict, phase: str, started: bool, created_ago: float = 2) -> dict:
    return {"metadata": {"name": name, "namespace": NS, "creationTimestamp": _ago(created_ago)},
            "spec": {"nodeName": "n1"},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "kmesh", "restartCount": 0, "started": started, "state": state}]}}


RUNNING = {"running": {"startedAt": "2026-12-04T00:00:00Z"}}
CREATING = {"waiting": {"reason": "ContainerCreating"}}


# each case builds its pods when it runs: their ages count from then, not from the collection
@pytest.mark.parametrize("pods, awaited", [
    (lambda: [], "gone, its replacement not made yet"),
    (lambda: [_pod("new", CREATING, "Pending", False)], "new (a replacement) ContainerCreating"),
    (lambda: [_pod("new", RUNNING, "Running", False)], "new (a replacement) Running"),
    (lambda: [_pod("new", RUNNING, "Running", True)], ""),
    (lambda: [_pod("new", {"waiting": {"reason": "ErrImagePull"}}, "Pending", False)], ""),
], ids=["not-made", "creating", "not-started", "started", "image"])
def test_a_node_seen_being_replaced_stays_awaited(pods: Callable[[], list[dict]], awaited: str) -> None:
    now = datetime.now(timezone.utc)
    made = pods()
    since = now - timedelta(seconds=10)  # the DaemonSet's only template: each pod here looks like the node's first
    alone = replacing(made, since, now)  # a first pod is awaited by itself only while it runs, not started (p39)
    assert alone == [] or made == [] or [r.first for r in alone] == [True], alone
    found = replacing(made, since, now, {"n1": now - timedelta(seconds=3)})
    assert [r.text for r in found] == ([f"node n1's agent pod {awaited}"] if awaited else []), found


def test_not_made_in_time_is_no_longer_awaited() -> None:
    now = datetime.now(timezone.utc)
    assert replacing([], None, now, {"n1": now - timedelta(seconds=600)}) == []


# -- 2: the fix lines remove both annotations; node cleanup removes the CNI plugin ------------------


def test_the_annotate_lines_remove_both_annotations_an_agent_sets() -> None:
    assert unmark_commands(["shop/a", "shop/b", "db/c"]) == [
        f"kubectl annotate pod -n shop a b {MARK}- {ENROLLED_BY}-", f"kubectl annotate pod -n db c {MARK}- {ENROLLED_BY}-"]


@pytest.fixture
def node_dirs(tmp_path: Path) -> tuple[Path, Path, CniSettings]:
    """A node's CNI dirs as an agent left them: its plugin chained into the primary config
    list, a converted .conf, its kubeconfig, its launcher and zip; another plugin beside."""
    conf, bin_dir = tmp_path / f"net.d-{os.getpid()}", tmp_path / f"bin-{os.getpid()}"
    conf.mkdir()
    bin_dir.mkdir()
    settings = CniSettings(conf, bin_dir, tmp_path / "cni.sock")
    primary = {"cniVersion": "1.0.0", "name": "kt", "plugins": [{"type": "bridge"}, {"type": "portmap"}]}
    (conf / "10-kt.conflist").write_text(json.dumps(chained(primary, settings.entry())))
    single = {"cniVersion": "0.3.1", "name": "other", "type": "ptp"}
    (conf / "20-other.conflist").write_text(json.dumps(as_list(single, settings.entry())))
    settings.kubeconfig_path.write_text("{}")
    os.chmod(settings.kubeconfig_path, 0o600)
    for path in (settings.plugin_path, settings.zip_path):
        path.write_bytes(f"#!{SHEBANG}\nours\n".encode())
    (bin_dir / "bridge").write_bytes(b"\x7fELF")
    return conf, bin_dir, settings


def test_remove_plugin_unchains_restores_and_removes_only_ours(node_dirs: tuple[Path, Path, CniSettings]) -> None:
    conf, bin_dir, settings = node_dirs
    done = remove_plugin(conf, bin_dir)
    assert done == [f"removed kmesh-cni from the CNI config {conf / '10-kt.conflist'}",
                    f"restored {conf / '20-other.conf'} (chained with kmesh-cni as 20-other.conflist, now removed)",
                    f"removed {settings.plugin_path}", f"removed {settings.zip_path}",
                    f"removed {settings.kubeconfig_path}"], done
    assert json.loads((conf / "10-kt.conflist").read_text())["plugins"] == [{"type": "bridge"}, {"type": "portmap"}]
    assert json.loads((conf / "20-other.conf").read_text()) == {"cniVersion": "0.3.1", "name": "other",
                                                                 "type": "ptp"}
    assert sorted(p.name for p in conf.iterdir()) == ["10-kt.conflist", "20-other.conf"]
    assert sorted(p.name for p in bin_dir.iterdir()) == ["bridge"]
    assert remove_plugin(conf, bin_dir) == []  # again: nothing left


def test_another_projects_kmesh_cni_binary_is_left_alone(node_dirs: tuple[Path, Path, CniSettings]) -> None:
    conf, bin_dir, settings = node_dirs
    settings.plugin_path.write_bytes(b"\x7fELF upstream kmesh-cni")
    done = remove_plugin(conf, bin_dir)
    assert f"removed {settings.plugin_path}" not in done and settings.plugin_path.exists(), done


runner = CliRunner()


def _cleanup(*args: str) -> Any:
    return runner.invoke(app, ["node", "cleanup", *args])


@pytest.mark.root
def test_node_cleanup_removes_the_cni_plugin_with_a_line_each(node_dirs: tuple[Path, Path, CniSettings]) -> None:
    conf, bin_dir, settings = node_dirs
    bpf_fs = Path(f"/sys/fs/bpf/f38e-gone-{os.getpid()}")  # on bpffs, already cleaned up
    flags = ["--bpf-fs", str(bpf_fs), "--cni-conf-dir", str(conf), "--cni-bin-dir", str(bin_dir)]
    typo = _cleanup(*flags)  # a --bpf-fs typed that does not exist: still an error, nothing touched
    assert typo.exit_code == 2 and settings.plugin_path.exists(), typo.output
    result = _cleanup(*flags, "--ignore-not-found")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"nothing to clean up under {bpf_fs}", lines
    assert f"removed kmesh-cni from the CNI config {conf / '10-kt.conflist'}" in lines, lines
    assert f"removed {settings.kubeconfig_path}" in lines and f"removed {settings.zip_path}" in lines, lines
    assert sorted(p.name for p in bin_dir.iterdir()) == ["bridge"]
    again = _cleanup(*flags, "--ignore-not-found")
    assert again.exit_code == 0 and again.output.splitlines() == [f"nothing to clean up under {bpf_fs}"], again.output


@pytest.mark.root
@pytest.mark.skipif(Path("/sys/fs/bpf/kmesh").exists(), reason="this node has a kmesh data path")
def test_cni_leftovers_alone_are_something_to_clean_up(node_dirs: tuple[Path, Path, CniSettings]) -> None:
    conf, bin_dir, settings = node_dirs
    flags = ["--cni-conf-dir", str(conf), "--cni-bin-dir", str(bin_dir)]
    result = _cleanup(*flags)  # no data path at the default, the plugin chained: exit 0
    assert result.exit_code == 0 and f"removed {settings.plugin_path}" in result.output, result.output
    nothing = _cleanup(*flags)
    assert nothing.exit_code == 1 and "nothing to clean up: no kmesh data path" in nothing.output, nothing.output
