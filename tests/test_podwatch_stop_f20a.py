"""stop() waits for one pod's work, not for a whole pass over the node's pods: with the API
server stalled every PATCH takes its full request timeout (10 s), and the agent has 30 s
to end. Nothing is patched after stop() returns. Fakes only (no root)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from kmeshctl.node import podwatch
from kmeshctl.node.podwatch import PodWatcher
from test_podwatch_relist_f20a import MESH, NODE, Manage, PathCookies

PODS = 8
PATCH_S = 0.5  # stands for AGENT_API_TIMEOUT_S: the pass would take PODS * PATCH_S


def namespace(labels: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(metadata=SimpleNamespace(name="mesh", labels=dict(labels), resource_version="2"))


class StalledApi:
    """PODS pods in namespace `mesh`; every PATCH fails, after `delay` s once stalled."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.delay = 0.0
        self.patches = 0
        self.patching = threading.Event()

    def list_namespace(self, **_: Any) -> SimpleNamespace:
        return SimpleNamespace(metadata=SimpleNamespace(resource_version="1"), items=[namespace(self.labels)])

    def list_pod_for_all_namespaces(self, **_: Any) -> SimpleNamespace:
        pods = [{"metadata": {"name": f"p{i}", "namespace": "mesh", "uid": f"uid-{i}", "annotations": {}},
                 "spec": {"nodeName": NODE, "containers": [{"name": "app"}]}, "status": {"phase": "Running"}}
                for i in range(PODS)]
        return SimpleNamespace(metadata=SimpleNamespace(resource_version="1"), items=pods)

    def patch_namespaced_pod(self, *_: Any, **__: Any) -> None:
        self.patches += 1
        self.patching.set()
        time.sleep(self.delay)
        raise TimeoutError("read timed out")


def retry_pass(watcher: PodWatcher, api: StalledApi) -> Callable[[], None]:
    watcher.retry_seconds = 0.01
    return watcher._retry_loop  # every pod enrolled, none annotated: the pass patches each


def namespace_event(watcher: PodWatcher, api: StalledApi) -> Callable[[], None]:
    return lambda: watcher._on_namespace_event("MODIFIED", namespace(MESH))


def relist(watcher: PodWatcher, api: StalledApi) -> Callable[[], None]:
    return watcher.resync


@pytest.mark.parametrize("work", [retry_pass, namespace_event, relist])
def test_stop_waits_for_one_pod_not_the_whole_pass(work, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(podwatch, "find_pod_netns", lambda uid, root: Path(f"/x/{uid}"))
    api = StalledApi(dict(MESH))
    watcher = PodWatcher(api, NODE, PathCookies(Manage()), False, proc_root=Path("/nonexistent"))
    watcher.resync(initial=True)  # enrolls every pod; every annotation fails at once
    api.delay = PATCH_S
    thread = threading.Thread(target=work(watcher, api), daemon=True)
    watcher._threads.append(thread)
    api.patching.clear()
    thread.start()
    assert api.patching.wait(5)
    started = time.monotonic()
    watcher.stop(timeout=1.0)
    took, patched = time.monotonic() - started, api.patches
    time.sleep(2 * PATCH_S)
    assert took < 3 * PATCH_S, f"stop() took {took:.1f}s behind {PODS} pods' patches"
    assert api.patches == patched and not thread.is_alive()
