"""Kind "a wait that times out says why": `set_route_weights` (the local demo's weight
switch) that Envoy never gets names what Envoy still routes with and the control plane's
warning of this change only: one logged before the SIGHUP (a NACK fixed since) is not
quoted. No root: a sandbox record in a temporary state root and its log file."""

from __future__ import annotations

from kmeshctl.sandbox import health
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import state_root  # noqa: F401

OLD_NACK = "2026-12-02 05:00:01,000 WARNING kmeshctl.xds.server stream 3 NACK RouteConfiguration: bad route\n"
RELOADED = "2026-12-02 05:00:02,000 INFO kmeshctl.sandbox.controlplane configuration reloaded and pushed\n"
NEW_FAIL = "2026-12-02 06:00:01,000 ERROR kmeshctl.sandbox.controlplane reload failed; keeping the last configuration\n"


def _record(state_root) -> state_mod.SandboxState:  # noqa: F811
    state = state_mod.SandboxState(name="w19", phase=state_mod.PHASE_READY)
    state.save()
    state.logs_dir.mkdir(parents=True, exist_ok=True)
    return state


def test_a_warning_from_before_the_change_is_not_quoted(state_root) -> None:  # noqa: F811
    state = _record(state_root)
    log = state.logs_dir / "controlplane.log"
    log.write_text(OLD_NACK + RELOADED)
    since = health.log_size(log)
    with log.open("a") as f:
        f.write(RELOADED)
    assert sb._control_plane_trouble(state, since) == ""
    assert "NACK" in sb._control_plane_trouble(state, 0)


def test_a_failure_of_this_change_is_quoted(state_root) -> None:  # noqa: F811
    state = _record(state_root)
    log = state.logs_dir / "controlplane.log"
    log.write_text(OLD_NACK)
    since = health.log_size(log)
    with log.open("a") as f:
        f.write(NEW_FAIL)
    assert sb._control_plane_trouble(state, since) == f"; the control plane's last warning: {NEW_FAIL.strip()}"


def test_envoy_without_the_route_or_with_old_weights_is_named() -> None:
    assert sb._routes_now("inbound-vip|80|http|f", None) == "its Envoy has no route inbound-vip|80|http|f"
    assert sb._routes_now("r", {"v1": 90, "v2": 10}) == "its Envoy still routes v1 90, v2 10"
