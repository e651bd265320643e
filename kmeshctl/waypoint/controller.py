"""The waypoint controller (`kmeshctl waypoint controller`, a container beside Envoy in
each waypoint pod): keeps Namespaces, Services, EndpointSlices, Pods, VirtualServices
and DestinationRules in memory as a Kubernetes controller does (per kind one LIST, then a
WATCH from its resourceVersion: `kmeshctl.waypoint.informer`), builds the waypoint's Envoy
configuration with `kmeshctl.waypoint.config` when they change (a burst of events is one
build) and serves it to the Envoy of its pod over delta ADS on a unix socket (shared
emptyDir). Only what changed is pushed, so a new weight is one RouteConfiguration
update: Envoy is never restarted and no connection is dropped.

Its status port (default 15020) answers:
  /ready   200 once every served kind was listed and Envoy is LIVE and has ACKed the latest
           configuration (the pod's readiness)
  /status  JSON: the Services served, per route served the weights Envoy itself reports
           (its config_dump), ACK state, problems found in the objects, per kind what its
           informer did (lists, watches, events, last error)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Optional

from google.protobuf.message import Message

from kmeshctl.errors import KmeshctlError
from kmeshctl.httpserve import BackgroundHttpServer, send_body
from kmeshctl.waypoint import model
from kmeshctl.waypoint.config import (
    PUSH_ORDER,
    ROUTE_TYPE,
    WaypointRef,
    build_resources,
    route_weights,
)
from kmeshctl.waypoint.envoy import EnvoyAdmin
from kmeshctl.waypoint.informer import Informers, Timing, unserved_problem
from kmeshctl.xds.server import XdsServer

log = logging.getLogger("kmeshctl.waypoint.controller")

DEBOUNCE_S = 0.1  # after a change, wait this long so that a burst of events is one build
FULL_REBUILD_S = 60.0  # and build from the stores this often anyway (a safety net, no LIST)
STOP_WAIT_S = 1.0
# (apiVersion, kind) watched cluster-wide; Istio's kinds are skipped (and reported) when
# the cluster does not serve them.
WATCHED = (("v1", "Namespace"), ("v1", "Service"), ("discovery.k8s.io/v1", "EndpointSlice"),
           ("v1", "Pod"), ("networking.istio.io/v1", "VirtualService"),
           ("networking.istio.io/v1", "DestinationRule"))
ISTIO_FALLBACK_VERSIONS = ("networking.istio.io/v1beta1", "networking.istio.io/v1alpha3")


def publish_ordered(server: XdsServer, resources: dict[str, dict[str, Message]]) -> None:
    """Make the server hold exactly `resources`: adds and updates make-before-break,
    removals break-before-make, each type in one push."""
    for type_url in PUSH_ORDER:
        if type_url in resources:
            server.set_resources(type_url, resources[type_url])
    for type_url in reversed(PUSH_ORDER):
        if type_url in resources:
            stale = set(server.resources(type_url)) - set(resources[type_url])
            if stale:
                server.remove_resources(type_url, stale)
    for type_url, named in resources.items():  # types outside the Envoy set (workload API)
        if type_url not in PUSH_ORDER:
            server.replace_resources(type_url, named)


def list_objects(client: Any) -> tuple[list[dict], list[str]]:
    """Every watched object (with its kind set), and what could not be listed: one LIST of
    each kind (what the informers' stores hold, in the same order)."""
    objects: list[dict] = []
    problems: list[str] = []
    for api_version, kind in WATCHED:
        version = _served_version(client, api_version, kind)
        if version is None:
            problems.append(unserved_problem(kind))
            continue
        for item in client.list(version, kind):
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", version)
            objects.append(item)
    return objects, problems


def _versions(api_version: str) -> tuple[str, ...]:
    return (api_version, *ISTIO_FALLBACK_VERSIONS) if api_version.startswith("networking.istio.io") \
        else (api_version,)


def _served_version(client: Any, api_version: str, kind: str) -> Optional[str]:
    return next((v for v in _versions(api_version) if client.is_served(v, kind)), None)


@dataclass
class ControllerStatus:
    services: list[str]
    problems: list[str]
    pushes: int
    last_change: float


class Controller:
    """One waypoint's controller. `debounce_s`: how long after a change it builds (seconds);
    `full_rebuild_s`: how often it builds from memory anyway; `timing`: the informers' watch
    timeouts, back-off and re-check of kinds not served."""

    def __init__(self, client: Any, waypoint: WaypointRef, xds_address: str, envoy_admin: EnvoyAdmin,
                 debounce_s: float = DEBOUNCE_S, full_rebuild_s: float = FULL_REBUILD_S,
                 timing: Timing = Timing()) -> None:
        self.client = client
        self.waypoint = waypoint
        self.xds = XdsServer()
        self.xds.add_listener(xds_address)
        self.envoy = envoy_admin
        self.debounce_s = debounce_s
        self.full_rebuild_s = full_rebuild_s
        self.status = ControllerStatus([], [], 0, 0.0)
        self._last: Optional[dict] = None
        self._stop = threading.Event()
        self._changed = threading.Event()
        self.informers = Informers(client, [(kind, _versions(v)) for v, kind in WATCHED], self._changed.set,
                                   self._stop, timing)

    def sync_once(self) -> bool:
        """LIST everything, build, publish (one-shot; `run` keeps watching instead); True
        when the configuration changed."""
        return self.publish(*list_objects(self.client))

    def rebuild(self) -> bool:
        """Build from the informers' stores and publish; True when the configuration changed."""
        return self.publish(*self.informers.objects())

    def publish(self, objects: list[dict], problems: list[str]) -> bool:
        """Build the configuration of these objects and push what changed."""
        snap = model.snapshot_from_objects(objects)
        resources = build_resources(snap, self.waypoint).by_type()
        fingerprint = {t: {n: m.SerializeToString(deterministic=True) for n, m in named.items()}
                       for t, named in resources.items()}
        self.status.services = [f"{s.namespace}/{s.name}"
                                for s in snap.services_of(self.waypoint.namespace, self.waypoint.name)]
        self.status.problems = sorted(set(problems + snap.problems))
        if fingerprint == self._last:
            return False
        publish_ordered(self.xds, resources)
        self._last = fingerprint
        self.status.pushes += 1
        self.status.last_change = time.time()
        log.info("configuration pushed: services=%s routes=%d clusters=%d", ",".join(self.status.services),
                 len(resources[ROUTE_TYPE]), len(fingerprint.get(PUSH_ORDER[0], {})))
        return True

    def run(self) -> None:
        """Serve xDS, start the informers, and build on every change (debounced) and every
        `full_rebuild_s`, once every kind was listed; until `stop`."""
        self.xds.start()
        self.informers.start()
        next_full = time.monotonic() + self.full_rebuild_s
        while not self._stop.is_set():
            changed = self._changed.wait(max(0.0, next_full - time.monotonic()))
            if self._stop.is_set():
                break
            if changed:
                self._stop.wait(self.debounce_s)  # let a burst of events land first
                self._changed.clear()
            else:
                next_full = time.monotonic() + self.full_rebuild_s
            if self.informers.synced():
                self._rebuild_logged()
        self.informers.join(STOP_WAIT_S)
        self.xds.stop()

    def _rebuild_logged(self) -> None:
        try:
            self.rebuild()
        except Exception:  # noqa: BLE001 - keep the last configuration and keep watching
            log.exception("building the configuration failed, keeping the last one")

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()

    # ----- status ---------------------------------------------------------------------

    def acked(self) -> bool:
        """Every type Envoy watches has ACKed its latest response."""
        streams = self.xds.streams()
        if not streams:
            return False
        return all((r := info.replied_to_last(t)) is not None and r.acked
                   for info in streams for t in info.last_nonce)

    def ready(self) -> bool:
        return self._last is not None and self.informers.synced() and self.envoy.ready() and self.acked()

    def report(self) -> dict[str, Any]:
        routes: dict[str, dict[str, int]] = {}
        envoy_error = ""
        served = set(self.xds.resources(ROUTE_TYPE))
        try:  # Envoy may keep a removed route a while: only the routes served now are reported
            routes = {c["name"]: route_weights(c) for c in self.envoy.route_configs()
                      if c.get("virtual_hosts") and c.get("name") in served}
        except (OSError, KmeshctlError, KeyError, ValueError) as err:
            envoy_error = str(err) or type(err).__name__
        return {
            "waypoint": f"{self.waypoint.namespace}/{self.waypoint.name}",
            "port": self.waypoint.port,
            "services": self.status.services,
            "envoy": {"ready": self.envoy.ready(), "acked": self.acked(), "error": envoy_error},
            "routes": routes,
            "pushes": self.status.pushes,
            "lastChange": self.status.last_change,
            "problems": self.status.problems,
            "kinds": self.informers.status(),
        }


def status_server(controller: Controller, port: int, host: str = "0.0.0.0") -> BackgroundHttpServer:
    routes: dict[str, Callable[[], tuple[int, Any]]] = {
        "/ready": lambda: (200, "ready") if controller.ready() else (503, "not ready"),
        "/status": lambda: (200, controller.report()),
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: probes every few seconds
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                send_body(self, 404, "text/plain", b"not found\n")
                return
            status, body = route()
            if isinstance(body, str):
                send_body(self, status, "text/plain", (body + "\n").encode())
            else:
                send_body(self, status, "application/json", json.dumps(body).encode())

    return BackgroundHttpServer(Handler, host, port, "waypoint-status")
