"""The eBPF data path for the bench: loaded with the product's loader at the bench's own
cgroup and bpffs directory, fed directly through the product's map writer (no node agent
or xDS in the loop: the bench measures the data path, not the control plane)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmeshctl.bench.procs import BenchError


def unavailable_reason() -> str | None:
    """Why the kmesh paths cannot run here, or None."""
    try:
        from kmeshctl import maps  # noqa: F401
        from kmeshctl.node import ids, loader  # noqa: F401
    except ImportError as err:
        return f"the eBPF data path is not importable ({err})"
    return None


@dataclass(frozen=True)
class BenchService:
    """A Service of the bench: VIP:port -> one backend's target port, optional waypoint."""

    name: str  # namespace/hostname
    vip: ipaddress.IPv4Address
    port: int
    target_port: int
    backend_uid: str
    backend_ip: ipaddress.IPv4Address
    waypoint: tuple[ipaddress.IPv4Address, int] | None = None  # reads PROXY v2


class BenchDataplane:
    """Load at ``cgroup`` with maps pinned at ``bpf_fs``; ``close`` removes it all."""

    def __init__(self, bpf_fs: Path, cgroup: Path) -> None:
        self.bpf_fs = bpf_fs
        self.cgroup = cgroup
        self._dataplane: Any = None
        self._maps: Any = None

    def load(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise BenchError(f"{reason}: run the kmesh paths on a tree with kmeshctl/node/loader.py")
        from kmeshctl.node import loader

        self._dataplane = loader.load(self.bpf_fs, self.cgroup)
        self._maps = self._dataplane.maps()

    def add_service(self, service: BenchService) -> None:
        """The service, its backend, and its waypoint as a pod (backend) of its own that
        reads PROXY v2 on its port, which the service names by id."""
        from kmeshctl.node.ids import IdRegistry
        from kmeshctl.maps import BackendValue, ServiceValue, Tunnel, WaypointHeader

        registry = IdRegistry(self._maps)
        service_id = registry.service_id(service.name)
        backend_id = registry.backend_id(service.backend_uid)
        waypoint_id = 0
        if service.waypoint is not None:
            address, port = service.waypoint
            waypoint_id = registry.backend_id(f"{service.name}/waypoint")
            self._maps.set_backend(waypoint_id, BackendValue(address, tunnel=Tunnel(port, WaypointHeader.PROXY_V2)))
        self._maps.set_backend(backend_id, BackendValue(service.backend_ip, (service_id,)))
        self._maps.write_service(
            service_id,
            ServiceValue(ports=((service.port, service.target_port),), waypoint_id=waypoint_id),
            groups=[[backend_id]],
        )
        self._maps.set_frontend(service.vip, service_id)

    def enroll(self, netns_cookie: int) -> None:
        self._maps.enroll(netns_cookie)

    def unenroll(self, netns_cookie: int) -> None:
        self._maps.unenroll(netns_cookie)

    def close(self) -> None:
        """Detach and unpin everything; safe when ``load`` failed half-way."""
        if self._maps is not None:
            self._maps.close()
            self._maps = None
        if self._dataplane is not None:
            self._dataplane.close()
            self._dataplane = None
        if unavailable_reason() is None and self.bpf_fs.exists():
            from kmeshctl.node import loader

            loader.cleanup(self.bpf_fs, self.cgroup)
