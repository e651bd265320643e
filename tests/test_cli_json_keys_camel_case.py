"""Kind "a -o json|yaml document with snake_case keys" (new-user tester, F19J): docs/usage.md
decides that every command's JSON is camelCase, as kubectl's, but for the demo's versioned
document; `dump maps` and `dump config` printed the C struct's and the workload API's
snake_case names (`netns_cookie`, `service_id`, `hbone_mtls_port`, `service_account`).

Each command that has -o json is scanned here (the stand-in API server where a cluster
must answer, a loopback HTTP server as the node agent, decoded map rows built in Python
for `dump maps`, whose maps need root), or says why it is not; a new command with -o
json fails the first test until it is added. The BPF map names (`km_frontend`, keys of
`dump maps`' document) and a workload's Services (`namespace/hostname`) are names, not
fields: they are kept as they are."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest
import typer
import yaml

from kmeshctl import config_dump, dump
from kmeshctl.cli import app
from kmeshctl.maps import MAP_NAMES
from standin_apiserver import cluster, namespace  # noqa: F401 (fixtures)
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401 (fixtures)
from test_cli_malformed_answers import serve  # noqa: F401 (fixture)
from test_cli_map_key_columns_at_80 import COOKIE, POD_OF_COOKIE, _entries, _Ids

SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
NS = "f19j-team"

# The commands with -o json scanned below, and those that are not, with the reason.
SCANNED = {"version", "status", "precheck", "enable-ns", "disable-ns", "uninstall", "node preflight",
           "waypoint apply", "waypoint list", "waypoint status", "waypoint delete", "sandbox list",
           "dump maps", "dump config"}
NOT_SCANNED = {
    "demo traffic-shift": "its document is the versioned snake_case schema kmeshctl.demo.traffic-shift/v1",
    "render": "prints Kubernetes manifests (the API's own keys)",
    "install": "prints Kubernetes manifests (-o with --dry-run only)",
    "sandbox status": "needs a sandbox up (root)",
    "bench dataplane": "needs root (it runs the data path)",
}


def snake_keys(data: Any, path: str = "") -> Iterator[str]:
    """The path of every snake_case key of ``data``; a BPF map's name is a name, not a field."""
    if isinstance(data, list):
        for number, item in enumerate(data):
            yield from snake_keys(item, f"{path}[{number}]")
    elif isinstance(data, dict):
        for key, value in data.items():
            if SNAKE.fullmatch(str(key)) and key not in MAP_NAMES:
                yield f"{path}.{key}"
            yield from snake_keys(value, f"{path}.{key}")


def _json_commands() -> set[str]:
    found: set[str] = set()

    def visit(command: Any, words: list[str]) -> None:
        for param in getattr(command, "params", []):
            if "-o" in getattr(param, "opts", []) and "json" in str(param.metavar or ""):
                found.add(" ".join(words))
        for name, sub in getattr(command, "commands", {}).items():
            visit(sub, [*words, name])

    visit(typer.main.get_command(app), [])
    return found


def test_every_command_with_json_output_is_scanned_or_says_why_not() -> None:
    assert _json_commands() == SCANNED | set(NOT_SCANNED)
    assert not SCANNED & set(NOT_SCANNED)


def _document(result: Any) -> Any:
    assert result.out.strip(), result
    return json.loads(result.out)


def test_the_cluster_commands_json_has_camel_case_keys_only(cluster) -> None:  # noqa: F811
    from test_cli_cluster_context import gateway_crd

    cluster.server.put(gateway_crd())
    cluster.server.put(namespace(NS))
    cluster.server.deployment_controller = "ready"
    runs = [("version",), ("status",), ("precheck",), ("node", "preflight"), ("enable-ns", NS),
            ("waypoint", "apply", "-n", NS), ("waypoint", "list", "-A"), ("waypoint", "status", "-n", NS),
            ("waypoint", "delete", "-n", NS), ("disable-ns", NS), ("uninstall", "--dry-run")]
    for args in runs:
        result = _once_it_answers(cluster, args) if args[:2] == ("waypoint", "status") else \
            cluster.kmeshctl(*args, "-o", "json")
        assert result.code in (0, 1), (args, result)  # 1: a check failed (the document says which)
        assert list(snake_keys(_document(result))) == [], (args, result.out)


def _once_it_answers(cluster: Any, args: tuple[str, ...]) -> Any:  # noqa: F811
    """``args`` -o json once the stand-in's Deployment controller has made the pods (a
    timer of its own): until then `waypoint status` says the waypoint has no pods."""
    import time

    deadline = time.monotonic() + 10
    while True:
        result = cluster.kmeshctl(*args, "-o", "json")
        if result.out.strip() or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_sandbox_list_json_has_camel_case_keys_only(state_root, capsys, no_env) -> None:  # noqa: F811
    _record("f19j-a")
    code, out, err = cli(capsys, "sandbox", "list", "-o", "json")
    assert code == 0 and json.loads(out), (code, out, err)
    assert list(snake_keys(json.loads(out))) == [], out


# ------------------------------------------------------------------ dump config

SERVICE = {"name": "fortio", "namespace": "default", "hostname": "fortio.default.svc.cluster.local",
           "addresses": ["10.96.0.10"], "ports": [{"service_port": 80, "target_port": 8080}],
           "ip_families": "IPV4_ONLY", "load_balancing": {"mode": "FAILOVER", "routing_preference": ["ZONE"]},
           "waypoint": {"hostname": {"namespace": "default", "hostname": "waypoint.default.svc.cluster.local"},
                        "hbone_mtls_port": 15008}}
