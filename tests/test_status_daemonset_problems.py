"""status.daemonset_problems: the DaemonSet part of `status`'s health check, the one
`demo traffic-shift --target cluster` refuses an unready kmesh with (h83)."""

from __future__ import annotations

from typing import Any, Optional

from kmeshctl.status import daemonset_problems


class _Pods:
    """Answers the one list daemonset_problems makes: the DaemonSet's pods."""

    def __init__(self, pods: list[dict]) -> None:
        self.pods = pods

    def list(self, api_version: str, kind: str, namespace: Optional[str] = None, label_selector: Optional[str] = None,
             field_selector: Optional[str] = None) -> list[dict]:
        assert (api_version, kind, namespace, label_selector) == ("v1", "Pod", "kmesh-h83", "app=kmesh")
        return self.pods


def _daemonset(desired: int, ready: int, updated: Optional[int] = None) -> dict[str, Any]:
    return {"metadata": {"name": "kmesh", "namespace": "kmesh-h83", "uid": "ds-h83"},
            "spec": {"selector": {"matchLabels": {"app": "kmesh"}}, "template": {"spec": {"containers": []}}},
            "status": {"desiredNumberScheduled": desired, "numberReady": ready,
                       "updatedNumberScheduled": desired if updated is None else updated}}


def _pod(name: str, ready: bool) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "kmesh-h83", "ownerReferences": [{"uid": "ds-h83"}]},
            "spec": {"nodeName": "node-a"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}],
                       "containerStatuses": [{"ready": ready, "state": {"running": {}}}]}}


def test_a_ready_daemonset_has_no_problems() -> None:
    assert daemonset_problems(_Pods([_pod("kmesh-a", True)]), _daemonset(1, 1)) == []  # type: ignore[arg-type]


def test_an_unready_daemonset_says_what_status_says() -> None:
    problems = daemonset_problems(_Pods([_pod("kmesh-a", False)]), _daemonset(1, 0, 0))  # type: ignore[arg-type]
    assert problems[:2] == ["0/1 agent pods ready", "0/1 agent pods run the current template"], problems
    assert problems[2].startswith("pod kmesh-a on node-a not ready"), problems
