"""Reading a node agent's admin endpoints from the CLI (`kmeshctl dump config`,
`kmeshctl dump maps --pod`): on this machine through 127.0.0.1, or in a cluster through
a port-forward to the agent pod, and the cache shown as tables.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Optional

from rich.console import Console
from rich.table import Table

from kmeshctl.errors import KmeshctlError
from kmeshctl.params import TABLE_EMPTY as EMPTY

CACHE_PATH = "/debug/config_dump/dual-engine"
BPF_PATH = "/debug/config_dump/bpf/dual-engine"
XDS_PATH = "/debug/xds"
AGENT_NAMESPACE = "kmesh-system"
TIMEOUT_S = 10.0


def fetch_local(path: str, port: int) -> Any:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise KmeshctlError(f"agent admin {url} answered {err.code}: {_error_text(err.read())}") from err
    except (urllib.error.URLError, OSError) as err:
        from kmeshctl.kube import transport_reason

        why = transport_reason(err)  # `connection refused`, as kubectl words it
        raise KmeshctlError(f"no node agent admin endpoint at 127.0.0.1:{port} ({why}): start the agent on "
                            "this host (`kmeshctl node run`, or `kmeshctl sandbox up`), or ask one in a "
                            "cluster with --pod NAME") from err


def fetch_from_pod(path: str, pod: str, namespace: str, port: int) -> Any:
    """GET ``path`` from the agent pod's admin port through a Kubernetes port-forward."""
    from kubernetes.stream import portforward

    from kmeshctl import kube

    core = kube.core_v1_api()
    try:
        forward = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
    except Exception as err:  # noqa: BLE001 - ApiException (handshake refused) and transport errors alike
        raise KmeshctlError(f"cannot port-forward to {namespace}/{pod}:{port} ({kube.stream_refusal(err)}): check "
                            f"the pod name (`kubectl get pods -n {namespace}`) and your access") from err
    try:
        sock = forward.socket(port)
        sock.settimeout(TIMEOUT_S)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        raw, failure = _read_http(sock), ""
    except OSError as err:
        raw, failure = b"", kube.transport_reason(err)
    finally:
        forward.close()
    if not raw:  # the pod side refused or closed: the error channel says why
        why = " ".join((forward.error(port) or failure or "connection closed").split())
        raise KmeshctlError(f"no agent admin endpoint at port {port} of {namespace}/{pod} ({why}): check the "
                            f"port the agent serves (its --admin-port: `kubectl get pod -n {namespace} {pod} -o "
                            "yaml`)")
    status, body = _parse_http(raw)
    if status != 200:
        raise KmeshctlError(f"agent {namespace}/{pod} answered {status}: {_error_text(body)}")
    return json.loads(body)


def fetch(path: str, pod: Optional[str], namespace: str, port: int) -> Any:
    return fetch_from_pod(path, pod, namespace, port) if pod else fetch_local(path, port)


def _read_http(sock: Any) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
        if _complete(data):
            return data


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def _parse_http(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError) as err:
        raise KmeshctlError(f"the agent sent no HTTP response ({raw[:80]!r})") from err
    return status, body


def _error_text(body: bytes) -> str:
    try:
        return json.loads(body).get("error", body.decode(errors="replace"))
    except (ValueError, AttributeError):
        return body.decode(errors="replace").strip()


# ----------------------------------------------------------------- tables


def _ports(ports: list[dict]) -> str:
    return ", ".join(f"{p.get('service_port', 0)}->{p.get('target_port', 0)}" for p in ports) or EMPTY


def _waypoint(item: dict) -> str:
    wp = item.get("waypoint")
    if not wp:
        return EMPTY
    if "hostname" in wp:
        target = f"{wp['hostname'].get('namespace', '')}/{wp['hostname'].get('hostname', '')}"
    else:
        target = wp.get("address", {}).get("address", "?")
    return f"{target}:{wp.get('hbone_mtls_port', 0)}"


# The columns that tell rows apart, never cut (see kmeshctl.dump.print_section).
SERVICE_KEYS = ("NAMESPACE/HOSTNAME",)
WORKLOAD_KEYS = ("UID",)
POLICY_KEYS = ("NAMESPACE/NAME",)
# The detail columns only -o wide shows: how a service balances, where a workload runs.
SERVICE_DETAIL = ("LB",)
WORKLOAD_DETAIL = ("NODE",)


def services_table(dump: dict) -> Table:
    table = Table()
    for column in ("NAMESPACE/HOSTNAME", "VIPS", "PORTS", "WAYPOINT", "LB"):
        table.add_column(column)
    for svc in dump["services"]:
        table.add_row(f"{svc.get('namespace', '')}/{svc.get('hostname', '')}", ", ".join(svc["addresses"]),
                      _ports(svc.get("ports", [])), _waypoint(svc), lb_text(svc.get("load_balancing") or {}))
    return table


