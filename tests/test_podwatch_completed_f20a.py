"""A pod that has finished (phase Succeeded or Failed) has no process left to redirect:
the agent never looks for its network namespace again (not on every retry pass) and gives
back the cookie the watch enrolled; its annotation stays, as the record of how it ran.
Fakes only (no root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmeshctl.node import podwatch
from kmeshctl.node.podwatch import NetnsEnroller, PodWatcher
from test_agent_podwatch_retry import COOKIE, NODE, REDIRECTION, FlakyManage, OneNetnsEnroller, OnePodApi, retry_pass


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_finished_pod_is_not_looked_for(phase: str, monkeypatch: pytest.MonkeyPatch) -> None:
    scans: list[str] = []
    monkeypatch.setattr(podwatch, "find_pod_netns", lambda uid, root: scans.append(uid))  # no netns
    api = OnePodApi()
    api.pod["status"]["phase"] = phase
    watcher = PodWatcher(api, NODE, NetnsEnroller(FlakyManage()), False, proc_root=Path("/nonexistent"))
    watcher.resync(initial=True)
    for _ in range(3):
        retry_pass(watcher)
    assert scans == [] and watcher.cookies == {}
    assert REDIRECTION not in api.pod["metadata"]["annotations"]


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_pod_that_finishes_gives_back_the_cookie_the_watch_enrolled(phase: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    scans: list[str] = []
    monkeypatch.setattr(podwatch, "find_pod_netns", lambda uid, root: scans.append(uid) or Path("/proc/self/ns/net"))
    api, manage = OnePodApi(), FlakyManage()
    watcher = PodWatcher(api, NODE, OneNetnsEnroller(manage), False, proc_root=Path("/nonexistent"))
    watcher.resync(initial=True)
    assert manage.cookies == {COOKIE} and api.pod["metadata"]["annotations"][REDIRECTION] == "enabled"
    api.pod["status"]["phase"] = phase
    manage.fail_next_delete = True
    watcher.resync()  # the pod's MODIFIED event; its km_manage delete fails
    assert manage.cookies == {COOKIE}
    scans.clear()
    retry_pass(watcher)  # releases it again
    assert manage.cookies == set() and watcher.cookies == {}
    # The annotation stays: the record that the pod ran in the mesh (uninstall removes it).
    assert api.pod["metadata"]["annotations"][REDIRECTION] == "enabled"
    retry_pass(watcher)
    assert scans == [] and manage.cookies == set()
    assert api.pod["metadata"]["annotations"][REDIRECTION] == "enabled"
