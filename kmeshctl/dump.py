"""Decode the pinned data-path maps of a node (no agent needed): JSON with the C struct
field names (plus resolved ``*_name`` fields), or one rich table per map.

JSON shape: ``{"<map name>": [{"key": {...}, "value": {...}}, ...]}``. Each key/value
object has the fields of ``to_json`` of the ``kmeshctl.maps`` dataclasses (IPs as text,
ports in host order, enums in words), so ``entry_from_json`` decodes it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from kmeshctl.errors import UsageError
from kmeshctl.ids import IdRegistry
from kmeshctl.maps import (BACKEND, ENDPOINT, FRONTEND, IDREG, MANAGE, MAP_NAMES, MAP_SPECS,
                           SERVICE, SOCKET, BackendKey, BackendValue, DataplaneMaps, EndpointKey,
                           EndpointValue, FrontendKey, FrontendValue, IdRegKey, IdRegValue,
                           ManageKey, ManageValue, MapSpec, ServiceKey, ServiceValue, SockKey,
                           SockValue, Waypoint)

SPECS_BY_NAME: dict[str, MapSpec] = {spec.name: spec for spec in MAP_SPECS}


@dataclass
class MapDump:
    spec: MapSpec
    entries: list[tuple[Any, Any]]


def check_map_name(name: str | None) -> None:
    if name is not None and name not in SPECS_BY_NAME:
        raise UsageError(f"unknown map {name!r}: pick one of {', '.join(MAP_NAMES)}")


def read_maps(maps: DataplaneMaps, name: str | None = None) -> list[MapDump]:
    """Every entry of the named map (or of all maps), sorted for stable output."""
    check_map_name(name)
    specs = [SPECS_BY_NAME[name]] if name else list(MAP_SPECS)
    return [MapDump(spec, sorted(maps.maps[spec.name].items(), key=lambda kv: _sort_key(kv[0])))
            for spec in specs]


def _sort_key(key: Any) -> tuple:
    return tuple(str(v) if not isinstance(v, int) else f"{v:020d}" for v in vars(key).values())


# ---------------------------------------------------------------- JSON


def _names(ids: IdRegistry, id_list: list[int]) -> list[str | None]:
    return [ids.name_of(i) for i in id_list]


def _annotate(spec: MapSpec, key: Any, value: Any, ids: IdRegistry
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    k, v = key.to_json(), value.to_json()
    if spec is FRONTEND:
        kind = ids.kind_of(value.upstream_id)
        v["upstream_name"] = ids.name_of(value.upstream_id)
        v["upstream_kind"] = kind.name if kind else None
    elif spec is SERVICE:
        k["service_name"] = ids.name_of(key.service_id)
    elif spec is ENDPOINT:
        k["service_name"] = ids.name_of(key.service_id)
        v["backend_name"] = ids.name_of(value.backend_uid)
    elif spec is BACKEND:
        k["backend_name"] = ids.name_of(key.backend_uid)
        v["service_names"] = _names(ids, list(value.service))
    return k, v


def to_json(dumps: list[MapDump], ids: IdRegistry) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = {}
    for dump in dumps:
        rows = []
        for key, value in dump.entries:
            k, v = _annotate(dump.spec, key, value, ids)
            rows.append({"key": k, "value": v})
        result[dump.spec.name] = rows
    return result


def entry_from_json(map_name: str, entry: dict[str, Any]) -> tuple[Any, Any]:
    """The typed (key, value) of one JSON entry of ``map_name``."""
    check_map_name(map_name)
    spec = SPECS_BY_NAME[map_name]
    return spec.key_type.from_json(entry["key"]), spec.value_type.from_json(entry["value"])


def dump_json(bpf_fs: Path, name: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Read the pinned maps under ``bpf_fs`` and return them as JSON-ready data."""
    check_map_name(name)
    with DataplaneMaps(bpf_fs) as maps:
        return to_json(read_maps(maps, name), IdRegistry(maps))


# ---------------------------------------------------------------- tables


def _named(ids: IdRegistry, id_: int) -> str:
    return ids.name_of(id_) or "(unregistered)"


