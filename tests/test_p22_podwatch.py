"""A pod the CNI path hands over while the pod watch's relist waits for its list, and that
is missing from the list, is kept only while it may still exist: not once the CNI DEL has
handed it back, nor once the API server answers 404 for it (deleted before the list's
snapshot: no DELETED event follows the list). Otherwise it stays in the watcher for good
and the retry pass scans /host/proc for it every few seconds.

Fakes only (no root): the API server, km_manage and the /proc scan."""

from __future__ import annotations

import copy
import logging
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, Optional

import pytest
from kubernetes.client.exceptions import ApiException

from kmeshctl.enrollment import PodView
from kmeshctl.node import podwatch
from kmeshctl.node.podwatch import PodWatcher
from test_podwatch_relist_f20a import B_COOKIE, NODE, Manage, PathCookies, SlowListApi, pod


class LateSnapshotApi(SlowListApi):
    """The list's snapshot is taken when `gate` is set (the API server answers late, with
    the pods of then), or is `listed` when given; `read_namespaced_pod` answers from the pods
    of now, or raises `read_error`."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: Optional[list[dict[str, Any]]] = None
        self.read_error: Optional[ApiException] = None
        self.reads: list[str] = []

    def list_pod_for_all_namespaces(self, **_: Any) -> SimpleNamespace:
        if threading.current_thread().name in self.slow:
            self.ready.set()
            self.gate.wait(5)
        items = self.pods if self.listed is None else self.listed
        return SimpleNamespace(metadata=SimpleNamespace(resource_version="9"), items=copy.deepcopy(items))

    def read_namespaced_pod(self, name: str, namespace: str, **_: Any) -> dict[str, Any]:
        self.reads.append(name)
        if self.read_error is not None:
            raise self.read_error
        found = [p for p in self.pods if p["metadata"]["name"] == name]
        if not found:
            raise ApiException(status=404, reason="Not Found")
        return copy.deepcopy(found[0])


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PodWatcher, LateSnapshotApi, Manage, list[str]]]:
    scans: list[str] = []
    # pod b's netns is never found by the scan: only the CNI path enrolls it
    monkeypatch.setattr(podwatch, "find_pod_netns",
                        lambda uid, root: scans.append(uid) or (None if uid == "uid-b" else Path(f"/x/{uid}")))
    api, manage = LateSnapshotApi(), Manage()
    watcher = PodWatcher(api, NODE, PathCookies(manage), False, proc_root=Path("/nonexistent"))
    watcher.resync(initial=True)
    yield watcher, api, manage, scans
    api.gate.set()
    watcher.stop()


def relist_waiting(watcher: PodWatcher, api: LateSnapshotApi) -> threading.Thread:
    """The pod watch's relist, held until `api.gate` is set."""
    api.slow.add("watch-pods")
    relist = threading.Thread(target=watcher._relist_pods, name="watch-pods")
    relist.start()
    assert api.ready.wait(5)
    return relist


def cni_add_b(watcher: PodWatcher, api: LateSnapshotApi, manage: Manage) -> None:
    api.pods.append(pod("b"))
    manage.enroll(B_COOKIE)
    assert watcher.adopt(PodView.from_k8s(copy.deepcopy(api.pods[-1])), B_COOKIE)


def answer_list(watcher: PodWatcher, api: LateSnapshotApi, relist: threading.Thread, scans: list[str]) -> None:
    api.gate.set()
    relist.join(5)
    assert not relist.is_alive()
    scans.clear()
    for _ in range(3):
        watcher._retry_pass()


def test_a_pod_handed_back_by_the_cni_del_during_a_relist_is_not_kept(node) -> None:
    watcher, api, manage, scans = node
    relist = relist_waiting(watcher, api)
    cni_add_b(watcher, api, manage)
    assert watcher.forget("uid-b") == B_COOKIE  # the CNI DEL, pod b deleted at once
    manage.unenroll(B_COOKIE)
    api.pods.pop()
    api.read_error = ApiException(status=503, reason="Service Unavailable")  # only the DEL can tell
    answer_list(watcher, api, relist, scans)
    assert "uid-b" not in watcher.pods and "uid-b" not in scans
    assert "uid-b" not in watcher.cookies and api.reads == []


def test_a_pod_deleted_before_the_relists_snapshot_is_dropped_and_released(node) -> None:
    watcher, api, manage, scans = node
    relist = relist_waiting(watcher, api)
    cni_add_b(watcher, api, manage)
    api.pods.pop()  # pod b deleted before the list's snapshot; its CNI DEL has not come yet
    answer_list(watcher, api, relist, scans)
    assert api.reads == ["b"]
    assert "uid-b" not in watcher.pods and "uid-b" not in scans
    assert "uid-b" not in watcher.cookies and B_COOKIE not in manage.cookies
    assert watcher.forget("uid-b") is None  # the late CNI DEL: nothing left for the watch


def test_a_newer_pod_of_that_name_does_not_keep_the_deleted_one(node) -> None:
    watcher, api, manage, _scans = node
    api.listed = copy.deepcopy(api.pods)  # the snapshot, taken before pod b was created
    relist = relist_waiting(watcher, api)
    cni_add_b(watcher, api, manage)
    api.pods[-1] = pod("b")
    api.pods[-1]["metadata"]["uid"] = "uid-b2"  # b deleted, and created again under its name
    api.gate.set()
    relist.join(5)
    assert "uid-b" not in watcher.pods and B_COOKIE not in manage.cookies


def test_a_pod_created_after_the_snapshot_is_kept(node) -> None:
    watcher, api, manage, _scans = node
    api.listed = copy.deepcopy(api.pods)  # the snapshot, taken before pod b was created
    relist = relist_waiting(watcher, api)
    cni_add_b(watcher, api, manage)
    api.gate.set()
    relist.join(5)
    assert api.reads == ["b"] and "uid-b" in watcher.pods
    assert watcher.cookies.get("uid-b") == B_COOKIE and B_COOKIE in manage.cookies


def test_a_pod_the_api_cannot_confirm_is_kept_and_the_error_logged(node, caplog) -> None:
    watcher, api, manage, _scans = node
    relist = relist_waiting(watcher, api)
    cni_add_b(watcher, api, manage)
    api.pods.pop()
    api.read_error = ApiException(status=503, reason="Service Unavailable")
    with caplog.at_level(logging.WARNING, logger="kmeshctl.podwatch"):
        api.gate.set()
        relist.join(5)
    assert "uid-b" in watcher.pods and watcher.cookies.get("uid-b") == B_COOKIE
    assert any("event=pod_read_failed pod=mesh/b" in r.getMessage() for r in caplog.records)
