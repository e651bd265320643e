"""Doubles of the local demo's two outside parts, for its no-root tests: the netutils
pod's request loop (a shell loop printing the real loop's result lines, every fifth
answer from v2: an 80/20 split) and the pushes to the waypoint (recorded, not made).
The root tests (tests/test_demo.py) run the real ones: curl in a pod, Envoy's routes."""

from __future__ import annotations

import subprocess
from typing import Any, Optional

import pytest
import yaml

from kmeshctl.sandbox import demo_target
from kmeshctl.sandbox import state as state_mod

# `sh -c FAKE_LOOP sh COUNT STOP`: the loop's contract (kmeshctl.demo.REQUEST_LOOP), 80/20.
FAKE_LOOP = r"""
count=$1; stop=$2; i=0
while :; do
  if [ "$count" -gt 0 ]; then [ "$i" -ge "$count" ] && break; else [ -e "$stop" ] && break; sleep 0.01; fi
  i=$((i + 1)); server=1; [ $((i % 5)) -eq 0 ] && server=2
  echo "$i 0 200 $server"
done
if [ -n "$stop" ]; then rm -f "$stop"; fi
"""


class FakeClientPod:
    """The netutils pod: runs FAKE_LOOP with the real loop's count and stop-file arguments."""

    def __init__(self, namespace: str = "") -> None:
        self.namespace = namespace

    def popen(self, argv: list[str], **popen: Any) -> subprocess.Popen:
        return subprocess.Popen(["sh", "-c", FAKE_LOOP, "sh", argv[5], argv[6]], **popen)


def install(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Patch the local target's sandbox calls; returns what they saw: `clients` as
    (deployment, namespace) of each client pod looked up, `pushes` as (namespace,
    VirtualService, http route index, weights) of each push to the waypoint."""
    seen: dict[str, list] = {"clients": [], "pushes": []}

    def find_pod(state: state_mod.SandboxState, name: str, namespace: Optional[str] = None) -> FakeClientPod:
        seen["clients"].append((name, namespace))
        return FakeClientPod(namespace or "")

    def push(name: str, namespace: str, vs_name: str, weights: list[int], timeout: float = 10.0,
             route: int = 0) -> None:
        seen["pushes"].append((namespace, vs_name, route, list(weights)))

    monkeypatch.setattr(demo_target.sb, "require_root", lambda: None)
    monkeypatch.setattr(demo_target.sb, "process_problems", lambda state: [])
    monkeypatch.setattr(demo_target.sb, "find_pod", find_pod)
    monkeypatch.setattr(demo_target.sb, "set_route_weights", push)
    return seen


def save_ready(name: str, docs: list[dict], pods: list[state_mod.PodRecord],
               vips: dict[str, str]) -> state_mod.SandboxState:
    """A ready sandbox's record (no processes: the record is the sandbox) with its
    manifests ``docs``, ``pods`` and ``vips`` (`namespace/service` -> ClusterIP)."""
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                                   pods=pods, vips=vips)
    state.save()
    state.manifests_file.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return state


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """No root, no processes: the record is the sandbox; which pod runs the loop is kept."""
    return install(monkeypatch)