SERVICE_KEY = "default/fortio.default.svc.cluster.local"
WORKLOAD = {"uid": "Kubernetes//Pod/default/fortio-v1-0", "addresses": ["10.244.0.3"],
            "service_account": "fortio", "trust_domain": "cluster.local", "cluster_id": "c1",
            "services": {SERVICE_KEY: {"ports": [{"service_port": 80, "target_port": 8080}]},
                         "other/my_svc.other.svc.cluster.local": {"ports": []}},
            "status": "HEALTHY", "node": "node-1"}
POLICY = {"name": "deny", "namespace": "default", "scope": "NAMESPACE", "action": "DENY", "dry_run": False,
          "rules": [{"clauses": [{"matches": [{"not_source_ips": ["10.0.0.0/8"]}]}]}]}
CACHE = {"services": [SERVICE], "workloads": [WORKLOAD], "policies": [POLICY],
         "enrolled": [{"cookie": 7, "pod": "default/fortio-v1-0", "netns": "/proc/1/ns/net"}],
         "node": {"name": "node-1", "locality_source": "node labels", "locality": {"region": "r1"}}}


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_dump_config_keys_are_camel_case_and_services_keep_their_names(output: str, serve, capsys,  # noqa: F811
                                                                       state_root, no_env) -> None:  # noqa: F811
    port = serve({config_dump.CACHE_PATH: (200, json.dumps(CACHE).encode(), "application/json")})
    code, out, err = cli(capsys, "dump", "config", "--admin-port", str(port), "-o", output)
    assert code == 0, err
    data = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert list(snake_keys(data)) == [], out
    [service], [workload], [policy] = data["services"], data["workloads"], data["policies"]
    assert service["ports"] == [{"servicePort": 80, "targetPort": 8080}]
    assert service["waypoint"]["hboneMtlsPort"] == 15008
    assert service["loadBalancing"] == {"mode": "FAILOVER", "routingPreference": ["ZONE"]}
    assert workload["serviceAccount"] == "fortio" and workload["clusterId"] == "c1"
    assert set(workload["services"]) == {SERVICE_KEY, "other/my_svc.other.svc.cluster.local"}  # names, as given
    assert policy["dryRun"] is False and policy["rules"][0]["clauses"][0]["matches"] == [{"notSourceIps":
                                                                                             ["10.0.0.0/8"]}]
    assert data["node"]["localitySource"] == "node labels"


def test_dump_config_tables_still_read_the_agents_own_names(serve, capsys, state_root, no_env) -> None:  # noqa: F811
    port = serve({config_dump.CACHE_PATH: (200, json.dumps(CACHE).encode(), "application/json")})
    code, out, err = cli(capsys, "dump", "config", "--admin-port", str(port), "-o", "wide")
    assert code == 0, err
    assert "80->8080" in out and "waypoint.default.svc.cluster.local:15008" in out, out
    assert "FAILOVER ZONE" in out, out


# ------------------------------------------------------------------ dump maps


def _maps_json() -> dict[str, Any]:
    """`dump maps -o json`'s data of a realistic row of every map (the maps need root)."""
    dumps = [dump.MapDump(dump.SPECS_BY_NAME[name], rows) for name, rows in _entries().items()]
    return dump.to_json(dumps, _Ids(), {COOKIE: POD_OF_COOKIE})  # type: ignore[arg-type]


def test_dump_maps_keys_are_camel_case_and_map_names_kept() -> None:
    shown = dump.maps_output(_maps_json())
    assert list(snake_keys(shown)) == [], shown
    assert set(shown) == {*MAP_NAMES, dump.SIZES} and set(shown[dump.SIZES]) == set(MAP_NAMES)
    [manage] = shown["km_manage"]
    assert manage["key"] == {"netnsCookie": COOKIE, "pod": {"namespace": "default",
                                                            "name": POD_OF_COOKIE.split("/")[1]}}
    service = shown["km_service"][0]
    assert {"serviceId", "serviceName"} <= set(service["key"])
    assert {"servicePort", "targetPort", "waypointId", "prioEndpointCount", "lbPolicy"} <= set(service["value"])
    assert {"backendUid", "backendName"} <= set(shown["km_endpoint"][0]["value"])
    assert shown[dump.SIZES]["km_frontend"] == {"entries": 2, "capacity": dump.FRONTEND.max_entries}


def test_dump_maps_camel_case_json_decodes_back_to_the_same_rows() -> None:
    shown = dump.maps_output(_maps_json())
    for name, rows in _entries().items():
        assert [dump.entry_from_json(name, entry) for entry in shown[name]] == rows, name


def test_dump_maps_of_an_agent_is_camel_case_with_pods_named() -> None:
    agent = _maps_json()  # what the agent's /debug/config_dump/bpf/dual-engine answers: C field names
    assert "netns_cookie" in agent["km_manage"][0]["key"]
    shown = dump.maps_output(dump.with_pods(agent, {COOKIE: "ns/p"}))
    assert list(snake_keys(shown)) == [] and shown["km_manage"][0]["key"]["pod"] == {"namespace": "ns", "name": "p"}


@pytest.mark.parametrize("name, camel", [("netns_cookie", "netnsCookie"), ("hbone_mtls_port", "hboneMtlsPort"),
                                         ("addr4", "addr4"), ("default/a_b", "default/a_b"),
                                         ("dryRun", "dryRun"), ("A_B", "A_B")])
def test_camel_turns_snake_case_names_only(name: str, camel: str) -> None:
    assert dump.camel(name) == camel
