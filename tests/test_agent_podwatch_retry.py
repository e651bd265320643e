"""The node agent's retry pass finishes what a pod event left undone, whatever failed:
a km_manage delete (the pod left the mesh) or an annotation patch. No event may ever come
for that pod again, so nothing may rest on one.

The API and km_manage are fakes here (no root): a map whose delete fails once, an API
whose patches land in one pod object. tests/test_agent_podwatch.py covers the same
watcher on the real kernel and the API-server stand-in."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kmeshctl.maps import MapError
from kmeshctl.node import podwatch
from kmeshctl.node.podwatch import NetnsEnroller, PodWatcher

NODE = "node-1"
COOKIE = 4242
MODE = "istio.io/dataplane-mode"
REDIRECTION = "kmesh.net/redirection"


class FlakyManage:
    """km_manage whose next delete fails when told to."""

    def __init__(self) -> None:
        self.cookies: set[int] = set()
        self.fail_next_delete = False

    def enroll(self, cookie: int) -> None:
        self.cookies.add(cookie)

    def unenroll(self, cookie: int) -> None:
        if self.fail_next_delete:
            self.fail_next_delete = False
            raise MapError("bpf_map_delete_elem: Resource temporarily unavailable")
        self.cookies.discard(cookie)

    def enrolled(self) -> list[int]:
        return sorted(self.cookies)


class OnePodApi:
    """The CoreV1Api calls the watcher makes, over one pod of namespace `mesh`."""

    def __init__(self) -> None:
        self.labels: dict[str, str] = {MODE: "Kmesh"}
        self.pod: dict[str, Any] = {
            "metadata": {"name": "a", "namespace": "mesh", "uid": "uid-a", "annotations": {}, "labels": {}},
            "spec": {"nodeName": NODE, "containers": [{"name": "app"}]}, "status": {"phase": "Running"}}

    def list_namespace(self, **_: Any) -> SimpleNamespace:
        namespace = SimpleNamespace(metadata=SimpleNamespace(name="mesh", labels=dict(self.labels)))
        return SimpleNamespace(metadata=SimpleNamespace(resource_version="1"), items=[namespace])

    def list_pod_for_all_namespaces(self, **_: Any) -> SimpleNamespace:
        return SimpleNamespace(metadata=SimpleNamespace(resource_version="1"), items=[copy.deepcopy(self.pod)])

    def patch_namespaced_pod(self, name: str, namespace: str, body: dict, **_: Any) -> None:
        annotations = self.pod["metadata"]["annotations"]
        for key, value in body["metadata"]["annotations"].items():
            if value is None:
                annotations.pop(key, None)
            else:
                annotations[key] = value


class OneNetnsEnroller(NetnsEnroller):
    def cookie_of(self, netns: str) -> int:
        return COOKIE


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> tuple[PodWatcher, OnePodApi, FlakyManage]:
    monkeypatch.setattr(podwatch, "find_pod_netns", lambda uid, root: Path("/proc/self/ns/net"))
    api, manage = OnePodApi(), FlakyManage()
    watcher = PodWatcher(api, NODE, OneNetnsEnroller(manage), False, proc_root=Path("/nonexistent"))
    watcher.resync(initial=True)
    assert manage.cookies == {COOKIE} and api.pod["metadata"]["annotations"][REDIRECTION] == "enabled"
    watcher.resync()  # the patch's MODIFIED event: the watcher's view carries the annotation
    return watcher, api, manage


def retry_pass(watcher: PodWatcher) -> None:
    """What the retry loop runs every few seconds."""
    for view in list(watcher.pods.values()):
        watcher._retry_pod(view)


def test_a_failed_km_manage_delete_is_released_by_the_retry_pass(watched) -> None:
    watcher, api, manage = watched
    api.labels = {}  # the namespace leaves the mesh
    manage.fail_next_delete = True
    watcher.resync()
    assert manage.cookies == {COOKIE} and api.pod["metadata"]["annotations"][REDIRECTION] == "enabled"
    retry_pass(watcher)
    assert manage.cookies == set() and REDIRECTION not in api.pod["metadata"]["annotations"]
    watcher.resync()  # the relist after: nothing left to do, nothing undone
    assert manage.cookies == set() and watcher.cookies == {}


def test_an_enrolled_annotated_pod_is_left_alone_by_the_retry_pass(watched) -> None:
    watcher, api, manage = watched
    patches: list[dict] = []
    api.patch_namespaced_pod = lambda name, namespace, body, **_: patches.append(body)  # type: ignore[method-assign]
    retry_pass(watcher)
    assert manage.cookies == {COOKIE} and patches == []
