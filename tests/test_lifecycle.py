"""kmeshctl.lifecycle: restart (keep the data path) or uninstall (remove it) at SIGTERM.

The decision reads two objects through the kubernetes client's CoreV1Api / AppsV1Api;
these tests hand it objects shaped like the client's models (the real API server case
is in tests/e2e/test_cluster_e2e.py: uninstall removes the node's data path)."""

from __future__ import annotations

from types import SimpleNamespace

from kubernetes.client.exceptions import ApiException

from kmeshctl.node.lifecycle import decide_shutdown


def pod(owner_kind: str | None = "DaemonSet", owner_name: str = "kmesh") -> SimpleNamespace:
    owners = [SimpleNamespace(kind=owner_kind, name=owner_name)] if owner_kind else None
    return SimpleNamespace(metadata=SimpleNamespace(owner_references=owners))


class Core:
    def __init__(self, result: object) -> None:
        self.result = result

    def read_namespaced_pod(self, name: str, namespace: str) -> object:
        assert (name, namespace) == ("kmesh-abcde", "kmesh-system")
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class Apps:
    def __init__(self, result: object) -> None:
        self.result = result
        self.asked: list[tuple[str, str]] = []

    def read_namespaced_daemon_set(self, name: str, namespace: str) -> object:
        self.asked.append((name, namespace))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def ds(deleting: bool) -> SimpleNamespace:
    return SimpleNamespace(metadata=SimpleNamespace(deletion_timestamp="2026-11-30T10:00:00Z" if deleting else None))


def decide(core: Core, apps: Apps):
    return decide_shutdown(core, apps, "kmesh-abcde", "kmesh-system")


def test_daemonset_still_there_is_a_restart() -> None:
    apps = Apps(ds(deleting=False))
    decision = decide(Core(pod()), apps)
    assert decision.kind == "restart" and "still there" in decision.reason
    assert apps.asked == [("kmesh", "kmesh-system")]


def test_daemonset_gone_or_being_deleted_is_an_uninstall() -> None:
    assert decide(Core(pod()), Apps(ApiException(status=404, reason="Not Found"))).kind == "uninstall"
    decision = decide(Core(pod()), Apps(ds(deleting=True)))
    assert decision.kind == "uninstall" and "being deleted" in decision.reason


def test_when_the_api_cannot_tell_the_data_path_stays() -> None:
    forbidden = decide(Core(pod()), Apps(ApiException(status=403, reason="Forbidden")))
    assert forbidden.kind == "restart" and "403 Forbidden" in forbidden.reason
    unreachable = decide(Core(ConnectionRefusedError("connection refused")), Apps(ds(False)))
    assert unreachable.kind == "restart" and "cannot read pod" in unreachable.reason
    assert decide(Core(pod(owner_kind=None)), Apps(ds(True))).kind == "restart"
    assert decide_shutdown(Core(pod()), Apps(ds(True)), "", "kmesh-system").kind == "restart"


# --- uninstall's account of each node --------------------------------------------------

from kmeshctl.uninstall import AgentPod, node_results  # noqa: E402


def test_a_running_agent_with_no_marked_pod_left_removed_its_data_path() -> None:
    [result] = node_results("kmesh-system", [AgentPod("node-a", "kmesh-1", True, "Running")], {})
    assert (result.ref, result.outcome) == ("node node-a: agent pod kmesh-system/kmesh-1", "stopped")


def test_marked_pods_left_on_a_node_name_the_cleanup() -> None:
    [result] = node_results("kmesh-system", [AgentPod("node-a", "kmesh-1", True, "Running")],
                            {"node-a": ["default/netutils"], "node-b": ["default/other"]})
    assert result.outcome == "needs cleanup"
    assert "default/netutils" in result.detail and "kmeshctl node cleanup" in result.detail
    assert "default/other" not in result.detail


def test_an_agent_that_never_ran_cannot_have_cleaned_up() -> None:
    [result] = node_results("kmesh-system", [AgentPod("node-a", "kmesh-1", False, "ErrImagePull")], {})
    assert result.outcome == "needs cleanup" and "ErrImagePull" in result.detail
