"""`sandbox exec` given no --name with several sandboxes (tester pass 21, findings 8 and 9):
the note of the sandbox picked names the pod with the -n namespace typed (another sandbox may
have a pod of that name in another namespace), and the pods listed when none has the pod
include the waypoint, which `sandbox exec waypoint` reaches. Records in a temporary state
root: no root, no sandbox."""

from __future__ import annotations

import time

from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401


def _record(name: str, namespace: str, waypoint: bool = False) -> None:
    pods = [state_mod.PodRecord(name="netutils-0", namespace=namespace, deployment="netutils", labels={},
                                ip="10.0.0.9", netns=f"p21x-{name}", cgroup="")]
    if waypoint:
        pods.append(state_mod.PodRecord(name="waypoint", namespace=namespace, deployment="waypoint", labels={},
                                        ip="10.0.0.10", netns=f"p21x-{name}-wp", cgroup="", waypoint=True))
    state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                           created_at=time.time() - 300, pods=pods).save()


def test_the_picked_sandbox_is_named_for_the_pod_in_the_namespace_typed(state_root, capsys, no_env,
                                                                        monkeypatch) -> None:
    _record("p21xa", "default")
    _record("p21xd", "team-a")
    monkeypatch.setattr(sandbox_mod, "exec_in_pod", lambda *a: 0)
    code, _, err = cli(capsys, "sandbox", "exec", "netutils-0", "-n", "team-a", "--", "true")
    assert code == 0 and "Using sandbox p21xd (the only one that has pod team-a/netutils-0;" in err, err


def test_the_pods_listed_when_none_has_it_include_the_waypoint(state_root, capsys, no_env) -> None:
    _record("p21xa", "default", waypoint=True)
    _record("p21xb", "default")
    code, out, err = cli(capsys, "sandbox", "exec", "nope", "--", "true")
    assert code == 1 and not out, err
    assert "no pod nope in any sandbox (p21xa: netutils-0, waypoint; p21xb: netutils-0)" in err, err


def test_force_without_plot_is_refused_before_anything_runs(state_root, capsys, no_env) -> None:
    """Tester pass 21, finding 12: `demo traffic-shift --force` alone was accepted silently."""
    code, out, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "--force")
    assert code == 2 and not out, err
    assert err.strip().startswith("Error: --force only lets --plot replace an existing file: add --plot FILE.png, or "
                                  "drop --force"), err