def _waypoint_text(wp: Waypoint | None) -> str:
    if wp is None:
        return "none"
    fmt = "Kmesh TLV" if wp.header.name == "KMESH_TLV" else "PROXY v2"
    return f"{wp.address}:{wp.port} ({fmt})"


def _ports_text(value: ServiceValue) -> str:
    return ", ".join(f"{s}->{t}" for s, t in value.ports) or "none"


def _counts_text(value: ServiceValue) -> str:
    groups = [f"p{prio}:{count}" for prio, count in enumerate(value.prio_endpoint_count) if count]
    return " ".join(groups) or "empty"


def _frontend_table(entries: list[tuple[FrontendKey, FrontendValue]], ids: IdRegistry) -> Table:
    table = Table("address", "upstream id", "kind", "upstream")
    for key, value in entries:
        kind = ids.kind_of(value.upstream_id)
        table.add_row(str(key.addr), str(value.upstream_id),
                      kind.name.lower() if kind else "?", _named(ids, value.upstream_id))
    return table


def _service_table(entries: list[tuple[ServiceKey, ServiceValue]], ids: IdRegistry) -> Table:
    table = Table("service id", "service", "lb policy", "endpoints", "ports", "waypoint")
    for key, value in entries:
        table.add_row(str(key.service_id), _named(ids, key.service_id), value.lb_policy.name,
                      _counts_text(value), _ports_text(value), _waypoint_text(value.waypoint))
    return table


def _endpoint_table(entries: list[tuple[EndpointKey, EndpointValue]], ids: IdRegistry) -> Table:
    table = Table("service", "prio", "index", "backend uid", "backend")
    for key, value in entries:
        table.add_row(_named(ids, key.service_id), str(key.prio), str(key.backend_index),
                      str(value.backend_uid), _named(ids, value.backend_uid))
    return table


def _backend_table(entries: list[tuple[BackendKey, BackendValue]], ids: IdRegistry) -> Table:
    table = Table("backend uid", "backend", "address", "services", "waypoint")
    for key, value in entries:
        services = ", ".join(_named(ids, s) for s in value.service) or "none"
        table.add_row(str(key.backend_uid), _named(ids, key.backend_uid), str(value.addr),
                      services, _waypoint_text(value.waypoint))
    return table


def _manage_table(entries: list[tuple[ManageKey, ManageValue]], ids: IdRegistry) -> Table:
    table = Table("netns cookie", "managed")
    for key, value in entries:
        table.add_row(str(key.netns_cookie), "yes" if value.managed else "no")
    return table


def _socket_table(entries: list[tuple[SockKey, SockValue]], ids: IdRegistry) -> Table:
    table = Table("local", "waypoint (remote)", "socket cookie")
    for key, value in entries:
        table.add_row(f"{key.local}:{key.local_port}", f"{key.remote}:{key.remote_port}",
                      str(value.cookie))
    return table


def _idreg_table(entries: list[tuple[IdRegKey, IdRegValue]], ids: IdRegistry) -> Table:
    table = Table("id", "kind", "name")
    for key, value in entries:
        table.add_row(str(key.id), value.kind.name.lower(), value.name)
    return table


_TABLES = {
    FRONTEND.name: (_frontend_table, "destination IP -> service / backend"),
    SERVICE.name: (_service_table, "services"),
    ENDPOINT.name: (_endpoint_table, "endpoint slots (1-based per priority group)"),
    BACKEND.name: (_backend_table, "backends (workloads)"),
    MANAGE.name: (_manage_table, "enrolled network namespaces"),
    SOCKET.name: (_socket_table, "open connections to waypoints"),
    IDREG.name: (_idreg_table, "id registry"),
}


def render_tables(dumps: list[MapDump], ids: IdRegistry, console: Console) -> None:
    for dump in dumps:
        build, title = _TABLES[dump.spec.name]
        count = f"{len(dump.entries)}/{dump.spec.max_entries}"
        console.print(f"[bold]{dump.spec.name}[/bold]: {title} ({count})", highlight=False)
        console.print(build(dump.entries, ids))


def print_tables(bpf_fs: Path, name: str | None = None, console: Console | None = None) -> None:
    check_map_name(name)
    with DataplaneMaps(bpf_fs) as maps:
        render_tables(read_maps(maps, name), IdRegistry(maps), console or Console())
