"""This node's locality from its Kubernetes Node's topology labels, read through the
stand-in API server (no real API server runs here); the fallback when it cannot be read."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import pytest
from kubernetes import client as k8s

from kmeshctl.node import model
from kmeshctl.node.agent import Agent, AgentConfig
from kmeshctl.node.locality import (REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL, locality_from_labels,
                               read_node_locality)
from kmeshctl.xds.client import Identity
from standin_apiserver import StandinApiServer, core_v1_client

NODE = "node-1"


def node_object(name: str, labels: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[StandinApiServer, k8s.CoreV1Api]]:
    server = StandinApiServer().start()
    try:
        yield server, core_v1_client(server, tmp_path)
    finally:
        server.stop()


def agent(node_name: str = NODE) -> Agent:
    return Agent(AgentConfig(identity=Identity("10.0.0.4", "kmesh-x", "kmesh-system", cluster_id="c1",
                                               node_name=node_name)))


def test_labels_to_locality() -> None:
    full = {REGION_LABEL: "cn-hangzhou", ZONE_LABEL: "cn-hangzhou-h", SUBZONE_LABEL: "rack-7", "x": "y"}
    assert locality_from_labels(full) == model.Locality(
        region="cn-hangzhou", zone="cn-hangzhou-h", subzone="rack-7")
    assert locality_from_labels({REGION_LABEL: "r1"}) == model.Locality(region="r1")
    assert locality_from_labels({"kubernetes.io/hostname": NODE}) is None


def test_agent_takes_the_locality_from_its_node_labels(api) -> None:
    server, core = api
    server.put(node_object(NODE, {REGION_LABEL: "r1", ZONE_LABEL: "z1", SUBZONE_LABEL: "s1"}))
    server.put(node_object("node-2", {REGION_LABEL: "r2", ZONE_LABEL: "z2"}))
    node = agent().node_info(core)
    assert node.locality == model.Locality(region="r1", zone="z1", subzone="s1")
    assert (node.node_name, node.cluster_id) == (NODE, "c1")
    reads = [r for r in server.requests if "/nodes" in r.path]
    assert [(r.method, r.path) for r in reads] == [("GET", f"/api/v1/nodes/{NODE}")]  # rbac: get only


def test_node_without_topology_labels_falls_back_to_the_cache(api) -> None:
    server, core = api
    server.put(node_object(NODE, {"kubernetes.io/hostname": NODE}))
    assert agent().node_info(core).locality is None  # None: MapSync learns it from a local workload


def test_unreadable_node_falls_back_and_says_why(api, caplog: pytest.LogCaptureFixture) -> None:
    server, core = api
    with caplog.at_level(logging.WARNING, logger="kmeshctl.locality"):
        assert read_node_locality(core, "no-such-node") is None
    [record] = caplog.records
    assert "event=node_locality_unavailable node=no-such-node" in record.getMessage()
    assert "404" in record.getMessage() and "fallback=workload_on_this_node" in record.getMessage()
    server.stop()  # the API server goes away: a transport error is no reason to stop either
    assert read_node_locality(core, NODE) is None


def test_without_kubernetes_the_locality_is_learnt() -> None:
    node = agent().node_info(None)
    assert node.locality is None and node.node_name == NODE
