"""Relists and pod events applied out of order must not drop a live pod: a list answered
late (a slow API server) describes the node as it was when asked, so a pod that appeared
meanwhile is missing from it without having gone. Fakes only (no root): the API, km_manage
and the /proc scan."""

from __future__ import annotations

import copy
import threading
import time
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
from kubernetes import watch
from kubernetes.client.rest import ApiException

from kmeshctl.node import podwatch
from kmeshctl.node.podwatch import NetnsEnroller, PodWatcher

NODE = "node-1"
MESH = {"istio.io/dataplane-mode": "Kmesh"}
B_COOKIE = zlib.crc32(b"/x/uid-b")  # PathCookies of the netns the fake /proc scan finds for pod b


def pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "mesh", "uid": f"uid-{name}", "annotations": {}},
            "spec": {"nodeName": NODE, "containers": [{"name": "app"}]}, "status": {"phase": "Running"}}


class Manage:
    def __init__(self) -> None:
        self.cookies: set[int] = set()

    def enroll(self, cookie: int) -> None:
        self.cookies.add(cookie)

    def unenroll(self, cookie: int) -> None:
        self.cookies.discard(cookie)

    def enrolled(self) -> list[int]:
        return sorted(self.cookies)


class PathCookies(NetnsEnroller):
    def cookie_of(self, netns: str) -> int:
        return zlib.crc32(str(netns).encode())


class SlowListApi:
    """Namespace `mesh` in the mesh; a pod list asked from a thread named in `slow` answers
    with what it saw when asked, once `gate` is set."""

    def __init__(self) -> None:
        self.pods = [pod("a")]
        self.slow: set[str] = set()
        self.gate = threading.Event()
        self.ready = threading.Event()  # a slow list is held, or the relist is done

    def list_namespace(self, **_: Any) -> SimpleNamespace:
        ns = SimpleNamespace(metadata=SimpleNamespace(name="mesh", labels=dict(MESH)))
        return SimpleNamespace(metadata=SimpleNamespace(resource_version="1"), items=[ns])

    def list_pod_for_all_namespaces(self, **_: Any) -> SimpleNamespace:
        snapshot = copy.deepcopy(self.pods)
        if threading.current_thread().name in self.slow:
            self.ready.set()
            self.gate.wait(5)
        return SimpleNamespace(metadata=SimpleNamespace(resource_version=str(len(snapshot))), items=snapshot)

    def read_namespaced_pod(self, name: str, namespace: str, **_: Any) -> dict[str, Any]:
        """As the API server answers: the pod as it is now, or 404."""
        for found in self.pods:
            if found["metadata"]["name"] == name and found["metadata"]["namespace"] == namespace:
                return copy.deepcopy(found)
        raise ApiException(status=404, reason="Not Found")

    def patch_namespaced_pod(self, *_: Any, **__: Any) -> None:
        pass


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PodWatcher, SlowListApi, Manage]]:
    monkeypatch.setattr(podwatch, "find_pod_netns", lambda uid, root: Path(f"/x/{uid}"))
    api, manage = SlowListApi(), Manage()
    watcher = PodWatcher(api, NODE, PathCookies(manage), False, proc_root=Path("/nonexistent"))
    watcher.resync(initial=True)
    yield watcher, api, manage
    api.gate.set()
    watcher.stop()


def test_two_relists_apply_in_the_order_they_listed(node) -> None:
    watcher, api, manage = node
    api.slow.add("older")
    older = threading.Thread(target=watcher.resync, name="older")
    older.start()
    assert api.ready.wait(5)
    api.pods.append(pod("b"))  # pod b starts on the node after the older list was taken
    newer = threading.Thread(target=watcher.resync, name="newer")
    newer.start()
    time.sleep(0.2)  # unserialized, the newer relist has applied by now
    api.gate.set()
    older.join(5)
    newer.join(5)
    assert "uid-b" in watcher.pods and B_COOKIE in manage.cookies


class WatchUntilReleased:
    """kubernetes.watch.Watch whose stream is quiet until `release`, then ends the watcher."""

    def __init__(self, watcher: PodWatcher, api: SlowListApi) -> None:
        self.watcher, self.api = watcher, api
        self.release = threading.Event()

    def __call__(self) -> "WatchUntilReleased":
        return self

    def stream(self, *_: Any, **__: Any) -> Iterator[dict]:
        self.api.ready.set()
        self.release.wait(5)
        self.watcher._stop.set()
        yield from ()


def test_a_namespace_relist_keeps_a_pod_the_pod_watch_added(node, monkeypatch) -> None:
    watcher, api, manage = node
    stream = WatchUntilReleased(watcher, api)
    monkeypatch.setattr(watch, "Watch", stream)
    api.slow.add("watch-namespaces")
    relist = threading.Thread(target=watcher._watch_namespaces, args=(None,), name="watch-namespaces")
    relist.start()  # the namespace watch failed: it lists again before watching
    assert api.ready.wait(5)
    api.pods.append(pod("b"))
    watcher._on_pod_event("ADDED", copy.deepcopy(api.pods[-1]))  # the pod watch sees b start
    api.gate.set()
    stream.release.set()
    relist.join(5)
    assert "uid-b" in watcher.pods and B_COOKIE in manage.cookies