def lb_text(lb: dict) -> str:
    """The LB cell: the mode the data path applies, as `dump maps` names it (km_service's
    LB POLICY), then the routing preference; a mode the Service leaves unset is the
    default's: `RANDOM (default)`, or `FAILOVER (default) ...` with a routing preference
    (kmeshctl.node.translate.lb_policy)."""
    preference = [str(p) for p in lb.get("routing_preference") or []]
    mode = str(lb.get("mode") or "")
    if mode in ("", "UNSPECIFIED_MODE"):
        mode = f"{'FAILOVER' if preference else 'RANDOM'} (default)"
    return " ".join([mode, *preference])


def workloads_table(dump: dict) -> Table:
    table = Table()
    for column in ("UID", "ADDRESSES", "SERVICES", "WAYPOINT", "STATUS", "NODE"):
        table.add_column(column)
    for wl in dump["workloads"]:
        services = ", ".join(f"{key} ({_ports(ports.get('ports', []))})"
                             for key, ports in sorted(wl.get("services", {}).items()))
        table.add_row(wl.get("uid", ""), ", ".join(wl["addresses"]), services or EMPTY, _waypoint(wl),
                      wl.get("status", "HEALTHY"), wl.get("node", "") or EMPTY)
    return table


def policies_table(dump: dict) -> Table:
    table = Table()
    for column in ("NAMESPACE/NAME", "SCOPE", "ACTION", "RULES", "DRY RUN"):
        table.add_column(column)
    for policy in dump["policies"]:
        table.add_row(f"{policy.get('namespace', '')}/{policy.get('name', '')}", policy.get("scope", "GLOBAL"),
                      policy.get("action", "ALLOW"), str(len(policy.get("rules", []))),
                      "yes" if policy.get("dry_run") else "no")
    return table


def print_cache_tables(dump: dict, console: Optional[Console] = None, wide: bool = False) -> None:
    """The cache as three titled tables, fitted as `dump maps` fits its own (the columns
    that tell rows apart whole, a line naming the columns left out; ``wide``: the detail
    columns too, all whole)."""
    from kmeshctl.dump import print_section

    console = console or Console()
    sections = [(f"[bold]services[/bold] ({len(dump['services'])})", services_table(dump), SERVICE_KEYS,
                 SERVICE_DETAIL),
                (f"[bold]workloads[/bold] ({len(dump['workloads'])})", workloads_table(dump), WORKLOAD_KEYS,
                 WORKLOAD_DETAIL),
                (f"[bold]authorization policies[/bold] ({len(dump['policies'])})", policies_table(dump),
                 POLICY_KEYS, ())]
    for number, (title, table, keys, detail) in enumerate(sections):
        print_section(console, title, table, keys, wide, first=not number, detail=detail)
    if dump.get("enrolled") or dump.get("node"):
        console.print()
    enrolled = dump.get("enrolled", [])
    if enrolled:
        console.print(f"enrolled locally: {', '.join(e.get('pod') or e['netns'] for e in enrolled)}")
    node = dump.get("node")
    if node:
        source = node.get("locality_source")
        known = node.get("locality") and source and source != "unknown"
        console.print(f"node {node.get('name') or '-'}: locality {_locality(node.get('locality'))}"
                      + (f" (from {source})" if known else ""), highlight=False)


def _locality(locality: Optional[dict]) -> str:
    if not locality:
        return "unknown"
    return "/".join(locality.get(part) or "-" for part in ("region", "zone", "subzone"))


# ----------------------------------------------------------------- maps from an agent


class _IdRegEntries:
    """A read-only km_idreg built from a JSON dump (what IdRegistry reads)."""

    def __init__(self, entries: list[tuple[Any, Any]]) -> None:
        self._entries = entries

    def items(self) -> list[tuple[Any, Any]]:
        return list(self._entries)


def print_maps_json_as_tables(data: dict, map_name: Optional[str], console: Optional[Console] = None,
                              pods: Optional[dict[int, str]] = None, wide: bool = False) -> None:
    """Render an agent's `/debug/config_dump/bpf/dual-engine` JSON like `dump maps`."""
    from kmeshctl import dump as dumper
    from kmeshctl.node.ids import IdRegistry
    from kmeshctl.maps import IDREG

    dumper.check_map_name(map_name)
    idreg = [dumper.entry_from_json(IDREG.name, e) for e in data.get(IDREG.name, [])]
    ids = IdRegistry(_IdRegEntries(idreg))  # type: ignore[arg-type]
    dumps = [dumper.MapDump(dumper.SPECS_BY_NAME[name], [dumper.entry_from_json(name, e) for e in rows])
             for name, rows in data.items() if map_name in (None, name) and name != dumper.SIZES]
    dumper.render_tables(dumps, ids, console or Console(), pods, wide)
