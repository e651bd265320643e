"""`sandbox exec` completes with several sandboxes up (tester L6): POD offers the pods (and
their Deployments) of every sandbox, as exec itself runs in the one that has the pod;
-n offers the namespaces of their pods (those that have the POD typed). --name or
$KMESHCTL_SANDBOX_NAME narrows both to that sandbox, a typed -n narrows the pods.

The real bash running `kmeshctl completion bash`, with the two sandbox records of
test_cli_value_completion's tree (h46-alpha: netutils-0 in h46-one; h46-beta: netutils-0
in h46-two), plus a third record here (t114-gamma: web-0 in h46-one). No sandbox runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmeshctl.sandbox import state as state_mod
from test_cli_value_completion import bash, tree  # noqa: F401


@pytest.fixture()
def three(tree: Path) -> Path:  # noqa: F811
    saved = state_mod.STATE_ROOT
    state_mod.STATE_ROOT = tree / "run"
    try:
        pods = [state_mod.PodRecord(name="web-0", namespace="h46-one", deployment="web", labels={},
                                    ip="10.244.0.9", netns="t114-gamma-w", cgroup="")]
        state_mod.SandboxState(name="t114-gamma", phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                               pods=pods).save()
    finally:
        state_mod.STATE_ROOT = saved
    return tree


def test_pod_completes_the_pods_of_every_sandbox(three: Path) -> None:
    assert bash("kmeshctl sandbox exec ", three) == ["netutils-0", "web-0", "netutils", "web"]
    assert bash("kmeshctl sandbox exec w", three) == ["web-0", "web"]
    assert bash("kmeshctl sandbox exec -n h46-two ", three) == ["netutils-0", "netutils"]
    assert bash("kmeshctl sandbox exec --name t114-gamma ", three) == ["web-0", "web"]
    assert bash("kmeshctl sandbox exec ", three, KMESHCTL_SANDBOX_NAME="h46-beta") == ["netutils-0", "netutils"]


def test_namespace_completes_the_namespaces_of_every_sandbox(three: Path) -> None:
    assert bash("kmeshctl sandbox exec -n ", three) == ["h46-one", "h46-two"]
    assert bash("kmeshctl sandbox exec netutils -n ", three) == ["h46-one", "h46-two"]
    assert bash("kmeshctl sandbox exec web -n ", three) == ["h46-one"]
    assert bash("kmeshctl sandbox exec netutils-0 --namespace h46-t", three) == ["h46-two"]
    assert bash("kmeshctl sandbox exec --name h46-beta -n ", three) == ["h46-two"]
