"""Decode the pinned data-path maps of a node (no agent needed): JSON with the C struct
field names (plus resolved ``*_name`` fields), or one rich table per map.

JSON shape: ``{"<map name>": [{"key": {...}, "value": {...}}, ...]}``. Each key/value
object has the fields of ``to_json`` of the ``kmeshctl.maps`` dataclasses (IPs as text,
ports in host order, enums in words), so ``entry_from_json`` decodes it back; km_manage
keys also carry ``pod``: ``{"namespace", "name"}`` of the netns cookie's pod, or null
when the node agent did not name it. That is the agent's admin JSON; `dump maps -o
json|yaml` prints it through ``maps_output``: the same fields in camelCase (docs/usage.md).
"""

from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kmeshctl.errors import UsageError
from kmeshctl.params import NOT_ACCEPTED, TABLE_EMPTY as EMPTY, bad_value, given_text, one_of
from kmeshctl.node.ids import IdRegistry
from kmeshctl.maps import (BACKEND, ENDPOINT, FRONTEND, IDREG, MANAGE, MAP_NAMES, MAP_SPECS,
                           SERVICE, SOCKET, BackendKey, BackendValue, DataplaneMaps, EndpointKey,
                           EndpointValue, FrontendKey, FrontendValue, IdRegKey, IdRegValue,
                           ManageKey, ManageValue, MapSpec, ServiceKey, ServiceValue, SockKey,
                           SockValue, Tunnel, MapMissingError)
from kmeshctl.maps import AUTHZ_DST, AUTHZ_POL, AUTHZ_PORT, AUTHZ_RULE, AUTHZ_STATS

SPECS_BY_NAME: dict[str, MapSpec] = {spec.name: spec for spec in MAP_SPECS}


@dataclass
class MapDump:
    spec: MapSpec
    entries: list[tuple[Any, Any]]


def check_map_name(name: str | None) -> None:
    """UsageError for a --map that is no map's name, offering the closest names first
    (`backend` -> km_backend, `km_servce` -> km_service), then every name."""
    if name is None or name in SPECS_BY_NAME:
        return
    listed = [part.strip() for part in name.split(",")]
    if len(listed) > 1 and all(part in SPECS_BY_NAME for part in listed):
        raise UsageError(f"{given_text('--map', name)}: {NOT_ACCEPTED}: one map per run; give --map once for each "
                         f"map (a run each), or leave --map out for every map")
    close = close_map_names(name)
    if not close:
        raise bad_value("--map", name, NOT_ACCEPTED, one_of(MAP_NAMES))
    raise UsageError(f"{given_text('--map', name)}: {NOT_ACCEPTED}; did you mean {' or '.join(close)}? "
                     f"(every map: {', '.join(MAP_NAMES)})")


def close_map_names(name: str) -> list[str]:
    """The map names ``name`` most likely meant: the one it names without the `km_` prefix
    (`backend`, `authz_pol`), or a name it is one typo away from (difflib), at most 3."""
    import difflib

    typed = name.strip().lower()
    wanted = [n for n in MAP_NAMES if n in (typed, f"km_{typed}") or n.removeprefix("km_") == typed]
    wanted += [n for n in difflib.get_close_matches(typed, MAP_NAMES, n=3, cutoff=0.75) if n not in wanted]
    if not wanted:
        wanted = difflib.get_close_matches(f"km_{typed}", MAP_NAMES, n=3, cutoff=0.75)
    return wanted[:3]


def check_pinned(bpf_fs: Path, name: str | None = None) -> None:
    """MapMissingError naming the map asked for (``name``; else the first missing) and
    the directory, before any map is opened: every map is opened to name ids, so a
    directory without ours must not be blamed on the first map opened (km_frontend)."""
    if not Path(bpf_fs).is_dir():
        return  # open_pinned says so, naming --bpf-fs
    missing = [n for n in MAP_NAMES if not (Path(bpf_fs) / n).exists()]
    if not missing:
        return
    asked = name if name in missing else None
    if len(missing) == len(MAP_NAMES):
        what = (f"no pinned map {asked} in {bpf_fs} (nor any other map of the data path)" if asked
                else f"no map of the data path is pinned in {bpf_fs}")
    elif asked:
        what = f"no pinned map {asked} in {bpf_fs}"
    else:
        what = f"no pinned map {missing[0]} in {bpf_fs}" + (f" (nor {', '.join(missing[1:])})" if missing[1:] else "")
    if name and not asked:
        what += f" (needed beside {name} to name ids)"
    raise MapMissingError(f"{what}: load the data path first (`kmeshctl node run`) or pass the right --bpf-fs")


