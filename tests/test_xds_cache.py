"""The workload cache: exact deltas, indexes, JSON dump."""

from __future__ import annotations

from ipaddress import ip_address

from kmeshctl.node.workload_cache import WorkloadCache
from kmeshctl.xds.builders import addresses, service, waypoint_hostname, workload
from kmeshctl.xds.convert import models, service_of, workload_of
from kmeshctl.xds.protos import workload_pb2

KEY = "default/web.default.svc.cluster.local"


def web(**kw) -> workload_pb2.Service:
    return service("default", "web.default.svc.cluster.local", "10.96.0.5", [(80, 8080)], **kw)


def pod(n: int, **kw) -> workload_pb2.Workload:
    return workload(f"Kubernetes//Pod/default/web-{n}", f"10.0.0.{n}", {KEY: [(80, 8080)]}, **kw)


def test_deltas_hold_only_real_changes_with_old_and_new() -> None:
    cache = WorkloadCache()
    first = cache.apply_addresses(models(addresses(web(), pod(1))), [])
    assert set(first.services) == {KEY} and first.services[KEY].old is None
    assert not cache.apply_addresses(models(addresses(web(), pod(1))), [])  # same content: empty delta
    changed = cache.apply_addresses(models(addresses(web(mode=1))), [])
    assert changed.services[KEY].old.load_balancing.mode == 0
    assert changed.services[KEY].new.load_balancing.mode == 1
    removed = cache.apply_addresses({}, ["Kubernetes//Pod/default/web-1", "never-there"])
    assert list(removed.workloads) == ["Kubernetes//Pod/default/web-1"]
    assert removed.workloads["Kubernetes//Pod/default/web-1"].new is None


def test_an_untracked_update_says_everything_and_keeps_no_changes() -> None:
    cache = WorkloadCache()
    first = cache.apply_addresses(models(addresses(web(), pod(1), pod(2))), [], track=False)
    assert first and first.everything and not (first.services or first.workloads)
    assert set(cache.workloads) == {"Kubernetes//Pod/default/web-1", "Kubernetes//Pod/default/web-2"}
    assert cache.members(KEY) == set(cache.workloads)  # indexed as when tracked
    later = cache.apply_addresses({}, ["Kubernetes//Pod/default/web-2"])
    assert not later.everything and list(later.workloads) == ["Kubernetes//Pod/default/web-2"]
    first.merge(later)
    assert first.everything and list(first.workloads) == ["Kubernetes//Pod/default/web-2"]


def test_indexes_follow_updates() -> None:
    cache = WorkloadCache()
    cache.apply_addresses(models(addresses(web(), pod(1), pod(2, node="n1"))), [])
    assert cache.members(KEY) == {"Kubernetes//Pod/default/web-1", "Kubernetes//Pod/default/web-2"}
    assert [w.uid for w in cache.workloads_by_address(ip_address("10.0.0.2"))] == ["Kubernetes//Pod/default/web-2"]
    assert [s.hostname for s in cache.services_by_address(ip_address("10.96.0.5"))] == ["web.default.svc.cluster.local"]
    assert [w.uid for w in cache.workloads_on_node("n1")] == ["Kubernetes//Pod/default/web-2"]
    moved = workload("Kubernetes//Pod/default/web-2", "10.0.0.9", {})
    cache.apply_addresses(models(addresses(moved)), [])
    assert cache.members(KEY) == {"Kubernetes//Pod/default/web-1"}
    assert cache.workloads_by_address(ip_address("10.0.0.2")) == []
    assert cache.workloads_on_node("n1") == []


def test_waypoint_users_are_indexed() -> None:
    cache = WorkloadCache()
    cache.apply_addresses(models(addresses(web(waypoint=waypoint_hostname("default", "wp.default.svc")), pod(1))), [])
    assert cache.with_waypoint == {("s", KEY)}
    cache.apply_addresses(models(addresses(web())), [])
    assert cache.with_waypoint == set()


def test_a_name_switching_kind_is_removed_from_the_other_kind() -> None:
    cache = WorkloadCache()
    cache.apply_addresses({"x": workload_of(workload("x", "10.0.0.1", {}))}, [])
    svc = service("ns", "x", "10.96.0.1", [(80, 80)])
    delta = cache.apply_addresses({"x": service_of(svc)}, [])
    assert "x" in cache.services and "x" not in cache.workloads
    assert delta.workloads["x"].new is None and delta.services["x"].new.hostname == "x"


def test_a_pod_ip_change_touches_one_workload_and_parses_nothing() -> None:
    """Issue 10: the cache holds model objects; an update compares and indexes only the
    changed workload (no protobuf anywhere past the door)."""
    cache = WorkloadCache()
    cache.apply_addresses(models(addresses(web(), *(pod(n) for n in range(1, 200)))), [])
    moved = workload_of(workload("Kubernetes//Pod/default/web-7", "10.0.9.7", {KEY: [(80, 8080)]}))
    delta = cache.apply_addresses({moved.uid: moved}, [])
    assert list(delta.workloads) == [moved.uid] and not delta.services
    assert cache.workloads_by_address(ip_address("10.0.9.7")) == [moved]
    assert cache.workloads_by_address(ip_address("10.0.0.7")) == []


def test_json_dump_shows_addresses_as_text() -> None:
    cache = WorkloadCache()
    cache.apply_addresses(models(addresses(web(), pod(1))), [])
    dump = cache.to_json()
    assert dump["services"][0]["addresses"] == ["10.96.0.5"]
    assert dump["workloads"][0]["addresses"] == ["10.0.0.1"]
    assert dump["workloads"][0]["services"][KEY]["ports"] == [{"service_port": 80, "target_port": 8080}]
    assert cache.counts() == {"services": 1, "workloads": 1, "authorizations": 0}
