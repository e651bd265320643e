"""Issue 10 item 4 on the real kernel: a Service port whose target is a named port
(istiod: target_port 0 on the Service, each pod's number in its Workload's `services`
entry) resolves per pod. Two pods with `http` = 8080 and 9090 behind one Service, each
listening only on its own port: every connect reaches a listener."""

from __future__ import annotations

from collections import Counter
from typing import Iterator

import pytest

from agent_dataplane import AgentEnv, agent_env
from bpf_testlib import connect
from kmeshctl.maps import EndpointKey, ServiceKey
from kmeshctl.node.translate import endpoint_targets
from kmeshctl.xds.convert import workload_of
from kmeshctl.xds.builders import service, workload

SUBNET = "10.80.0.0/24"
SUBNET6 = "fd00:80::/64"
VIP = "10.80.0.201"
KEY = "default/named.default.svc.cluster.local"


def test_endpoint_targets_per_slot() -> None:
    ports = [(80, 0), (81, 8181), (82, 0)]
    wl = workload_of(workload("u", "10.0.0.1", {KEY: [(80, 8080), (82, 9292)]}))
    assert endpoint_targets(wl, KEY, ports) == (8080, 0, 9292)
    lacking = workload_of(workload("u", "10.0.0.1", {KEY: [(80, 8080)]}))
    assert endpoint_targets(lacking, KEY, ports) is None  # no number for 82: left out
    zero = workload_of(workload("u", "10.0.0.1", {KEY: [(80, 0), (82, 9292)]}))
    assert endpoint_targets(zero, KEY, ports) is None


@pytest.fixture(scope="module")
def env(run_id: str) -> Iterator[AgentEnv]:
    for env in agent_env(run_id, "named", SUBNET, SUBNET6, ["client", "n1", "n2", "n3"]):
        env.serve("n1", "serve", "n1", "8080", "7070")
        env.serve("n2", "serve", "n2", "9090", "7070")
        env.serve("n3", "serve", "n3", "7070")
        env.put(service("default", "named.default.svc.cluster.local", VIP, [(80, 0), (81, 7070)]),
                workload("Kubernetes//Pod/default/n1", env.ip("n1"), {KEY: [(80, 8080), (81, 7070)]}),
                workload("Kubernetes//Pod/default/n2", env.ip("n2"), {KEY: [(80, 9090), (81, 7070)]}),
                # no number for the named port: left out of the service
                workload("Kubernetes//Pod/default/n3", env.ip("n3"), {KEY: [(81, 7070)]}))
        yield env


@pytest.mark.root
def test_every_connect_reaches_a_listening_port(env: AgentEnv) -> None:
    results = connect(env.pods["client"], VIP, 80, count=20)
    assert [r["ok"] for r in results] == [True] * 20, results
    counts = Counter(r["reply"] for r in results)
    assert set(counts) == {"n1:8080", "n2:9090"}, counts


@pytest.mark.root
def test_maps_hold_each_pods_own_port(env: AgentEnv) -> None:
    sid = env.ids.service_id(KEY)
    value = env.maps.service.lookup(ServiceKey(sid))
    assert value.ports == ((80, 0), (81, 7070)) and value.prio_endpoint_count[0] == 2
    slots = {env.ids.name_of(s.backend_uid).rsplit("/", 1)[1]: s.target_ports
             for s in (env.maps.endpoint.lookup(EndpointKey(sid, 0, i)) for i in (1, 2))}
    assert slots == {"n1": (8080,), "n2": (9090,)}


@pytest.mark.root
def test_a_pods_new_number_is_rewritten_in_its_slot(env: AgentEnv) -> None:
    sid = env.ids.service_id(KEY)
    before = [env.maps.endpoint.lookup(EndpointKey(sid, 0, i)) for i in (1, 2)]
    env.put(workload("Kubernetes//Pod/default/n2", env.ip("n2"), {KEY: [(80, 7070), (81, 7070)]}))
    try:
        assert env.sync.last_writes == 1  # n2's slot only, in place
        after = [env.maps.endpoint.lookup(EndpointKey(sid, 0, i)) for i in (1, 2)]
        assert [a.backend_uid for a in after] == [b.backend_uid for b in before]
        n2 = env.ids.backend_id("Kubernetes//Pod/default/n2")
        assert {a.backend_uid: a.target_ports for a in after}[n2] == (7070,)
        replies = Counter(r["reply"] for r in connect(env.pods["client"], VIP, 80, count=20))
        assert set(replies) == {"n1:8080", "n2:7070"}, replies
    finally:
        env.put(workload("Kubernetes//Pod/default/n2", env.ip("n2"), {KEY: [(80, 9090), (81, 7070)]}))


@pytest.mark.root
def test_a_fixed_port_of_the_same_service_still_uses_the_service_number(env: AgentEnv) -> None:
    results = connect(env.pods["client"], VIP, 81, count=10)
    assert {r.get("reply") for r in results} <= {"n1:7070", "n2:7070"}, results
    assert all(r["ok"] for r in results), results
