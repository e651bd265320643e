"""`kmeshctl dump maps`, the map mirror's error handling, the id registry and the BPF log,
against a real loaded data path (compiled with the BPF log on)."""

from __future__ import annotations

import ipaddress
import json
import time
from typing import Iterator

import pytest
from typer.testing import CliRunner

from bpf_testlib import LoadedEnv, connect, loaded_dataplane, pod_network
from kmeshctl import dump as dumper
from kmeshctl.cli import app
from kmeshctl.node.ids import IdRegistry, fnv1a_32
from kmeshctl.maps import (MAX_MANAGED, BackendValue, BadEntryError, DataplaneMaps, IdKind,
                           IdRegKey, IdRegValue, LbPolicy, LogEvent, ManageKey, ManageValue,
                           MapFullError, Reason, ServiceValue, Tunnel, WaypointHeader)

pytestmark = pytest.mark.root

runner = CliRunner()


@pytest.fixture(scope="module")
def dp(run_id: str) -> Iterator[LoadedEnv]:
    yield from loaded_dataplane(run_id, "dump", enable_bpf_log=True)


@pytest.fixture(scope="module")
def written(dp: LoadedEnv) -> dict[str, set]:
    """A small mesh written through the public API; what each map should now hold."""
    maps, ids = dp.maps, IdRegistry(dp.maps)
    web = ids.service_id("shop/web.shop.svc.cluster.local")
    api = ids.service_id("shop/api.shop.svc.cluster.local")
    pods = {f"Kubernetes//Pod/shop/web-{i}": ipaddress.ip_address(f"10.1.0.{i + 10}")
            for i in range(3)}
    uids = {uid: ids.backend_id(uid) for uid in pods}
    wp_proxy = ids.backend_id("Kubernetes//Pod/shop/waypoint-0")
    wp_tlv = ids.backend_id("Kubernetes//Pod/shop/waypoint-1")
    uids["Kubernetes//Pod/shop/waypoint-0"] = wp_proxy
    uids["Kubernetes//Pod/shop/waypoint-1"] = wp_tlv
    backends = {uids[u]: BackendValue(ip, service=(web,)) for u, ip in pods.items()}
    backends[uids["Kubernetes//Pod/shop/web-2"]] = BackendValue(
        pods["Kubernetes//Pod/shop/web-2"], service=(web, api), waypoint_id=wp_tlv)
    backends[wp_proxy] = BackendValue((ipaddress.ip_address("10.1.0.99"), ipaddress.ip_address("fd00::99")),
                                      tunnel=Tunnel(15021, WaypointHeader.PROXY_V2))
    backends[wp_tlv] = BackendValue(ipaddress.ip_address("10.1.0.98"))
    for uid, value in backends.items():
        maps.set_backend(uid, value)
    b = list(uids.values())
    web_value = maps.write_service(web, ServiceValue(ports=((80, 8080), (443, 8443))), [[b[0], b[1]], [b[2]]])
    api_value = maps.write_service(api, ServiceValue(lb_policy=LbPolicy.FAILOVER, ports=((9000, 9000),),
                                                     waypoint_id=wp_proxy), [[], [b[2]]])
    maps.set_frontend("10.96.0.10", web)
    maps.set_frontend("fd00::10", api)
    maps.enroll(4242)
    return {
        "km_service": {(web, web_value), (api, api_value)},
        "km_backend": set(backends.items()),
        "km_endpoint": {(web, 0, 1, b[0]), (web, 0, 2, b[1]), (web, 1, 1, b[2]), (api, 1, 1, b[2])},
        "km_frontend": {(ipaddress.ip_address("10.96.0.10"), web), (ipaddress.ip_address("fd00::10"), api)},
        "km_manage": {4242},
        "wp_proxy": wp_proxy,
        "names": {"shop/web.shop.svc.cluster.local", "shop/api.shop.svc.cluster.local", *pods,
                  "Kubernetes//Pod/shop/waypoint-0", "Kubernetes//Pod/shop/waypoint-1"},
    }


