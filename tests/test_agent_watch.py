"""The node agent's Kubernetes watches, end to end: `kmeshctl node run --enrollment
kubernetes` (a real subprocess) against the stand-in API server's watch streams, on the
real kernel. Every stand-in pod of this node is backed by a real pod network namespace
whose process carries the pod's uid in its cgroup path (as a kubelet's pods do), so the
agent finds its netns through /proc the way it does on a node; enrollment is checked in
the pinned km_manage map and in the pod's annotation.

Covers: a new pod in a Kmesh namespace is enrolled; opting out with the `none` label and
the namespace leaving the mesh un-enroll; deletion releases; the watches come back after
the stand-in cuts them and after a 410 Gone (history compacted while they were away);
bookmarks keep quiet watches resumable across a compaction, without a relist."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from bpf_testlib import dataplane_paths, pod_network
from kmeshctl.node import loader
from kmeshctl.maps import DataplaneMaps
from kmeshctl.podnet import PodNetwork, remove_cgroup_tree
from kmeshctl.xds.server import XdsServer
from standin import PodnetBackend, StandinApiServer, namespace, node
from standin.controllers import image_id

pytestmark = pytest.mark.root

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")
NODE = "node-1"
MODE = "istio.io/dataplane-mode"
ANNOTATION = "kmesh.net/redirection"
WAIT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(check: Callable[[], bool], what: str, log: Path, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout:.0f}s: {what}\n{log.read_text()[-3000:]}"
        time.sleep(0.1)


@dataclass
class Node:
    """The stand-in cluster, this node's pod network and the agent running on it."""

    api: StandinApiServer
    core: k8s.CoreV1Api
    net: PodNetwork
    maps: DataplaneMaps
    agent: subprocess.Popen
    log: Path

    def run_pod(self, name: str, ns: str, node_name: str = NODE, **labels: str) -> str:
        """What the scheduler and a kubelet do: the pod object (Pending), a sandbox with its
        process, then the status update to Running. Returns the pod's uid."""
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"nodeName": node_name, "containers": [{"name": "app", "image": "app:1"}]},
               "status": {"phase": "Pending"}}
        uid = self.api.put(pod, manager="kubectl")["metadata"]["uid"]
        if node_name != NODE:
            return uid
        sandbox = self.net.add_pod(uid)  # its cgroup path names the uid, as kubelet cgroups do
        sandbox.popen(["sleep", "3600"])
        self.api.back_pod(ns, name, PodnetBackend(sandbox))
        self.api.set_status("v1", "Pod", name, ns, {
            "phase": "Running", "podIP": str(sandbox.ip), "podIPs": [{"ip": str(sandbox.ip)}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "image": "app:1", "imageID": image_id("app:1"), "ready": True,
                                   "restartCount": 0, "containerID": f"containerd://{uid.replace('-', '')}",
                                   "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]})
        return uid

    def enrolled(self, uid: str) -> bool:
        return self.maps.is_enrolled(self.net.pods[uid].netns_cookie())

    def annotation(self, name: str, ns: str) -> str | None:
        pod = self.api.get("v1", "Pod", name, ns) or {}
        return (pod.get("metadata", {}).get("annotations") or {}).get(ANNOTATION)

    def in_mesh(self, uid: str, name: str, ns: str) -> bool:
        return self.enrolled(uid) and self.annotation(name, ns) == "enabled"

    def out_of_mesh(self, uid: str, name: str, ns: str) -> bool:
        return not self.enrolled(uid) and self.annotation(name, ns) is None

    def wait(self, check: Callable[[], bool], what: str) -> None:
        assert self.agent.poll() is None, self.log.read_text()[-3000:]
        eventually(check, what, self.log)


@pytest.fixture(scope="module")
def cluster_node(run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    tmp = tmp_path_factory.mktemp("agentwatch")
    bpf_fs, cgroup = dataplane_paths(run_id, "kwatch")
    cgroup.mkdir(exist_ok=True)
    api = StandinApiServer().start()
    api.bookmark_interval = 0.5  # the real server: about once a minute
    api.put(node(NODE))
    api.put(namespace("mesh", {MODE: "Kmesh"}))
    api.put(namespace("plain"))
    kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
    cfg = k8s.Configuration()
    k8s_config.load_kube_config(str(kubeconfig), client_configuration=cfg, persist_config=False)
    xds = XdsServer()
    xds_address = xds.add_listener("127.0.0.1:0")
    xds.start()
    log = tmp / "agent.log"
    agent = None
    try:
        for net in pod_network(f"km{run_id}k", "10.76.0.0/24", cgroup):
            agent = subprocess.Popen(
                [KMESHCTL, "--kubeconfig", str(kubeconfig), "node", "run", "--enrollment", "kubernetes",
                 "--node-name", NODE, "--proc-root", "/proc", "--xds-address", xds_address, "--xds-insecure",
                 "--bpf-fs", str(bpf_fs), "--cgroup2-path", str(cgroup), "--admin-port", str(free_port()),
                 "--metrics-port", str(free_port()), "--log-level", "debug"],
                stdout=subprocess.DEVNULL, stderr=log.open("ab"))
            eventually(lambda: len(api.open_watches()) == 2 or agent.poll() is not None,
                       "the agent watches namespaces and pods", log, timeout=120)
            with DataplaneMaps(bpf_fs) as maps:
                yield Node(api, k8s.CoreV1Api(k8s.ApiClient(cfg)), net, maps, agent, log)
    finally:
        if agent is not None and agent.poll() is None:
            agent.terminate()
            agent.wait(timeout=20)
        xds.stop()
        api.stop()
        loader.cleanup(bpf_fs, cgroup)
        remove_cgroup_tree(cgroup)


def test_the_agent_watches_this_nodes_pods_and_all_namespaces(cluster_node: Node) -> None:
    watches = {w.request.resource.plural: w for w in cluster_node.api.open_watches()}
    assert set(watches) == {"pods", "namespaces"}
    assert "fieldSelector=spec.nodeName%3Dnode-1" in watches["pods"].path
    assert "resourceVersion=" in watches["pods"].path  # from its list, not a fresh state


def test_a_new_pod_in_a_mesh_namespace_is_enrolled_and_annotated(cluster_node: Node) -> None:
    n = cluster_node
    uid = n.run_pod("web", "mesh")
    n.wait(lambda: n.in_mesh(uid, "web", "mesh"), "mesh/web enrolled and annotated")
    plain = n.run_pod("web", "plain")
    n.run_pod("elsewhere", "mesh", node_name="node-2")
    time.sleep(1)
    assert not n.enrolled(plain) and n.annotation("web", "plain") is None
    assert n.annotation("elsewhere", "mesh") is None  # another node's agent's business
    n.core.delete_namespaced_pod("web", "mesh")
    n.wait(lambda: not n.enrolled(uid), "a deleted pod's netns released")


def test_the_none_label_takes_a_pod_out_and_back(cluster_node: Node) -> None:
    n = cluster_node
    uid = n.run_pod("optout", "mesh")
    n.wait(lambda: n.in_mesh(uid, "optout", "mesh"), "mesh/optout enrolled")
    n.core.patch_namespaced_pod("optout", "mesh", {"metadata": {"labels": {MODE: "none"}}})
    n.wait(lambda: n.out_of_mesh(uid, "optout", "mesh"), "mesh/optout released after the none label")
    n.core.patch_namespaced_pod("optout", "mesh", {"metadata": {"labels": {MODE: None}}})
    n.wait(lambda: n.in_mesh(uid, "optout", "mesh"), "mesh/optout back once the label is gone")


def test_a_namespace_leaving_the_mesh_releases_its_pods(cluster_node: Node) -> None:
    n = cluster_node
    n.api.put(namespace("leaving", {MODE: "Kmesh"}))
    pods = {name: n.run_pod(name, "leaving") for name in ("a", "b")}
    n.wait(lambda: all(n.in_mesh(uid, name, "leaving") for name, uid in pods.items()), "leaving/* enrolled")
    n.core.patch_namespace("leaving", {"metadata": {"labels": {MODE: None}}})
    n.wait(lambda: all(n.out_of_mesh(uid, name, "leaving") for name, uid in pods.items()),
           "leaving/* released after the namespace label went")
    n.core.patch_namespace("leaving", {"metadata": {"labels": {MODE: "Kmesh"}}})
    n.wait(lambda: all(n.in_mesh(uid, name, "leaving") for name, uid in pods.items()),
           "leaving/* enrolled again")


def test_watches_come_back_after_the_stream_is_cut(cluster_node: Node) -> None:
    n = cluster_node
    before = len(n.api.watches)
    assert n.api.drop_watches() == 2  # cut mid-stream, as when an API server goes away
    uid = n.run_pod("after-cut", "mesh")  # made while the agent is between watches
    n.wait(lambda: n.in_mesh(uid, "after-cut", "mesh"), "a pod made after the cut is enrolled")
    n.wait(both_watching(n), "both watches open again")
    assert len(n.api.watches) > before
    assert "event=watch_error" in n.log.read_text()


def both_watching(n: Node) -> Callable[[], bool]:
    return lambda: {w.request.resource.plural for w in n.api.open_watches()} == {"pods", "namespaces"}


def restart_watches(n: Node) -> None:
    opened = len(n.api.watches)
    n.api.drop_watches(clean=True)
    n.wait(lambda: len(n.api.watches) >= opened + 2 and both_watching(n)(), "both watches open again")


def make_noise(n: Node) -> None:
    """A change neither of the agent's watches is about: the version moves on without them."""
    noise = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "noise", "namespace": "plain"},
             "data": {"at": str(time.monotonic())}}
    n.api.put(noise)


def test_quiet_watches_stay_resumable_through_bookmarks(cluster_node: Node) -> None:
    n = cluster_node
    restart_watches(n)  # sessions that send bookmarks every 0.5 s
    make_noise(n)
    sessions = n.api.open_watches()
    counts = [w.sent.count("BOOKMARK") for w in sessions]
    n.wait(lambda: all(w.sent.count("BOOKMARK") >= c + 2 for w, c in zip(sessions, counts)),
           "a bookmark past the noise reached both watches")
    time.sleep(0.2)
    n.api.compact()
    after, requests_before = len(n.api.watches), len(n.api.requests)
    assert n.api.drop_watches(clean=True) == 2  # as at the watches' timeout
    n.wait(lambda: len(n.api.watches) >= after + 2 and both_watching(n)(), "both watches open again")
    assert [w.outcome for w in n.api.watches[after:] if w.outcome] == []  # no 410
    assert not [r for r in n.api.requests[requests_before:] if r.method == "GET" and not r.watch], \
        "resumed from the bookmarks' version, without a relist"


def test_watches_relist_after_410_gone(cluster_node: Node) -> None:
    n = cluster_node
    n.api.bookmark_interval = 3600.0  # no bookmark may move the agent past the compaction here
    restart_watches(n)
    uid = n.run_pod("before-gone", "mesh")
    n.wait(lambda: n.in_mesh(uid, "before-gone", "mesh"), "mesh/before-gone enrolled")
    # The version moves on without the watches; then the history is compacted, so the
    # versions the agent's watches are at are no longer kept.
    make_noise(n)
    n.api.compact()
    first_after = len(n.api.watches)
    requests_before = len(n.api.requests)
    assert n.api.drop_watches(clean=True) == 2  # a normal end, as at the watch's timeout
    n.wait(lambda: {w.request.resource.plural for w in n.api.watches[first_after:] if w.outcome == "expired"}
           == {"pods", "namespaces"}, "both watches resumed from their old versions and got 410 Gone")
    n.wait(both_watching(n), "both watches open again")
    relists = [r for r in n.api.requests[requests_before:] if r.method == "GET" and not r.watch
               and r.path in ("/api/v1/pods", "/api/v1/namespaces")]
    assert relists, "the agent listed again before watching"
    n.core.patch_namespaced_pod("before-gone", "mesh", {"metadata": {"labels": {MODE: "none"}}})
    n.wait(lambda: n.out_of_mesh(uid, "before-gone", "mesh"), "changes reach the agent after the relist")
    assert "410" in n.log.read_text()
    n.api.bookmark_interval = 0.5
