"""Watches of the stand-in API server behave like the real API server's ("efficient
detection of changes"): chunked JSON-lines events after a resourceVersion, synthetic
ADDED events without one, selector transitions, DELETED at the deletion's version,
410 Gone after compaction, bookmarks, timeouts, and dropped streams; read both raw and
through the `kubernetes` client's Watch, which the node agent uses."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest
from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.rest import ApiException

from standin import TOKEN, StandinApiServer, core_v1_client, namespace, node, tls


def pod(name: str, ns: str = "ns", node: str = "node-1", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "x"}]}}


class RawWatch:
    """A watch request read line by line, as the bytes arrive."""

    def __init__(self, server: StandinApiServer, path: str) -> None:
        self.conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=tls.client_context())
        self.conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        self.response = self.conn.getresponse()

    def next(self) -> Optional[dict]:
        line = self.response.readline()
        return json.loads(line) if line else None

    def rest(self) -> list[dict]:
        events = []
        while (event := self.next()) is not None:
            events.append(event)
        return events

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[StandinApiServer, k8s.CoreV1Api]]:
    server = StandinApiServer().start()
    server.put(namespace("ns"))
    server.put(namespace("other"))
    try:
        yield server, core_v1_client(server, tmp_path)
    finally:
        server.stop()


def later(action, delay: float = 0.2) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), action()))
    thread.start()
    return thread


def test_list_version_then_watch_streams_each_change_once_in_order(api) -> None:
    server, _ = api
    server.put(pod("before"))
    listed = RawWatch(server, "/api/v1/namespaces/ns/pods")  # a plain list
    collection = json.loads(listed.response.read())
    listed.close()
    since = collection["metadata"]["resourceVersion"]
    assert [p["metadata"]["name"] for p in collection["items"]] == ["before"]

    stream = RawWatch(server, f"/api/v1/namespaces/ns/pods?watch=1&resourceVersion={since}&timeoutSeconds=2")
    assert stream.response.status == 200
    assert stream.response.getheader("Transfer-Encoding") == "chunked"
    assert stream.response.getheader("Content-Type") == "application/json"
    created = server.put(pod("a", app="x"))
    server.put(pod("a", app="y"))
    server.put(pod("elsewhere", ns="other"))
    server.delete_object("v1", "Pod", "a", "ns")
    events = stream.rest()  # ends cleanly at timeoutSeconds
    stream.close()
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] == int(created["metadata"]["resourceVersion"])
    assert events[1]["object"]["metadata"]["labels"] == {"app": "y"}
    # The DELETED object is the last state at the version of the deletion itself.
    assert events[2]["object"]["metadata"]["labels"] == {"app": "y"}
    assert versions[2] == server.revision


def test_without_a_version_existing_objects_come_first_as_added(api) -> None:
    server, _ = api
    server.put(pod("one"))
    server.put(pod("two"))
    for query in ("", "&resourceVersion=0"):
        stream = RawWatch(server, f"/api/v1/namespaces/ns/pods?watch=true&timeoutSeconds=1{query}")
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in [stream.next(), stream.next()]] == \
            [("ADDED", "one"), ("ADDED", "two")]
        later(lambda: server.put(pod("three")), 0.1).join()
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in stream.rest()] == [("ADDED", "three")]
        stream.close()
        server.delete_object("v1", "Pod", "three", "ns")


def test_selectors_turn_label_changes_into_added_and_deleted(api) -> None:
    server, _ = api
    since = str(server.revision)
    stream = RawWatch(server, "/api/v1/pods?watch=1&timeoutSeconds=2&labelSelector=mesh%3Dyes"
                              f"&fieldSelector=spec.nodeName%3Dnode-1&resourceVersion={since}")
    server.put(pod("a", mesh="no"))
    server.put(pod("a", mesh="yes"))  # starts matching
    server.put(pod("b", ns="other", mesh="yes"))  # all namespaces
    server.put(pod("c", node="node-2", mesh="yes"))  # another node
    server.put(pod("a", mesh="no"))  # stops matching
    revision_of_change = server.revision
    events = stream.rest()
    stream.close()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == \
        [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    # Stopping to match: the last matching state, at the version of the change.
    assert events[2]["object"]["metadata"]["labels"] == {"mesh": "yes"}
    assert events[2]["object"]["metadata"]["resourceVersion"] == str(revision_of_change)


def test_a_compacted_version_gets_410_gone_and_the_client_relists(api) -> None:
    server, core = api
    old = core.list_namespaced_pod("ns").metadata.resource_version
    server.put(pod("a"))
    server.compact()
    stream = RawWatch(server, f"/api/v1/namespaces/ns/pods?watch=1&resourceVersion={old}")
    assert stream.response.status == 200  # the error arrives as an event of the stream
    [error] = stream.rest()
    stream.close()
    assert error["type"] == "ERROR"
    status = error["object"]
    assert (status["kind"], status["status"], status["code"], status["reason"]) == ("Status", "Failure", 410, "Expired")
    assert status["message"] == f"too old resource version: {old} ({server.revision})"
    with pytest.raises(ApiException) as gone:
        list(watch.Watch().stream(core.list_namespaced_pod, "ns", resource_version=old, timeout_seconds=1))
    assert gone.value.status == 410
    fresh = core.list_namespaced_pod("ns").metadata.resource_version  # what a client does next
    later(lambda: server.put(pod("b")))
    events = list(watch.Watch().stream(core.list_namespaced_pod, "ns", resource_version=fresh, timeout_seconds=1))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "b")]


def test_an_open_watch_keeps_its_events_through_a_compaction(api) -> None:
    server, _ = api
    stream = RawWatch(server, f"/api/v1/namespaces/ns/pods?watch=1&timeoutSeconds=1&resourceVersion={server.revision}")
    for name in ("a", "b", "c"):
        server.put(pod(name))
    server.compact()  # what the watch was handed stays its own, as in the real watch cache
    assert [e["object"]["metadata"]["name"] for e in stream.rest()] == ["a", "b", "c"]
    stream.close()


def test_bookmarks_carry_only_the_version_and_keep_a_quiet_watch_resumable(api) -> None:
    server, _ = api
    server.bookmark_interval = 0.3
    since = str(server.revision)
    stream = RawWatch(server, f"/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=2"
                              f"&fieldSelector=spec.nodeName%3Dnode-1&resourceVersion={since}")
    for index in range(5):  # changes this watch does not care about move the version on
        server.put(pod(f"x{index}", node="node-2"))
    events = stream.rest()
    stream.close()
    marks = [e for e in events if e["type"] == "BOOKMARK"]
    assert marks and len(marks) == len(events)
    assert marks[-1]["object"] == {"kind": "Pod", "apiVersion": "v1",
                                   "metadata": {"resourceVersion": str(server.revision)}}
    server.compact()
    resumed = RawWatch(server, f"/api/v1/pods?watch=1&timeoutSeconds=1&fieldSelector=spec.nodeName%3Dnode-1"
                               f"&resourceVersion={marks[-1]['object']['metadata']['resourceVersion']}")
    assert resumed.rest() == []  # still valid, while the version the watch started at is gone
    resumed.close()
    expired = RawWatch(server, f"/api/v1/pods?watch=1&resourceVersion={since}")
    assert expired.rest()[0]["object"]["code"] == 410
    expired.close()


def test_without_bookmarks_asked_none_are_sent(api) -> None:
    server, _ = api
    server.bookmark_interval = 0.1
    stream = RawWatch(server, f"/api/v1/pods?watch=1&timeoutSeconds=1&resourceVersion={server.revision}")
    assert stream.rest() == []
    stream.close()


def test_the_stand_in_can_end_or_cut_open_watches(api) -> None:
    server, _ = api
    clean = RawWatch(server, f"/api/v1/pods?watch=1&resourceVersion={server.revision}")
    cut = RawWatch(server, f"/api/v1/namespaces?watch=1&resourceVersion={server.revision}")
    deadline = time.monotonic() + 5
    while len(server.open_watches()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {w.request.resource.plural for w in server.open_watches()} == {"pods", "namespaces"}
    assert server.drop_watches(clean=True, plural="pods") == 1
    assert clean.response.read() == b""  # the terminating chunk: a normal end, as at a timeout
    clean.close()
    assert server.drop_watches() == 1
    with pytest.raises(http.client.IncompleteRead):  # no terminating chunk: cut mid-stream
        cut.response.read()
    cut.close()
    assert [w.outcome for w in server.watches] == ["clean", "abrupt"]


def test_a_watch_on_one_object_and_bad_parameters(api) -> None:
    server, _ = api
    server.put(pod("a"))
    server.put(pod("b"))
    stream = RawWatch(server, "/api/v1/namespaces/ns/pods/b?watch=1&timeoutSeconds=1")
    later(lambda: (server.put(pod("a", v="2")), server.put(pod("b", v="2")))).join()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in stream.rest()] == \
        [("ADDED", "b"), ("MODIFIED", "b")]
    stream.close()
    initial = RawWatch(server, "/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan")
    assert initial.response.status == 422  # a 1.30 server without the WatchList feature gate
    assert "WatchList feature gate" in json.loads(initial.response.read())["message"]
    initial.close()
    bad = RawWatch(server, "/api/v1/pods?watch=1&resourceVersion=abc")
    assert bad.response.status == 400
    bad.close()


def test_history_is_bounded_like_etcd(api) -> None:
    server, core = api
    server.events.history_limit = 5
    old = core.list_namespaced_pod("ns").metadata.resource_version
    for index in range(10):
        server.put(pod(f"p{index}"))
    with pytest.raises(ApiException) as gone:
        list(watch.Watch().stream(core.list_namespaced_pod, "ns", resource_version=old, timeout_seconds=1))
    assert gone.value.status == 410
    recent = str(server.revision - 3)
    events = list(watch.Watch().stream(core.list_namespaced_pod, "ns", resource_version=recent, timeout_seconds=1))
    assert [e["object"].metadata.name for e in events] == ["p7", "p8", "p9"]


def test_controllers_objects_arrive_as_events_the_typed_client_accepts(api) -> None:
    server, core = api
    server.deployment_controller, server.controller_delay = "ready", 0.0
    server.put(node("node-1"))
    since = core.list_namespaced_pod("ns").metadata.resource_version
    labels = {"app": "web"}
    server.put({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
                "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels},
                                      "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    events = list(watch.Watch().stream(core.list_namespaced_pod, "ns", resource_version=since, timeout_seconds=1))
    pods = {e["object"].metadata.name for e in events}
    assert len(pods) == 2
    for name in pods:  # the kubelet's part: created Pending on the node, then Running with an IP
        mine = [e for e in events if e["object"].metadata.name == name]
        assert [e["type"] for e in mine] == ["ADDED", "MODIFIED"]
        assert mine[0]["object"].spec.node_name == "node-1"
        running = mine[1]["object"]
        assert running.status.phase == "Running" and running.status.pod_ip
        assert running.status.container_statuses[0].image_id.startswith("nginx@sha256:")
        assert running.metadata.owner_references[0].kind == "ReplicaSet"
    apps = k8s.AppsV1Api(core.api_client)
    assert apps.read_namespaced_deployment("web", "ns").status.ready_replicas == 2
    [replicaset] = apps.list_namespaced_replica_set("ns").items
    assert replicaset.metadata.labels["pod-template-hash"] in replicaset.metadata.name
    assert core.read_node("node-1").status.node_info.kernel_version
    since = core.list_namespaced_pod("ns").metadata.resource_version
    apps.delete_namespaced_deployment("web", "ns")  # the garbage collector takes the rest
    events = list(watch.Watch().stream(core.list_namespaced_pod, "ns", resource_version=since, timeout_seconds=1))
    assert sorted((e["type"], e["object"].metadata.name) for e in events) == sorted(("DELETED", p) for p in pods)
    assert apps.list_namespaced_replica_set("ns").items == []
