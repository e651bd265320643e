"""`sandbox up -f DIR` with manifests that have the demo's objects (a fortio Service and a
netutils pod) outside `default` ends `Try: ...` with the demo, as `demo traffic-shift
--sandbox NAME` runs there; with `-n NS` when the demo needs it (several such
namespaces); `dump maps` only when no namespace has them (tester F19, C). Records in a
temporary state root: no root, no sandbox."""

from __future__ import annotations

import time

from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import no_env, state_root  # noqa: F401


def _demo_record(name: str, namespaces: tuple[str, ...]) -> state_mod.SandboxState:
    pods = [state_mod.PodRecord(name="netutils-0", namespace=ns, deployment="netutils", labels={}, ip="10.0.0.9",
                                netns=f"f19h-{ns}", cgroup="") for ns in namespaces]
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                                   created_at=time.time() - 300, pods=pods,
                                   vips={f"{ns}/fortio": "10.96.0.10" for ns in namespaces})
    state.save()
    return state


def test_the_try_line_offers_the_demo_in_another_namespace(state_root, no_env) -> None:
    from kmeshctl.cli.sandbox import up_hint

    state = _demo_record("f19h-c", ("team-a",))
    assert up_hint("f19h-c", state) == "Sandbox f19h-c is up. Try: kmeshctl sandbox status; " \
                                       "kmeshctl demo traffic-shift"


def test_the_try_line_passes_n_when_several_namespaces_have_the_demo(state_root, no_env) -> None:
    from kmeshctl.cli.sandbox import up_hint

    state = _demo_record("f19h-c", ("team-b", "team-a"))
    assert up_hint("f19h-c", state).endswith("; kmeshctl demo traffic-shift -n team-a"), up_hint("f19h-c", state)


def test_the_try_line_has_no_demo_without_its_objects(state_root, no_env) -> None:
    from kmeshctl.cli.sandbox import up_hint

    state = _demo_record("f19h-c", ())
    assert up_hint("f19h-c", state).endswith("; kmeshctl dump maps --sandbox f19h-c")
