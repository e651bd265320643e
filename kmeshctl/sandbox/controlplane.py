"""The sandbox's control plane, a daemon process (`python -m kmeshctl.sandbox.controlplane
--name NAME`): delta ADS servers (`kmeshctl.xds.server`) publishing

- to each waypoint's Envoy (one unix socket per waypoint): its Listener, routes,
  clusters and endpoints, built by the cluster waypoint's own code
  (`kmeshctl.waypoint.config`, via `kmeshctl.sandbox.envoy_config`) and published the
  way its controller publishes them (`kmeshctl.waypoint.controller.publish_ordered`);
- to the node agent (`xds.sock`): the workload API (`kmeshctl.sandbox.workloads`) and the
  Authorization resources istiod would make of the AuthorizationPolicies
  (`kmeshctl.sandbox.authz`).

It reads the sandbox record (state.json + manifests.yaml). Its sockets serve from the
start, but it publishes nothing until every pod has its network (`sandbox up` creates the
pods through CNI once the node agent runs, then sends SIGHUP), as istiod knows a pod's
Workload only once the pod has an IP. SIGHUP re-reads the record and pushes only what
changed, so a new VirtualService weight reaches Envoy live, without a restart.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox.authz import authorization_resources
from kmeshctl.sandbox.envoy_config import build_waypoint_resources
from kmeshctl.sandbox.state import SandboxState
from kmeshctl.sandbox.topology import Topology, waypoint_keys
from kmeshctl.sandbox.workloads import build_workload_resources
from kmeshctl.signalpipe import SignalPipe
from kmeshctl.waypoint.controller import publish_ordered
from kmeshctl.xds.server import XdsServer

log = logging.getLogger("kmeshctl.sandbox.controlplane")


class ControlPlane:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.waypoint_servers: dict[tuple[str, str], XdsServer] = {}
        self.agent_server: XdsServer | None = None  # workload API for the node agent

    def start(self) -> None:
        topology = self.state.topology()
        for namespace, name in waypoint_keys(topology.manifests):
            server = XdsServer()
            server.add_listener(f"unix:{self.state.waypoint_xds_socket(namespace, name)}")
            self.waypoint_servers[(namespace, name)] = server
        self.agent_server = _agent_server(self.state)
        if self.state.pods_ready:
            self.publish(topology)
        for server in self._servers():
            server.start()

    def _servers(self) -> list[XdsServer]:
        servers = list(self.waypoint_servers.values())
        return servers + ([self.agent_server] if self.agent_server else [])

    def publish(self, topology: Topology) -> None:
        for waypoint in topology.waypoints:
            server = self.waypoint_servers.get((waypoint.namespace, waypoint.name))
            if server is None:
                log.warning("waypoint %s/%s appeared after start: restart the sandbox",
                            waypoint.namespace, waypoint.name)
                continue
            publish_ordered(server, build_waypoint_resources(topology, waypoint).by_type())
        if self.agent_server is not None:
            # policies first: a Workload naming one not yet received keeps its old tables
            policies = authorization_resources(topology.manifests.authorization_policies)
            publish_ordered(self.agent_server, {**policies, **build_workload_resources(topology)})

    def reload(self) -> None:
        state = SandboxState.load(self.state.name)
        if state is None:
            log.error("sandbox record is gone; keeping the last configuration")
            return
        try:
            topology = state.topology()
        except KmeshctlError as err:
            log.error("not reloading, the sandbox record is invalid: %s", err)
            return
        self.state = state
        if not state.pods_ready:
            log.info("pods are still being created: nothing to publish yet")
            return
        self.publish(topology)
        log.info("configuration reloaded and pushed")

    def stop(self) -> None:
        for server in self._servers():
            server.stop()


def _agent_server(state: SandboxState) -> XdsServer:
    server = XdsServer()
    server.add_listener(f"unix:{state.xds_socket}")
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kmeshctl-sandbox-controlplane")
    parser.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    state = SandboxState.load(args.name)
    if state is None:
        sys.exit(f"no sandbox named {args.name}")
    control_plane = ControlPlane(state)
    control_plane.start()
    signals = SignalPipe((signal.SIGHUP, signal.SIGTERM))
    log.info("control plane of sandbox %s serving (pid %d)", args.name, os.getpid())
    serve_until_stopped(control_plane, signals, state.controlplane_heartbeat)
    control_plane.stop()


def serve_until_stopped(control_plane: ControlPlane, signals: SignalPipe, heartbeat: Path | None = None) -> None:
    """Reload on each SIGHUP (those that come during a reload: one more reload after it),
    return on SIGTERM; ``heartbeat`` (a file) touched each turn, at least once a second."""
    while True:
        if heartbeat is not None:
            _touch(heartbeat)
        received = signals.wait(1.0)
        if signal.SIGTERM in received:
            return
        if signal.SIGHUP in received:
            _reload(control_plane)


def _touch(path: Path) -> None:
    try:
        path.touch()
    except OSError as err:  # the record's directory going away under a `sandbox down`
        log.debug("heartbeat %s not touched: %s", path, err)


def _reload(control_plane: ControlPlane) -> None:
    """One reload; a failure is logged and the last configuration stays served (the next
    SIGHUP tries again): the loop must outlive it, or no change would ever be pushed again
    while the gRPC threads kept the process looking alive."""
    try:
        control_plane.reload()
    except Exception:  # noqa: BLE001 - any failure of one reload
        log.exception("reload failed; keeping the last configuration")


if __name__ == "__main__":
    main()
