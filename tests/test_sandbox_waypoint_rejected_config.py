"""H3 (h88): a waypoint whose Envoy rejected the listener the control plane sent is not
ready. Envoy's /ready still says LIVE then, with 0 listeners, and every request through
the waypoint fails: `sandbox status` must say NOT READY naming Envoy's error, and `sandbox
up` must fail instead of saying the sandbox is up. Envoy's admin API is faked here (its
/stats and /config_dump answers as Envoy gives them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import waypoint as waypoint_mod
from kmeshctl.sandbox.health import ProcessHealth
from kmeshctl.sandbox.state import PHASE_READY, ProcessRecord, SandboxState
from kmeshctl.sandbox.topology import WaypointInfo
from test_cli_kinds import no_env, state_root  # noqa: F401

REJECTED = ("Error adding/updating listener(s) waypoint: error adding listener '0.0.0.0:15008': filter chain "
            "'outbound|80||fortio' has the same matching rules defined as 'outbound|80||fortio'")


class FakeAdmin:
    def __init__(self, active: int, rejected: int = 0, error: str = "", ready: bool = True) -> None:
        self.values = {"listener_manager.total_listeners_active": active,
                       "listener_manager.lds.update_rejected": rejected, "cluster_manager.active_clusters": 5}
        self.error = error
        self.is_ready = ready
        self.socket_path = Path("/nonexistent/admin.sock")

    def ready(self) -> bool:
        return self.is_ready

    def stats(self, pattern: str = "") -> dict[str, int]:
        import re

        return {k: v for k, v in self.values.items() if re.search(pattern, k)}

    def get(self, path: str) -> tuple[int, str]:
        assert path == "/config_dump?resource=dynamic_listeners", path
        configs: list[dict[str, Any]] = []
        if self.error:
            configs.append({"name": "waypoint", "error_state": {"details": self.error,
                                                                "last_update_attempt": "2026-12-01T20:00:00Z"}})
        return 200, json.dumps({"configs": configs})


@pytest.mark.parametrize("admin,expected", [
    (FakeAdmin(1), ""),
    (FakeAdmin(0), None),
    (FakeAdmin(0, 1, REJECTED), f"Envoy rejected its listener configuration: listener waypoint: {REJECTED}"),
    (FakeAdmin(0, 2), "Envoy rejected its listener configuration (2 updates rejected: "
                      "listener_manager.lds.update_rejected)"),
    (FakeAdmin(1, 1, REJECTED), f"Envoy rejected its listener configuration: listener waypoint: {REJECTED}"),
])
def test_listener_problem_reads_envoys_own_verdict(admin: FakeAdmin, expected: str | None) -> None:
    assert waypoint_mod.listener_problem(admin) == expected  # type: ignore[arg-type]


WAYPOINT = WaypointInfo("waypoint", "default", "waypoint", "10.244.0.2")


def _ready_sandbox() -> SandboxState:
    state = SandboxState(name="h88wp", phase=PHASE_READY, waypoints=[vars(WAYPOINT)],
                         processes=[ProcessRecord("waypoint", 4242, "waypoint", "/tmp/h88-waypoint.log",
                                                  component="waypoint default/waypoint: Envoy in pod waypoint")])
    state.save()
    return state


def _running(record: ProcessRecord) -> ProcessHealth:
    return ProcessHealth(record.component, record.pid, record.log, True)


def test_status_calls_a_waypoint_with_a_rejected_listener_not_ready_naming_envoys_error(state_root, monkeypatch,
                                                                                         no_env) -> None:
    state = _ready_sandbox()
    monkeypatch.setattr(sb, "EnvoyAdmin", lambda *a, **k: FakeAdmin(0, 1, REJECTED))
    processes = [(r, _running(r)) for r in state.processes]
    report = sb._waypoint_status(state, WAYPOINT, processes)
    assert report["ready"] is False and report["listeners"] == 0 and REJECTED in report["configProblem"]
    problems = sb._not_answering(state, {"controlplane": {"pid": 1, "running": True, "ready": True},
                                         "agent": {"pid": 2, "running": True, "ready": True},
                                         "waypoints": [report]})
    assert problems == [f"waypoint default/waypoint: Envoy in pod waypoint (pid 4242) runs but serves nothing: "
                        f"Envoy rejected its listener configuration: listener waypoint: {REJECTED}: see "
                        "/tmp/h88-waypoint.log"], problems


def test_status_calls_a_waypoint_without_listeners_not_ready(state_root, monkeypatch, no_env) -> None:
    state = _ready_sandbox()
    monkeypatch.setattr(sb, "EnvoyAdmin", lambda *a, **k: FakeAdmin(0))
    report = sb._waypoint_status(state, WAYPOINT, [(r, _running(r)) for r in state.processes])
    assert report["ready"] is False and "no listener" in report["configProblem"], report


def test_status_of_a_serving_waypoint_is_ready(state_root, monkeypatch, no_env) -> None:
    state = _ready_sandbox()
    monkeypatch.setattr(sb, "EnvoyAdmin", lambda *a, **k: FakeAdmin(1))
    report = sb._waypoint_status(state, WAYPOINT, [(r, _running(r)) for r in state.processes])
    assert report["ready"] is True and report["listeners"] == 1 and "configProblem" not in report, report


def test_up_fails_when_envoy_rejects_the_listener(state_root, monkeypatch, no_env) -> None:
    state = _ready_sandbox()
    monkeypatch.setattr(sb, "check_processes", lambda state: None)
    log = Path("/tmp/h88-waypoint.log")
    with pytest.raises(KmeshctlError) as caught:
        sb._wait_listener(state, WAYPOINT, FakeAdmin(0, 1, REJECTED), log)  # type: ignore[arg-type]
    assert str(caught.value) == (f"waypoint default/waypoint: Envoy rejected its listener configuration: listener "
                                 f"waypoint: {REJECTED}: see {log}")
    sb._wait_listener(state, WAYPOINT, FakeAdmin(1), log)  # type: ignore[arg-type]  # serving: returns
