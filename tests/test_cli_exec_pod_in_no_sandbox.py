"""`sandbox exec POD` given no --name, with several sandboxes up and none that has the pod
(in -n's namespace): NotFound (exit 1) naming each sandbox looked in with its pods, never
"several sandboxes exist" with a line to paste that fails the same way (tester F19, A).
Records in a temporary state root (test_cli_kinds' state_root): no root, no sandbox."""

from __future__ import annotations

import time
from typing import Any

from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401


def _record(name: str, pods: tuple[str, ...] = ("netutils-0", "web-0")) -> None:
    records = [state_mod.PodRecord(name=p, namespace="default", deployment=p.rsplit("-", 1)[0], labels={},
                                   ip="10.0.0.9", netns=f"f19h-{p}", cgroup="") for p in pods]
    state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                           created_at=time.time() - 300, pods=records).save()


def test_a_pod_no_sandbox_has_is_not_found_with_the_pods_of_each(state_root, capsys, no_env) -> None:
    _record("f19h-a")
    _record("f19h-b", ("netutils-0",))
    code, out, err = cli(capsys, "sandbox", "exec", "nosuchpod", "--", "true")
    assert code == 1 and not out, err
    assert err.strip() == "Error: no pod nosuchpod in any sandbox (f19h-a: netutils-0, web-0; f19h-b: netutils-0): " \
                          "pass a pod one of them has", err


def test_a_namespace_no_sandbox_has_the_pod_in_is_not_found(state_root, capsys, no_env) -> None:
    _record("f19h-a")
    _record("f19h-b")
    code, _, err = cli(capsys, "sandbox", "exec", "netutils-0", "-n", "team-x", "--", "true")
    assert code == 1 and "several sandboxes" not in err, err
    assert "no pod netutils-0 in namespace team-x of any sandbox (f19h-a: default/netutils-0, default/web-0; " \
           "f19h-b: " in err, err


def test_a_deployment_no_sandbox_has_lists_their_deployments(state_root, capsys, no_env) -> None:
    _record("f19h-a")
    _record("f19h-b")
    code, _, err = cli(capsys, "sandbox", "exec", "deploy/nope", "--", "true")
    assert code == 1 and "no Deployment nope in any sandbox (f19h-a: netutils, web; f19h-b: netutils, web)" in err, err


def test_the_one_sandbox_with_the_pod_is_still_used_and_several_still_listed(state_root, capsys, no_env,
                                                                            monkeypatch) -> None:
    _record("f19h-a", ("netutils-0",))
    _record("f19h-b")
    ran: list[Any] = []
    monkeypatch.setattr(sandbox_mod, "exec_in_pod", lambda *a: ran.append(a) or 0)
    code, _, err = cli(capsys, "sandbox", "exec", "web-0", "--", "true")
    assert code == 0 and ran == [("f19h-b", "web-0", ["true"], None)], err
    code, _, err = cli(capsys, "sandbox", "exec", "netutils-0", "--", "true")
    assert code == 2 and "several sandboxes have pod netutils-0" in err, err


def test_with_one_sandbox_up_the_sandboxs_own_not_found_stays(state_root, capsys, no_env) -> None:
    _record("f19h-a")
    code, _, err = cli(capsys, "sandbox", "exec", "nosuchpod", "--", "true")
    assert code == 1 and "no pod nosuchpod in sandbox f19h-a (pods: netutils-0, web-0)" in err, err