def _dump_cli(dp: LoadedEnv, *args: str) -> str:
    result = runner.invoke(app, ["dump", "maps", "--bpf-fs", str(dp.bpf_fs), *args],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_dump_json_round_trips_what_was_written(dp: LoadedEnv, written: dict) -> None:
    data = json.loads(_dump_cli(dp, "-o", "json"))
    sizes = data.pop("sizes")  # each map's entries and capacity, as the table titles (h62)
    assert set(data) == {"km_frontend", "km_service", "km_endpoint", "km_backend", "km_manage",
                         "km_socket", "km_idreg", "km_authz_dst", "km_authz_port", "km_authz_rule",
                         "km_authz_pol", "km_authz_stats"} == set(sizes)
    assert all(sizes[name]["entries"] == len(entries) and sizes[name]["capacity"] > 0 for name, entries in data.items())
    decoded = {name: [dumper.entry_from_json(name, e) for e in entries] for name, entries in data.items()}
    assert {(k.service_id, v) for k, v in decoded["km_service"]} == written["km_service"]
    assert {(k.backend_uid, v) for k, v in decoded["km_backend"]} == written["km_backend"]
    assert {(k.service_id, k.prio, k.backend_index, v.backend_uid)
            for k, v in decoded["km_endpoint"]} == written["km_endpoint"]
    assert {(k.addr, v.upstream_id) for k, v in decoded["km_frontend"]} == written["km_frontend"]
    assert {k.netns_cookie for k, _ in decoded["km_manage"]} == written["km_manage"]
    assert {v.name for _, v in decoded["km_idreg"]} == written["names"]


def test_dump_json_uses_c_field_names_in_camel_case_and_resolves_ids(dp: LoadedEnv, written: dict) -> None:
    data = json.loads(_dump_cli(dp, "--map", "km_service", "-o", "json"))
    assert list(data) == ["km_service", "sizes"] and list(data["sizes"]) == ["km_service"]
    api = next(e for e in data["km_service"] if e["key"]["serviceName"].startswith("shop/api"))
    assert api["value"] == {
        "prioEndpointCount": [0, 1, 0, 0, 0, 0, 0], "lbPolicy": "FAILOVER",
        "servicePort": [9000], "targetPort": [9000], "waypointId": written["wp_proxy"],
        "waypointName": "Kubernetes//Pod/shop/waypoint-0"}
    backends = json.loads(_dump_cli(dp, "--map", "km_backend", "-o", "json"))["km_backend"]
    wp = next(e for e in backends if e["key"]["backendName"] == "Kubernetes//Pod/shop/waypoint-0")
    assert wp["value"] == {"addr4": "10.1.0.99", "addr6": "fd00::99", "service": [], "serviceCount": 0,
                           "waypointId": 0, "tunnelPort": 15021, "tunnelHdr": "PROXY_V2",
                           "waypointUnresolved": False, "serviceNames": [], "waypointName": None}
    front = json.loads(_dump_cli(dp, "--map", "km_frontend", "-o", "json"))["km_frontend"]
    v6 = next(e for e in front if e["key"]["addr"] == "fd00::10")
    assert v6["value"]["upstreamName"] == "shop/api.shop.svc.cluster.local"
    assert v6["value"]["upstreamKind"] == "SERVICE"


def test_dump_table_renders_readable_fields(dp: LoadedEnv, written: dict) -> None:
    out = _dump_cli(dp)
    for text in ("km_service", "shop/web.shop.svc.cluster.local", "RANDOM", "FAILOVER",
                 "80->8080", "Kubernetes//Pod/shop/waypoint-0", "10.1.0.99, fd00::99",
                 "10.96.0.10", "fd00::10", "Kubernetes//Pod/shop/web-1", "4242"):
        assert text in out, text
    wide = _dump_cli(dp, "-o", "wide")  # the tunnel a backend takes as a waypoint is a detail column
    assert "15021 (PROXY v2)" not in out and "AS A WAYPOINT" not in out, out
    for text in ("15021 (PROXY v2)", str(written["wp_proxy"])):
        assert text in wide, text
    assert "15019 (Kmesh TLV)" not in wide, wide  # tunnel_port 0 in the map: no tunnel shown (h89)
    # the waypoint's id is the wide-only WAYPOINT ID column's (h62)
    assert f"{written['wp_proxy']} (BACKEND)" in wide and "WAYPOINT ID" in wide, wide
    assert f"(backend {written['wp_proxy']})" not in out and "WAYPOINT ID" not in out, out


def test_dump_unknown_map_is_a_usage_error(dp: LoadedEnv) -> None:
    result = runner.invoke(app, ["dump", "maps", "--bpf-fs", str(dp.bpf_fs), "--map", "nope"])
    assert result.exit_code == 2 and "not an accepted value; use one of km_frontend" in result.output


def test_ids_survive_a_new_registry_and_probe_on_collision(dp: LoadedEnv, written: dict) -> None:
    first = IdRegistry(dp.maps)
    web = first.service_id("shop/web.shop.svc.cluster.local")
    assert IdRegistry(DataplaneMaps(dp.bpf_fs)).service_id("shop/web.shop.svc.cluster.local") == web
    # occupy the hash slot of a new name: the name gets the next free id
    name = "shop/collide.shop.svc.cluster.local"
    slot = fnv1a_32(name.encode())
    dp.maps.idreg.update(IdRegKey(slot), IdRegValue(IdKind.BACKEND, "someone-else"))
    registry = IdRegistry(dp.maps)
    assert registry.service_id(name) == slot + 1
    assert registry.name_of(slot + 1) == name
    assert registry.release(name) and registry.release("someone-else")
    assert IdRegistry(dp.maps).name_of(slot + 1) is None


def test_bad_entry_is_refused_before_any_write(dp: LoadedEnv) -> None:
    before = len(dp.maps.endpoint)
    with pytest.raises(BadEntryError, match="TCP port"):
        dp.maps.write_service(77, ServiceValue(ports=((80, 70000),)), [[1, 2]])
    with pytest.raises(BadEntryError, match="at most 10"):
        ServiceValue(ports=tuple((p, p) for p in range(1, 12)))
    assert len(dp.maps.endpoint) == before


def test_full_map_is_a_clear_error(dp: LoadedEnv) -> None:
    manage = dp.maps.manage
    existing = len(manage)
    fill = [(ManageKey(10_000_000 + i), ManageValue()) for i in range(MAX_MANAGED - existing)]
    try:
        manage.update_batch(fill)
        with pytest.raises(MapFullError, match="km_manage is full"):
            dp.maps.enroll(99_999_999)
    finally:
        for key, _ in fill:
            manage.delete(key)


def test_bpf_log_reports_decisions(run_id: str, dp: LoadedEnv, written: dict) -> None:
    events: list[LogEvent] = []
    dp.dataplane.on_log(events.append)
    for net in pod_network(f"km{run_id}l", "10.78.0.0/24", dp.cgroup):
        client = net.add_pod("client")
        cookie = client.netns_cookie()
        dp.maps.enroll(cookie)
        # the backend pod does not exist: the connect fails, but the decision is logged
        connect(client, "10.96.0.10", 80, timeout=0.5)
        deadline = time.monotonic() + 5
        while not any(e.netns_cookie == cookie for e in events) and time.monotonic() < deadline:
            dp.dataplane.poll_log(100)
        dp.maps.unenroll(cookie)
    mine = [e for e in events if e.netns_cookie == cookie]
    assert mine, events
    event = mine[0]
    assert (str(event.orig_addr), event.orig_port) == ("10.96.0.10", 80)
    assert event.reason in (Reason.ENDPOINT, Reason.BACKEND_WAYPOINT)
    assert event.new_port in (8080, 15019)
    assert str(event.new_addr).startswith("10.1.0.")
