"""Pass 29 (tier t29c): an agent pod already Succeeded when uninstall looks is no "needs cleanup".

`uninstall -q --timeout 2s` cut by its limit, then `uninstall -q` again: the agent pod had
exited 0 after its stop (phase Succeeded, no pod marked), yet the node was reported
"needs cleanup" with a `node cleanup` that then found nothing to clean, and exit 1.
"""

from __future__ import annotations

from kmeshctl.uninstall import AgentPod, EXITED_CLEAN, node_results


def test_a_succeeded_agent_with_no_pod_marked_is_stopped() -> None:
    [result] = node_results("kmesh-system", [AgentPod("n1", "kmesh-a", False, "Succeeded")], {})
    assert result.outcome == "stopped" and result.detail == EXITED_CLEAN, result


def test_a_succeeded_agent_with_pods_still_marked_needs_cleanup() -> None:
    [result] = node_results("kmesh-system", [AgentPod("n1", "kmesh-a", False, "Succeeded")],
                            {"n1": ["app/web-1"]})
    assert result.outcome == "needs cleanup" and "app/web-1" in result.detail, result


def test_an_agent_that_never_started_still_needs_cleanup() -> None:
    [result] = node_results("kmesh-system", [AgentPod("n1", "kmesh-a", False, "CrashLoopBackOff")], {})
    assert result.outcome == "needs cleanup" and "was not running (CrashLoopBackOff)" in result.detail, result
