"""Pass 31 (issue 14, kind 4; tester t31a): `demo traffic-shift -n <TAB>` completes the
namespaces of the sandbox that hold the demo's objects (a fortio Service and a netutils
pod), as `sandbox exec -n <TAB>` completes its pods' namespaces; with --target cluster,
the cluster's.

Real parts: the real bash running kmeshctl's completion script, sandbox records in a
temporary state root (tests/test_cli_value_completion.py's tree and bash helpers)."""
from __future__ import annotations

from pathlib import Path

from kmeshctl.sandbox import state as state_mod
from test_cli_value_completion import bash, tree  # noqa: F401


def _with_demo(tree: Path, name: str, namespaces: dict[str, bool]) -> None:  # noqa: F811
    """A ready sandbox record: per namespace a netutils pod, and a fortio VIP when True."""
    saved = state_mod.STATE_ROOT
    state_mod.STATE_ROOT = tree / "run"
    try:
        pods = [state_mod.PodRecord(name="netutils-0", namespace=ns, deployment="netutils", labels={},
                                    ip=f"10.244.0.{i + 5}", netns=f"p31-{name}-{i}", cgroup="")
                for i, ns in enumerate(namespaces)]
        vips = {f"{ns}/fortio": f"10.96.0.{i + 10}" for i, (ns, served) in enumerate(namespaces.items()) if served}
        state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                               pods=pods, vips=vips).save()
    finally:
        state_mod.STATE_ROOT = saved


def test_demo_namespace_completes_the_sandboxs_demo_namespaces(tree: Path) -> None:  # noqa: F811
    _with_demo(tree, "p31-demo", {"default": True, "team-a": True, "no-fortio": False})
    assert bash("kmeshctl demo traffic-shift --sandbox p31-demo -n ", tree) == ["default", "team-a"]
    assert bash("kmeshctl demo traffic-shift --name p31-demo -n te", tree) == ["team-a"]
    # the fixture's other sandboxes have no fortio Service: a sandbox named gives only its own
    assert bash("kmeshctl demo traffic-shift --sandbox h46-alpha -n ", tree) == []
