"""Pod enrollment from Kubernetes: the stand-in API server (no real API server runs here;
it has no watch, so the tests drive the watcher's list-and-reconcile path), real pod
network namespaces found through /proc, real km_manage entries."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from kubernetes import client as k8s

from kmeshctl.node.podwatch import NetnsEnroller, PodWatcher, find_pod_netns
from standin_apiserver import StandinApiServer, core_v1_client

pytestmark = pytest.mark.root
NODE = "node-1"


def namespace(name: str, mode: str | None) -> dict:
    labels = {"istio.io/dataplane-mode": mode} if mode else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod_object(name: str, ns: str, node: str = NODE, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "x"}]},
            "status": {"phase": "Running"}}


class Cluster:
    def __init__(self, api: StandinApiServer, core: k8s.CoreV1Api, net, enroller: NetnsEnroller) -> None:
        self.api, self.core, self.net, self.enroller = api, core, net, enroller
        self.procs: list[subprocess.Popen] = []

    def add_pod(self, name: str, ns: str, **kw) -> str:
        """A pod in the API and a running process in its own netns + cgroup (named by uid)."""
        uid = self.api.put(pod_object(name, ns, **kw))["metadata"]["uid"]
        pod = self.net.add_pod(uid)
        self.procs.append(pod.popen(["sleep", "300"]))
        return uid

    def cookie(self, uid: str) -> int:
        return self.net.pods[uid].netns_cookie()

    def annotations(self, name: str, ns: str) -> dict:
        return self.core.read_namespaced_pod(name, ns).metadata.annotations or {}


@pytest.fixture(scope="module")
def loaded(run_id: str):
    from bpf_testlib import loaded_dataplane

    yield from loaded_dataplane(run_id, "podw")


@pytest.fixture
def cluster(run_id: str, tmp_path: Path, loaded) -> Iterator[Cluster]:
    from bpf_testlib import pod_network

    loaded.maps.manage.clear()
    api = StandinApiServer().start()
    core = core_v1_client(api, tmp_path)
    try:
        for net in pod_network(f"km{run_id}w", "10.79.0.0/24", loaded.cgroup):
            c = Cluster(api, core, net, NetnsEnroller(loaded.maps))
            try:
                yield c
            finally:
                for proc in c.procs:
                    proc.kill()
                    proc.wait()
    finally:
        api.stop()


def watcher(c: Cluster, bypass: bool = False) -> PodWatcher:
    return PodWatcher(c.core, NODE, c.enroller, bypass, proc_root=Path("/proc"))


def test_netns_found_through_the_pod_uid_in_proc(cluster: Cluster) -> None:
    cluster.api.put(namespace("default", None))
    uid = cluster.add_pod("a", "default")
    found = find_pod_netns(uid, Path("/proc"))
    assert found is not None
    assert cluster.enroller.cookie_of(str(found)) == cluster.cookie(uid)
    assert find_pod_netns("00000000-0000-0000-0000-000000000000", Path("/proc")) is None


def test_resync_enrolls_by_the_rules_and_annotates(cluster: Cluster) -> None:
    cluster.api.put(namespace("mesh", "Kmesh"))
    cluster.api.put(namespace("plain", None))
    a = cluster.add_pod("a", "mesh")
    b = cluster.add_pod("b", "plain")
    c = cluster.add_pod("c", "mesh", labels={"istio.io/dataplane-mode": "none"})
    d = cluster.add_pod("d", "plain", labels={"istio.io/dataplane-mode": "KMESH"})
    cluster.api.put(pod_object("elsewhere", "mesh", node="node-2"))
    maps = cluster.enroller.maps
    maps.enroll(987654321)  # left by a pod that went away while no agent ran

    w = watcher(cluster)
    w.resync(initial=True)
    assert maps.is_enrolled(cluster.cookie(a)) and maps.is_enrolled(cluster.cookie(d))
    assert not maps.is_enrolled(cluster.cookie(b)) and not maps.is_enrolled(cluster.cookie(c))
    assert not maps.is_enrolled(987654321)
    assert cluster.annotations("a", "mesh") == {"kmesh.net/redirection": "enabled", "kmesh.net/enrolled-by": "watch"}
    assert cluster.annotations("b", "plain") == {}
    assert len(w.pods) == 4  # only this node's pods

    # The namespace joins the mesh; pod a opts out; pod d is deleted.
    cluster.api.put(namespace("plain", "kmesh"))
    cluster.api.put(pod_object("a", "mesh", labels={"istio.io/dataplane-mode": "none"}))
    cluster.core.delete_namespaced_pod("d", "plain")
    w.resync()
    assert maps.is_enrolled(cluster.cookie(b))
    assert cluster.annotations("b", "plain") == {"kmesh.net/redirection": "enabled", "kmesh.net/enrolled-by": "watch"}
    assert not maps.is_enrolled(cluster.cookie(a))
    assert "kmesh.net/redirection" not in cluster.annotations("a", "mesh")
    assert not maps.is_enrolled(cluster.cookie(d))
    assert sorted(maps.enrolled()) == sorted([cluster.cookie(b)])


def test_a_new_agent_releases_pods_that_left_while_it_was_away(cluster: Cluster) -> None:
    cluster.api.put(namespace("mesh", "Kmesh"))
    a = cluster.add_pod("a", "mesh")
    watcher(cluster).resync(initial=True)
    assert cluster.enroller.maps.is_enrolled(cluster.cookie(a))
    cluster.api.put(namespace("mesh", None))  # left the mesh while no agent ran
    watcher(cluster).resync(initial=True)  # a fresh agent: no memory of a's cookie
    assert not cluster.enroller.maps.is_enrolled(cluster.cookie(a))
    assert cluster.annotations("a", "mesh") == {}


def test_bypass_label_only_with_enable_bypass(cluster: Cluster) -> None:
    cluster.api.put(namespace("mesh", "Kmesh"))
    a = cluster.add_pod("a", "mesh", labels={"kmesh.net/bypass": "enabled"})
    watcher(cluster, bypass=True).resync(initial=True)
    assert not cluster.enroller.maps.is_enrolled(cluster.cookie(a))
    watcher(cluster, bypass=False).resync(initial=True)
    assert cluster.enroller.maps.is_enrolled(cluster.cookie(a))


def test_watch_events_enroll_and_release(cluster: Cluster) -> None:
    """The handlers the watches call, fed with objects as the API returns them."""
    cluster.api.put(namespace("mesh", None))
    w = watcher(cluster)
    w.resync(initial=True)
    a = cluster.add_pod("a", "mesh")
    w._on_pod_event("ADDED", cluster.core.read_namespaced_pod("a", "mesh"))
    assert not cluster.enroller.maps.is_enrolled(cluster.cookie(a))
    cluster.api.put(namespace("mesh", "Kmesh"))
    w._on_namespace_event("MODIFIED", cluster.core.read_namespace("mesh"))
    assert cluster.enroller.maps.is_enrolled(cluster.cookie(a))
    w._on_pod_event("DELETED", cluster.core.read_namespaced_pod("a", "mesh"))
    assert not cluster.enroller.maps.is_enrolled(cluster.cookie(a))


def test_nothing_is_enrolled_after_stop(cluster: Cluster) -> None:
    """SIGTERM stops the watches: an event or a relist that completes afterwards changes nothing."""
    cluster.api.put(namespace("mesh", None))
    a = cluster.add_pod("a", "mesh")
    w = watcher(cluster)
    w.resync(initial=True)
    w.stop()
    cluster.api.put(namespace("mesh", "Kmesh"))  # would enroll pod a
    w._on_namespace_event("MODIFIED", cluster.core.read_namespace("mesh"))
    w._on_pod_event("MODIFIED", cluster.core.read_namespaced_pod("a", "mesh"))
    w.resync()
    assert not cluster.enroller.maps.is_enrolled(cluster.cookie(a))
    assert cluster.annotations("a", "mesh") == {}
    watcher(cluster).resync(initial=True)  # a running watcher would have
    assert cluster.enroller.maps.is_enrolled(cluster.cookie(a))


def test_a_failed_annotation_patch_is_retried_without_another_event(cluster: Cluster) -> None:
    """A pod's annotation patch that fails (here: rejected by admission) is made again by the
    retry pass; no further event may ever come for that pod."""
    cluster.api.put(namespace("mesh", "Kmesh"))
    a = cluster.add_pod("a", "mesh")
    cluster.api.deny_admission("Pod", "a", "not now")
    w = watcher(cluster)
    w.resync(initial=True)
    assert cluster.enroller.maps.is_enrolled(cluster.cookie(a))
    assert cluster.annotations("a", "mesh") == {}
    del cluster.api.admission_denials[("Pod", "a")]
    w._retry_pod(w.pods[a])
    assert cluster.annotations("a", "mesh") == {"kmesh.net/redirection": "enabled", "kmesh.net/enrolled-by": "watch"}

    cluster.api.put(namespace("mesh", None))
    cluster.api.deny_admission("Pod", "a", "not now")
    w.resync()  # leaving the mesh: the release works, removing the annotation fails
    assert not cluster.enroller.maps.is_enrolled(cluster.cookie(a))
    assert cluster.annotations("a", "mesh") != {}
    del cluster.api.admission_denials[("Pod", "a")]
    w._retry_pod(w.pods[a])
    assert "kmesh.net/redirection" not in cluster.annotations("a", "mesh")
