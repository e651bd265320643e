"""The pod watch and the CNI path's pods, as the real-cluster test drives them
(tests/e2e/test_cni_e2e.py: a pod whose only process is one curl, restartPolicy Never).

- A pod the CNI plugin enrolled keeps its kmesh.net/redirection and kmesh.net/enrolled-by
  annotations once it has finished, whichever comes first, the annotation PATCH or the
  Succeeded event; its cookie is the CNI DEL's to release (and to report "released").
- A pod the CNI path hands over while the pod watch's relist is waiting for its list is
  not in that list but has not gone: the relist keeps it and its cookie.

Fakes only (no root): the API server, km_manage, the netns cookie of the plugin's descriptor."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from kmeshctl.cni import server as cni_server
from kmeshctl.cni.server import CniHandler
from kmeshctl.enrollment import PodView
from kmeshctl.node import podwatch
from kmeshctl.node.podwatch import PodWatcher
from test_podwatch_relist_f20a import B_COOKIE, NODE, Manage, PathCookies, SlowListApi, pod

CNI_COOKIE = 7007
REDIRECTION, ENROLLED_BY = "kmesh.net/redirection", "kmesh.net/enrolled-by"
MARKED = {REDIRECTION: "enabled", ENROLLED_BY: "cni"}


class NodeApi:
    """Namespace `mesh` in the mesh; pods by name, patched in place."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {}

    def list_namespace(self, **_: Any) -> SimpleNamespace:
        ns = SimpleNamespace(metadata=SimpleNamespace(name="mesh", labels={"istio.io/dataplane-mode": "Kmesh"}))
        return SimpleNamespace(metadata=SimpleNamespace(resource_version="1"), items=[ns])

    def list_pod_for_all_namespaces(self, **_: Any) -> SimpleNamespace:
        return SimpleNamespace(metadata=SimpleNamespace(resource_version="1"),
                               items=copy.deepcopy(list(self.pods.values())))

    def read_namespaced_pod(self, name: str, namespace: str, **_: Any) -> dict[str, Any]:
        return copy.deepcopy(self.pods[name])

    def patch_namespaced_pod(self, name: str, namespace: str, body: dict, **_: Any) -> None:
        annotations = self.pods[name]["metadata"]["annotations"]
        for key, value in body["metadata"]["annotations"].items():
            if value is None:
                annotations.pop(key, None)
            else:
                annotations[key] = value

    def event(self, name: str) -> dict[str, Any]:
        """The object of the pod's next watch event."""
        return copy.deepcopy(self.pods[name])


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PodWatcher, CniHandler, NodeApi, Manage, list[str]]]:
    scans: list[str] = []
    monkeypatch.setattr(podwatch, "find_pod_netns", lambda uid, root: scans.append(uid))  # never found
    monkeypatch.setattr(cni_server, "_cookie_of_fd", lambda fd: CNI_COOKIE)
    api, manage = NodeApi(), Manage()
    watcher = PodWatcher(api, NODE, PathCookies(manage), False, proc_root=Path("/nonexistent"))
    watcher.resync(initial=True)
    yield watcher, CniHandler(watcher.enroller, watcher, api, False), api, manage, scans
    watcher.stop()


def retry_passes(watcher: PodWatcher, count: int = 3) -> None:
    for _ in range(count):
        watcher._retry_pass()


def cni_request(command: str) -> dict[str, str]:
    return {"command": command, "namespace": "mesh", "pod": "first", "uid": "uid-first", "containerId": "c0ffee"}


def annotate_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cni-annotate"]


def test_a_cni_pod_that_finished_keeps_its_annotations_and_del_releases_it(node) -> None:
    watcher, cni, api, manage, scans = node
    api.pods["first"] = pod("first") | {"status": {"phase": "Pending"}}
    reply = cni.handle(cni_request("ADD"), netns_fd=99)
    assert reply["enrolled"] is True and manage.cookies == {CNI_COOKIE}
    for thread in annotate_threads():
        thread.join(5)
    assert api.pods["first"]["metadata"]["annotations"] == MARKED
    watcher._on_pod_event("ADDED", api.event("first"))
    for phase in ("Running", "Succeeded"):  # curl connected once and exited
        api.pods["first"]["status"]["phase"] = phase
        watcher._on_pod_event("MODIFIED", api.event("first"))
    retry_passes(watcher)
    assert api.pods["first"]["metadata"]["annotations"] == MARKED
    assert manage.cookies == {CNI_COOKIE} and scans == []
    # The kubelet stops the finished pod's sandbox: the CNI DEL releases the cookie.
    assert cni.handle(cni_request("DEL"), netns_fd=None)["reason"] == "released"
    assert manage.cookies == set() and watcher.cookies == {}
    retry_passes(watcher)
    assert api.pods["first"]["metadata"]["annotations"] == MARKED and scans == []


def test_a_cni_pod_that_finished_before_its_annotation_patch_keeps_it(node) -> None:
    watcher, _cni, api, manage, scans = node
    api.pods["first"] = pod("first") | {"status": {"phase": "Pending"}}
    view = PodView.from_k8s(api.event("first"))
    manage.enroll(CNI_COOKIE)
    assert watcher.adopt(view, CNI_COOKIE)  # the CNI ADD; its PATCH thread is slow
    api.pods["first"]["status"]["phase"] = "Succeeded"
    watcher._on_pod_event("MODIFIED", api.event("first"))
    retry_passes(watcher)
    watcher.annotate(view, "cni")  # the PATCH lands
    watcher._on_pod_event("MODIFIED", api.event("first"))
    retry_passes(watcher)
    assert api.pods["first"]["metadata"]["annotations"] == MARKED
    assert manage.cookies == {CNI_COOKIE} and scans == []


@pytest.fixture
def slow_node(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PodWatcher, SlowListApi, Manage]]:
    monkeypatch.setattr(podwatch, "find_pod_netns", lambda uid, root: Path(f"/x/{uid}"))
    api, manage = SlowListApi(), Manage()
    watcher = PodWatcher(api, NODE, PathCookies(manage), False, proc_root=Path("/nonexistent"))
    watcher.resync(initial=True)
    yield watcher, api, manage
    api.gate.set()
    watcher.stop()


def test_a_pod_relist_keeps_a_pod_the_cni_path_handed_over_meanwhile(slow_node) -> None:
    watcher, api, manage = slow_node
    api.slow.add("watch-pods")
    relist = threading.Thread(target=watcher._relist_pods, name="watch-pods")
    relist.start()  # the pod watch failed: it lists again
    assert api.ready.wait(5)
    api.pods.append(pod("b"))  # pod b is created after the list was asked
    manage.enroll(B_COOKIE)  # the CNI ADD of pod b
    assert watcher.adopt(PodView.from_k8s(copy.deepcopy(api.pods[-1])), B_COOKIE)
    api.gate.set()
    relist.join(5)
    assert not relist.is_alive()
    assert watcher.cookies.get("uid-b") == B_COOKIE and B_COOKIE in manage.cookies
    assert watcher.enrolled_by.get("uid-b") == "cni" and "uid-b" in watcher.pods