def read_maps(maps: DataplaneMaps, name: str | None = None, ids: IdRegistry | None = None) -> list[MapDump]:
    """Every entry of the named map (or of all maps), sorted for stable output (sorted_entries)."""
    check_map_name(name)
    specs = [SPECS_BY_NAME[name]] if name else list(MAP_SPECS)
    ids = ids or IdRegistry(maps)
    return [MapDump(spec, sorted_entries(list(maps.maps[spec.name].items()), ids))
            for spec in specs]


def _sort_key(key: Any) -> tuple:
    """A map key's fields in order, each compared by what it is: numbers and ports as
    numbers, addresses numerically (10.244.0.2 before 10.244.0.10; IPv4 before IPv6),
    other values as text."""
    return tuple(_field_order(getattr(key, f.name)) for f in fields(key))


def _field_order(value: Any) -> tuple:
    if isinstance(value, bool) or not isinstance(value, (int, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return (2, 0, str(value))
    if isinstance(value, int):
        return (0, value, "")
    return (1, value.version * 2 ** 128 + int(value), "")


def sorted_entries(entries: list[tuple[Any, Any]], ids: IdRegistry | None = None) -> list[tuple[Any, Any]]:
    """``entries`` in read_maps' order (an agent's dump comes in its own); with ``ids``, a
    map keyed by a service id or backend uid in the order of the name it stands for, then
    the rest of the key: the ids are hashes, so their numeric order reads as no order in a
    table that shows the names (km_backend's BACKEND, km_service's SERVICE)."""
    if ids is None:
        return sorted(entries, key=lambda kv: _sort_key(kv[0]))
    return sorted(entries, key=lambda kv: (_named_order(kv[0], ids), _sort_key(kv[0])))


def _named_order(key: Any, ids: IdRegistry) -> tuple:
    """The name a key's id stands for (km_service, km_endpoint: the service; km_backend:
    the backend), unnamed ids after the named ones; () for a map keyed otherwise."""
    id_ = key.backend_uid if isinstance(key, BackendKey) else getattr(key, "service_id", None)
    if id_ is None:
        return ()
    name = ids.name_of(id_)
    return (name is None, name or "")


def manage_cookies(dumps: list[MapDump]) -> set[int]:
    """The netns cookies of the km_manage dump among ``dumps`` (none when it is not there)."""
    return {key.netns_cookie for dump in dumps if dump.spec is MANAGE for key, _value in dump.entries}


def json_manage_cookies(data: dict[str, Any]) -> set[int]:
    """The netns cookies of km_manage in ``to_json``'s data (none when it is not there)."""
    return {int(entry["key"]["netns_cookie"]) for entry in data.get(MANAGE.name, [])}


# ---------------------------------------------------------------- JSON


def _names(ids: IdRegistry, id_list: list[int]) -> list[str | None]:
    return [ids.name_of(i) for i in id_list]


def _policy_names(dumps: list[MapDump]) -> dict[int, str]:
    """Authorization policy id -> name, from the km_authz_pol dump when it is there."""
    return {key.id: value.name for dump in dumps if dump.spec is AUTHZ_POL for key, value in dump.entries}


def read_policy_names(maps: DataplaneMaps) -> dict[int, str]:
    """Authorization policy id -> name, read from the pinned km_authz_pol whatever map is
    shown: `--map km_authz_rule` (or km_authz_stats) names the policies as the whole dump
    does, though km_authz_pol itself is not shown."""
    return {key.id: value.name for key, value in maps.maps[AUTHZ_POL.name].items()}


def denials(bpf_fs: Path) -> dict[str, int]:
    """The connections inbound authorization refused on the data path under ``bpf_fs``
    (km_authz_stats, dry-run verdicts left out: they refuse nothing), by what refused
    them: `AuthorizationPolicy NS/NAME`, `no ALLOW policy matched`, `a pod's policy table
    could not be written`. MapError / OSError when the maps cannot be read."""
    from kmeshctl.maps import AuthzVerdict

    found: dict[str, int] = {}
    with DataplaneMaps(bpf_fs) as maps:
        names = read_policy_names(maps)
        for key, value in maps.authz_stats.items():
            if not key.verdict.refuses or key.dry_run:
                continue
            name = names.get(key.policy, str(key.policy))
            what = (f"AuthorizationPolicy {name}" if key.verdict is AuthzVerdict.DENY_POLICY else
                    "no ALLOW policy matched" if key.verdict is AuthzVerdict.DENY_NO_ALLOW else
                    "a pod's policy table could not be written")
            found[what] = found.get(what, 0) + value.count
    return found


def _annotate(spec: MapSpec, key: Any, value: Any, ids: IdRegistry, policies: dict[int, str] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    k, v = key.to_json(), value.to_json()
    if spec is AUTHZ_RULE and policies is not None:
        v["policy_name"] = policies.get(value.policy) if value.policy else None
        v["shadow_policy_name"] = policies.get(value.shadow_policy) if value.shadow_policy else None
    elif spec is AUTHZ_STATS and policies is not None:
        k["policy_name"] = policies.get(key.policy) if key.policy else None
    if spec is FRONTEND:
        kind = ids.kind_of(value.upstream_id)
        v["upstream_name"] = ids.name_of(value.upstream_id)
        v["upstream_kind"] = kind.name if kind else None
    elif spec is SERVICE:
        k["service_name"] = ids.name_of(key.service_id)
        v["waypoint_name"] = ids.name_of(value.waypoint_id) if value.waypoint_id else None
    elif spec is ENDPOINT:
        k["service_name"] = ids.name_of(key.service_id)
        v["backend_name"] = ids.name_of(value.backend_uid)
    elif spec is BACKEND:
        k["backend_name"] = ids.name_of(key.backend_uid)
        v["service_names"] = _names(ids, list(value.service))
        v["waypoint_name"] = ids.name_of(value.waypoint_id) if value.waypoint_id else None
    return k, v


SIZES = "sizes"  # the JSON's one key that is no map's: {map: {"entries", "capacity"}}


def to_json(dumps: list[MapDump], ids: IdRegistry, pods: dict[int, str] | None = None,
            policies: dict[int, str] | None = None) -> dict[str, Any]:
    """{map name: [{"key", "value"}], ..., "sizes": {map name: {"entries": n,
    "capacity": max entries}}} (the table titles' `5 of 105000 entries`). ``pods``:
    netns cookie -> `namespace/name`, for km_manage's ``pod`` field; ``policies``: policy
    id -> name (default: from the km_authz_pol dump among ``dumps``)."""
    result: dict[str, Any] = {}
    if policies is None:
        policies = _policy_names(dumps)
    for dump in dumps:
        rows = []
        for key, value in dump.entries:
            k, v = _annotate(dump.spec, key, value, ids, policies)
            if dump.spec is MANAGE:
                k["pod"] = pod_json((pods or {}).get(key.netns_cookie))
            rows.append({"key": k, "value": v})
        result[dump.spec.name] = rows
    result[SIZES] = {d.spec.name: {"entries": len(d.entries), "capacity": d.spec.max_entries} for d in dumps}
    return result


def pod_json(pod: str | None) -> dict[str, str] | None:
    """`namespace/name` -> {"namespace", "name"}; None when the pod is not known."""
    if not pod or "/" not in pod or pod.startswith("/"):
        return None
    namespace, _, name = pod.partition("/")
    return {"namespace": namespace, "name": name}


def with_pods(data: dict[str, Any], pods: dict[int, str]) -> dict[str, Any]:
    """An agent's map JSON (`dump maps --pod`) with km_manage's ``pod`` filled in as
    ``dump_json`` fills it."""
    for entry in data.get(MANAGE.name, []):
        cookie = entry.get("key", {}).get("netns_cookie")
        entry["key"]["pod"] = pod_json(pods.get(int(cookie))) if cookie is not None else None
    return data


_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


def camel(name: Any) -> Any:
    """`netns_cookie` -> `netnsCookie`; a key that is no snake_case field name as it is."""
    if not isinstance(name, str) or not _SNAKE.fullmatch(name):
        return name
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def camel_keys(data: Any, data_keyed: frozenset[str] = frozenset()) -> Any:
    """``data`` with every object key camelCase (kubectl's JSON), except the keys of an
    object under a key of ``data_keyed``: those are names (a workload's Services), not fields."""
    if isinstance(data, list):
        return [camel_keys(item, data_keyed) for item in data]
    if not isinstance(data, dict):
        return data
    return {camel(key): _names_kept(value, data_keyed) if key in data_keyed else camel_keys(value, data_keyed)
            for key, value in data.items()}


def _names_kept(data: Any, data_keyed: frozenset[str]) -> Any:
    """An object keyed by names: its keys as they are, what they hold camelCase."""
    if not isinstance(data, dict):
        return camel_keys(data, data_keyed)
    return {name: camel_keys(value, data_keyed) for name, value in data.items()}


def maps_output(data: dict[str, Any]) -> dict[str, Any]:
    """`dump maps -o json|yaml` of the maps' JSON (``to_json``, or an agent's): the map names
    (the top keys, and those of ``sizes``) as the maps are named, every field camelCase."""
    return {name: _names_kept(rows, frozenset()) if name == SIZES else camel_keys(rows)
            for name, rows in data.items()}


def entry_from_json(map_name: str, entry: dict[str, Any]) -> tuple[Any, Any]:
    """The typed (key, value) of one JSON entry of ``map_name``: the agent's (C field names)
    or `dump maps -o json`'s (the same in camelCase)."""
    check_map_name(map_name)
    spec = SPECS_BY_NAME[map_name]
    key, value = _snake_keys(entry["key"]), _snake_keys(entry["value"])
    return spec.key_type.from_json(key), spec.value_type.from_json(value)


def _snake_keys(fields_: dict[str, Any]) -> dict[str, Any]:
    """`netnsCookie` -> `netns_cookie` (``camel`` undone), for the maps' from_json."""
    return {re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), key): value for key, value in fields_.items()}


def dump_json(bpf_fs: Path, name: str | None = None, pods: dict[int, str] | None = None
              ) -> dict[str, Any]:
    """Read the pinned maps under ``bpf_fs`` and return them as JSON-ready data."""
    check_map_name(name)
    check_pinned(bpf_fs, name)
    with DataplaneMaps(bpf_fs) as maps:
        ids = IdRegistry(maps)
        return to_json(read_maps(maps, name, ids), ids, pods, read_policy_names(maps))


# ---------------------------------------------------------------- tables


def _named(ids: IdRegistry, id_: int) -> str:
    return ids.name_of(id_) or "(unregistered)"


def _waypoint_text(ids: IdRegistry, waypoint_id: int, unresolved: bool = False) -> str:
    """The waypoint's name (its id is the wide-only WAYPOINT ID column's)."""
    if unresolved:
        return "unresolved (connects refused)"
    if not waypoint_id:
        return EMPTY
    return _named(ids, waypoint_id)


def _waypoint_id_text(ids: IdRegistry, waypoint_id: int) -> str:
    """-o wide's WAYPOINT ID: `774230474 (backend)`, the id and the kind it is registered as."""
    if not waypoint_id:
        return EMPTY
    kind = ids.kind_of(waypoint_id)
    return f"{waypoint_id} ({kind.name if kind else '?'})"


def _tunnel_text(tunnel: Tunnel | None) -> str:
    """What the entry holds: none (tunnel_port 0) for most backends, never a default a
    waypoint would take, which read as if every pod were one."""
    if tunnel is None:
        return EMPTY
    fmt = "Kmesh TLV" if tunnel.header.name == "KMESH_TLV" else "PROXY v2"
    return f"{tunnel.port} ({fmt})"


def _ports_text(value: ServiceValue) -> str:
    """`80->8080, 443->8443`; a pair the map holds more than once (kube-dns's 53->53 for UDP
    and for TCP: a Service port repeats only with another protocol, which the map does not
    hold) once, as `53->53 (2 protocols)`, as `dump config` says it (config_dump._ports)."""
    seen = list(dict.fromkeys(value.ports))
    return ", ".join(_pair_text(pair, value.ports.count(pair)) for pair in seen) or EMPTY


def _pair_text(pair: tuple[int, int], count: int) -> str:
    """`53->53`, or `53->53 (2 protocols)` for a pair held ``count`` times: both dumps' one notation."""
    text = f"{pair[0]}->{pair[1]}"
    return f"{text} ({count} protocols)" if count > 1 else text


def _counts_text(value: ServiceValue) -> str:
    """The endpoint count, per priority group when there are several (failover by
    locality): `2`, `2 (prio 0), 1 (prio 1)`; `0` for none."""
    groups = [(prio, count) for prio, count in enumerate(value.prio_endpoint_count) if count]
    if not groups:
        return "0"
    if [prio for prio, _ in groups] == [0]:
        return str(groups[0][1])
    return ", ".join(f"{count} (prio {prio})" for prio, count in groups)


def _frontend_table(entries: list[tuple[FrontendKey, FrontendValue]], ids: IdRegistry) -> Table:
    table = Table("address", "upstream id", "kind", "upstream")
    for key, value in entries:
        kind = ids.kind_of(value.upstream_id)
        table.add_row(str(key.addr), str(value.upstream_id),
                      kind.name if kind else "?", _named(ids, value.upstream_id))
    return table


def _service_table(entries: list[tuple[ServiceKey, ServiceValue]], ids: IdRegistry) -> Table:
    table = Table("service id", "service", "lb policy", "endpoints", "ports", "waypoint", "waypoint id")
    for key, value in entries:
        table.add_row(str(key.service_id), _named(ids, key.service_id), value.lb_policy.name,
                      _counts_text(value), _ports_text(value), _waypoint_text(ids, value.waypoint_id),
                      _waypoint_id_text(ids, value.waypoint_id))
    return table


def _endpoint_table(entries: list[tuple[EndpointKey, EndpointValue]], ids: IdRegistry) -> Table:
    table = Table("service", "prio", "index", "backend uid", "backend", "own target ports")
    for key, value in entries:
        own = ", ".join(str(p) if p else "-" for p in value.target_ports) or EMPTY
        table.add_row(_named(ids, key.service_id), str(key.prio), str(key.backend_index),
                      str(value.backend_uid), _named(ids, value.backend_uid), own)
    return table


def _backend_table(entries: list[tuple[BackendKey, BackendValue]], ids: IdRegistry) -> Table:
    table = Table("backend uid", "backend", "addresses", "services", "waypoint", "waypoint id", "as a waypoint")
    for key, value in entries:
        services = ", ".join(_named(ids, s) for s in value.service) or EMPTY
        table.add_row(str(key.backend_uid), _named(ids, key.backend_uid),
                      ", ".join(str(a) for a in value.addresses), services,
                      _waypoint_text(ids, value.waypoint_id, value.waypoint_unresolved),
                      _waypoint_id_text(ids, value.waypoint_id), _tunnel_text(value.tunnel))
    return table


class NoAnswer(dict):
    """The ``pods`` of a dump whose agent was asked and did not answer, or (not
    ``running``) whose agent's process is known to have ended (empty; ``reason`` says
    why): km_manage's pod column says so instead of "(agent not asked)"."""

    def __init__(self, reason: str, running: bool = True) -> None:
        super().__init__()
        self.reason = reason
        self.running = running


def _unknown_pod(pods: dict[int, str] | None) -> str:
    """The pod column of a cookie the agent's list does not name."""
    if isinstance(pods, NoAnswer):
        return "(agent did not answer)" if pods.running else "(agent not running)"
    return "(agent not asked)" if pods is None else EMPTY


def _manage_table(entries: list[tuple[ManageKey, ManageValue]], ids: IdRegistry,
                  pods: dict[int, str] | None = None) -> Table:
    table = Table("netns cookie", "pod", "managed")
    for key, value in entries:
        pod = (pods or {}).get(key.netns_cookie) or _unknown_pod(pods)
        table.add_row(str(key.netns_cookie), pod, "yes" if value.managed else "no")
    return table


def pods_by_cookie(cache_dump: dict) -> dict[int, str]:
    """netns cookie -> pod name, from the `enrolled` list of an agent's cache dump."""
    return {int(e["cookie"]): e.get("pod") or e.get("netns", "") for e in cache_dump.get("enrolled", [])
            if e.get("cookie") is not None}


def _socket_table(entries: list[tuple[SockKey, SockValue]], ids: IdRegistry) -> Table:
    table = Table("local", "waypoint (remote)", "socket cookie")
    for key, value in entries:
        table.add_row(f"{key.local}:{key.local_port}", f"{key.remote}:{key.remote_port}",
                      str(value.cookie))
    return table


def _idreg_table(entries: list[tuple[IdRegKey, IdRegValue]], ids: IdRegistry) -> Table:
    table = Table("id", "kind", "name")
    for key, value in entries:
        table.add_row(str(key.id), value.kind.name, value.name)
    return table


def _policy_text(policy: int, names: dict[int, str]) -> str:
    """The name of policy id ``policy`` (EMPTY for 0: a verdict no policy decided)."""
    return names.get(policy, f"policy {policy}") if policy else EMPTY


def _authz_dst_table(entries: list, ids: IdRegistry, names: dict[int, str]) -> Table:
    table = Table("address", "table", "state")
    for key, value in entries:
        table.add_row(str(key.addr), str(value.table),
                      "DENY ALL (fail closed: policy not enforceable)" if value.deny_all else "table in force")
    return table


def _authz_port_table(entries: list, ids: IdRegistry, names: dict[int, str]) -> Table:
    table = Table("table", "port", "port class")
    for key, value in entries:
        table.add_row(str(key.table), str(key.port), str(value.port_class))
    return table


def _authz_rule_table(entries: list, ids: IdRegistry, names: dict[int, str],
                      ports: PortClasses | None = None) -> Table:
    """km_authz_rule's rows; the dry-run verdict as the map (and -o json) holds it, the
    verdict with the dry-run policies in (the same as VERDICT when none decides)."""
    table = Table("table", "port class", "source", "verdict", "policy", "dry-run verdict", "dry-run policy")
    for key, value in entries:
        table.add_row(str(key.table), _port_class_text(key.table, key.port_class, ports),
                      str(key.src), value.verdict.name, _policy_text(value.policy, names),
                      value.shadow_verdict.name, _policy_text(value.shadow_policy, names))
    return table


# (policy table, port class) -> the ports km_authz_port puts in that class
PortClasses = dict[tuple[int, int], list[int]]


def port_classes(entries: Iterable[tuple[Any, Any]]) -> PortClasses:
    """km_authz_port's rows as the ports of each class of each table."""
    found: PortClasses = {}
    for key, value in entries:
        found.setdefault((key.table, value.port_class), []).append(key.port)
    return {k: sorted(v) for k, v in found.items()}


def _port_class_text(table: int, port_class: int, ports: PortClasses | None) -> str:
    """`other ports` (class 0), `1 (ports 8080, 8443)` from km_authz_port, or the class and
    where to look when km_authz_port was not read."""
    if port_class == 0:
        return "other ports"
    if ports is None:
        return f"{port_class} (ports: see km_authz_port)"
    listed = ports.get((table, port_class))
    if not listed:
        return f"{port_class} (no port in km_authz_port)"
    return f"{port_class} (port{'s' if len(listed) > 1 else ''} {', '.join(map(str, listed))})"


def _authz_pol_table(entries: list, ids: IdRegistry, names: dict[int, str]) -> Table:
    table = Table("id", "name", "action", "dry run")
    for key, value in entries:
        table.add_row(str(key.id), value.name, "DENY" if value.action else "ALLOW", "yes" if value.dry_run else "no")
    return table


def _authz_stats_table(entries: list, ids: IdRegistry, names: dict[int, str]) -> Table:
    table = Table("policy", "verdict", "dry run", "connections")
    for key, value in entries:
        table.add_row(names.get(key.policy, str(key.policy)) if key.policy else EMPTY, key.verdict.name,
                      "yes" if key.dry_run else "no", str(value.count))
    return table


_AUTHZ_TABLES = {
    AUTHZ_DST.name: (_authz_dst_table, "inbound authorization: pod address -> table"),
    AUTHZ_PORT.name: (_authz_port_table, "inbound authorization: ports a policy names"),
    AUTHZ_RULE.name: (_authz_rule_table, "inbound authorization: verdict per source prefix"),
    AUTHZ_POL.name: (_authz_pol_table, "inbound authorization: policies"),
    AUTHZ_STATS.name: (_authz_stats_table, "inbound authorization: connections decided"),
}

_TABLES = {
    FRONTEND.name: (_frontend_table, "destination IP -> service / backend"),
    SERVICE.name: (_service_table, "services"),
    ENDPOINT.name: (_endpoint_table, "endpoint slots (1-based per priority group)"),
    BACKEND.name: (_backend_table, "backends (workloads)"),
    MANAGE.name: (_manage_table, "enrolled network namespaces"),
    SOCKET.name: (_socket_table, "open connections to waypoints"),
    IDREG.name: (_idreg_table, "id registry"),
}


# The columns that tell a map's rows apart (its BPF key and the key's name), and the
# value a map is read for (km_endpoint's backend, the name km_frontend's address leads
# to, km_authz_rule's verdict, km_authz_stats' count), per map: kept whole at any width
# (narrower than they are, the lines are wider than the terminal), in front of the
# others, which wrap between words (a name is never split) and, when the table still
# does not fit, are left out from the right (-o wide shows every column whole).
_KEY_COLUMNS = {
    FRONTEND.name: ("address", "upstream"),
    SERVICE.name: ("service id", "service"),
    ENDPOINT.name: ("service", "prio", "index", "backend"),
    BACKEND.name: ("backend uid", "backend"),
    MANAGE.name: ("netns cookie", "pod"),
    SOCKET.name: ("local", "waypoint (remote)"),
    IDREG.name: ("id", "name"),
    AUTHZ_DST.name: ("address", "table"),
    AUTHZ_PORT.name: ("table", "port"),
    AUTHZ_RULE.name: ("table", "port class", "source", "verdict"),
    AUTHZ_POL.name: ("id", "name"),
    AUTHZ_STATS.name: ("policy", "verdict", "dry run", "connections"),
}
# The detail columns of each map (ids and cookies the names beside them stand for, the
# tunnel a backend takes as a waypoint): only -o wide shows them.
_DETAIL_COLUMNS = {
    FRONTEND.name: ("upstream id",),
    SERVICE.name: ("service id", "waypoint id"),
    ENDPOINT.name: ("backend uid",),
    BACKEND.name: ("backend uid", "waypoint id", "as a waypoint"),
    SOCKET.name: ("socket cookie",),
}
# The headers -o wide adds, each once (what `dump maps --help` says -o wide shows).
WIDE_COLUMNS = tuple(dict.fromkeys(header.upper() for headers in _DETAIL_COLUMNS.values() for header in headers))
# km_authz_rule's dry-run columns: shown when a dry-run policy decides a row, else by -o wide alone
DRY_RUN_COLUMNS = ("dry-run verdict", "dry-run policy")
WIDE_ADDS = (f"the {', '.join(WIDE_COLUMNS[:-1])} and {WIDE_COLUMNS[-1]} columns, and km_authz_rule's "
             f"{' and '.join(c.upper() for c in DRY_RUN_COLUMNS)} when no dry-run policy decides a row")
_MIN_OTHER = 12  # the width a wrapping column keeps at least
_WIDE = 10_000


def _fit(table: Table, width: int, wide: bool, keys: tuple[str, ...]) -> tuple[Table, list[str], int]:
    """The table to print in ``width`` columns, the headers left out and the width to
    print at (kmeshctl.cli.tables.fit_columns: wider than ``width`` only when the id and
    name columns alone are). ``wide``: every column whole, nothing left out."""
    from kmeshctl.cli.tables import fit_columns, terminal_style

    if wide:
        terminal_style(table)
        for column in table.columns:
            column.no_wrap = True
        return table, [], _WIDE
    return fit_columns(table, width, keys, _MIN_OTHER)


def render_tables(dumps: list[MapDump], ids: IdRegistry, console: Console,
                  pods: dict[int, str] | None = None, wide: bool = False,
                  policies: dict[int, str] | None = None, ports: PortClasses | None = None) -> None:
    """One table per map. ``pods``: netns cookie -> pod for km_manage; ``policies``: policy
    id -> name (default: from the km_authz_pol dump among ``dumps``). At the console's
    width the columns that tell rows apart (the map's key and its names: ids, names,
    prio, index, addresses, cookies, pods) are always shown whole, the others wrap, and
    those that still do not fit are left out with a line naming them; ``wide`` prints
    every column whole."""
    names = _policy_names(dumps) if policies is None else policies
    if ports is None:  # else km_authz_port's rows among ``dumps``, when it is shown
        ports = next((port_classes(d.entries) for d in dumps if d.spec is AUTHZ_PORT), None)
    for number, dump in enumerate(dumps):
        dump = MapDump(dump.spec, sorted_entries(dump.entries, ids))  # an agent's rows come in its order
        authz_table = _AUTHZ_TABLES.get(dump.spec.name)
        build, title = authz_table or _TABLES[dump.spec.name]
        count = f"{len(dump.entries)} of {dump.spec.max_entries} entries"
        if dump.spec is AUTHZ_RULE:
            table = _authz_rule_table(dump.entries, ids, names, ports)
        elif authz_table:
            table = build(dump.entries, ids, names)
        else:
            table = _manage_table(dump.entries, ids, pods) if dump.spec is MANAGE else build(dump.entries, ids)
        keys = tuple(key.upper() for key in _KEY_COLUMNS.get(dump.spec.name, ()))
        print_section(console, f"[bold]{dump.spec.name}[/bold]: {title} ({count})", table, keys, wide,
                      first=not number, detail=_detail_columns(dump))


def _detail_columns(dump: MapDump) -> tuple[str, ...]:
    """The columns only -o wide shows of ``dump``'s table: km_authz_rule's dry-run ones
    when no dry-run policy decides a row (its DRY-RUN VERDICT is then the VERDICT)."""
    if dump.spec is AUTHZ_RULE and not any(value.shadow_policy for _, value in dump.entries):
        return DRY_RUN_COLUMNS
    return _DETAIL_COLUMNS.get(dump.spec.name, ())


# A titled table of print_sections: title, table, key columns, detail columns (-o wide).
Section = tuple[str, Table, tuple[str, ...], tuple[str, ...]]


def print_sections(console: Console, sections: list[Section], wide: bool, none: str, quiet: bool = False) -> bool:
    """Each section with rows as a titled table (print_section), a blank line between
    them; an empty section prints nothing (no title over nothing), and when every one is
    empty the note ``none`` goes to stderr (not when ``quiet``: -q), as kubectl's `No resources
    found` (stdout stays one piece). Whether any table was printed."""
    shown = [section for section in sections if section[1].row_count]
    for number, (title, table, keys, detail) in enumerate(shown):
        print_section(console, title, table, keys, wide, first=not number, detail=detail)
    if not shown:
        console.file.flush()
        if not quiet:
            print(none, file=sys.stderr, flush=True)
    return bool(shown)


def print_section(console: Console, title: str, table: Table, keys: tuple[str, ...], wide: bool,
                  first: bool = True, detail: tuple[str, ...] = ()) -> None:
    """One titled table, as every dump prints them: a blank line before it (unless
    ``first``), the title left-aligned, wrapped between words as every other line of text
    (title_lines), the table fitted to the console's width with the columns
    named in ``keys`` (upper-case headers) whole, and a line naming the columns left out;
    ``wide`` adds the ``detail`` columns and prints every column whole. A cell wraps only
    between words: a name or an address is never split across lines."""
    from kmeshctl.cli.tables import drop_empty_columns, wide_only

    if not first:
        console.print()  # a blank line between sections, as `cilium bpf ... list` / kubectl's
    for line in title_lines(title, console.width):
        console.print(line, highlight=False, soft_wrap=True)
    _upper_headers(table)
    if not wide:  # -o wide shows every column, one empty in every row too (km_authz_rule's DRY-RUN ones)
        drop_empty_columns(table)  # before fitting: a column of <none> only would push others out
    _boundary_cells(table)
    wide_only(table, detail, wide)
    table, dropped, needed = _fit(table, console.width, wide, keys)
    _print_at_least(console, table, needed)
    if dropped:
        note = f"(not shown at this width: {', '.join(dropped)}; -o wide shows every column)"
        for line in note_lines(note, console.width):
            console.print(line, highlight=False, soft_wrap=True)


# A short flag and its value (`-o wide`): one word of a note, never split across lines.
_FLAG_VALUE = re.compile(r"(?<!\S)(-[A-Za-z]) +(?=[a-z])")


def note_lines(note: str, width: int) -> list[str]:
    """``note`` wrapped to ``width`` at spaces (WholeWordsWrapper), a flag kept on the line
    of its value (`-o wide` is pasted as one piece); a word longer than a line stays whole."""
    from kmeshctl.cli.tables import WholeWordsWrapper

    glued = _FLAG_VALUE.sub(lambda m: m.group(1) + "\0", note)
    return [line.replace("\0", " ") for line in WholeWordsWrapper(max(width, 1)).wrap(glued)]


def title_lines(title: str, width: int) -> list[Text]:
    """A section's ``title`` (rich markup: `[bold]km_endpoint[/bold]: ...`) wrapped to
    ``width`` as note_lines wraps a note (at spaces, a word never split), its styles kept."""
    text = Text.from_markup(title)
    lines: list[Text] = []
    start = 0
    for line in note_lines(text.plain, width):
        found = text.plain.find(line, start)
        if found < 0:  # the wrapper changed the spacing: the title whole, as the terminal folds it
            return [text]
        lines.append(text[found:found + len(line)])
        start = found + len(line)
    return lines or [text]


def _boundary_cells(table: Table) -> None:
    """Every cell of ``table`` as a NamesText: it wraps between words, a name is never split
    (markup of a str cell kept as its style)."""
    from kmeshctl.cli.tables import whole_names, with_cells

    with_cells(table, lambda _column, cell: whole_names(cell))


def _upper_headers(table: Table) -> None:
    """Column headers in capitals, as kubectl and cilium print them (`NETNS COOKIE`)."""
    for column in table.columns:
        column.header = str(column.header).upper()


def _print_at_least(console: Console, table: Table, width: int) -> None:
    """Print ``table`` with at least ``width`` columns: wider than the console only for
    -o wide, or when the identifying columns alone do not fit (they are never cut)."""
    if console.width >= width:
        console.print(table)
        return
    previous = console.width
    console.width = width
    try:
        console.print(table)
    finally:
        console.width = previous


def print_tables(bpf_fs: Path, name: str | None = None, console: Console | None = None,
                 pods: dict[int, str] | None = None, wide: bool = False) -> set[int]:
    """Print the pinned maps under ``bpf_fs`` as tables; the netns cookies km_manage held
    (none when ``name`` is another map), from the same read."""
    check_map_name(name)
    check_pinned(bpf_fs, name)
    with DataplaneMaps(bpf_fs) as maps:
        ids = IdRegistry(maps)
        dumps = read_maps(maps, name, ids)
        render_tables(dumps, ids, console or Console(highlight=False), pods, wide,
                      read_policy_names(maps), port_classes(maps.maps[AUTHZ_PORT.name].items()))
    return manage_cookies(dumps)
