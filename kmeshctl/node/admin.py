"""The node agent's admin HTTP endpoints.

Two listeners share these routes. The loopback TCP port (what the kubelet's probes and
`dump --pod` port-forwards reach) answers only the read-only GETs: any local process can
reach it. What changes state (POST: logger levels, local enrollment) is served only on
the admin unix socket, mode 0600 in a root-only directory, so only root reaches it. A
netns to enroll must be a network namespace file: anything else gets one answer
("not a network namespace"), whether it exists or not.

    GET  /debug/config_dump/dual-engine       the workload cache as JSON
    GET  /debug/config_dump/bpf/dual-engine   the decoded BPF maps (`dump maps -o json`'s, C field names)
    GET  /version                             agent version and mode
    GET  /debug/live                          200 while every worker of the agent runs, 503 naming a
                                              dead one (liveness probe; the server opens only once
                                              the data path is loaded, which is the startup probe)
    GET  /debug/ready                         200 once the first xDS sync is in the maps, else 503;
                                              stays 200 if the stream drops later (the maps keep
                                              serving the last state while it reconnects)
    GET  /debug/xds                           the istiod connection: address, connected, synced,
                                              responses / ACKs / NACKs per type, reconnects, last error
    GET  /debug/loggers                       logger levels; POST ?name=N&level=L changes one
    POST /enroll?netns=PATH[&pod=NAME]        local enrollment (only when there is no Kubernetes)
    POST /unenroll?netns=PATH
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import stat
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable, Optional, Protocol
from urllib.parse import parse_qs, urlsplit

from kmeshctl.errors import KmeshctlError
from kmeshctl.httpserve import BackgroundHttpServer, send_body
from kmeshctl.unixsock import RootOnlySocketServer

log = logging.getLogger("kmeshctl.admin")

LEVELS = ("debug", "info", "warning", "error", "critical")


class LocalEnroller(Protocol):
    def enroll(self, netns: str, pod: str = "") -> dict: ...
    def unenroll(self, netns: str) -> dict: ...


@dataclass
class AdminSources:
    """What the admin endpoints show; each callable is evaluated per request."""

    cache_dump: Callable[[], dict]
    bpf_dump: Callable[[], dict]
    ready: Callable[[], tuple[bool, str]]
    version: Callable[[], dict]
    enroller: Optional[LocalEnroller] = None
    xds: Optional[Callable[[], dict]] = None
    live: Callable[[], tuple[bool, str]] = lambda: (True, "serving")


def logger_levels() -> dict[str, str]:
    names = ["kmeshctl"] + sorted(n for n in logging.root.manager.loggerDict if n.startswith("kmeshctl."))
    return {name: logging.getLevelName(logging.getLogger(name).getEffectiveLevel()).lower() for name in names}


def set_logger_level(name: str, level: str) -> None:
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown level '{level}' (use one of {', '.join(LEVELS)})")
    if name != "kmeshctl" and not name.startswith("kmeshctl."):
        raise ValueError(f"unknown logger '{name}' (use kmeshctl or kmeshctl.<module>)")
    logging.getLogger(name).setLevel(level.upper())
    log.info("event=log_level_changed logger=%s level=%s", name, level.lower())


NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3): the namespace type of an nsfs file
CLONE_NEWNET = 0x40000000
NOT_A_NETNS = "not a network namespace (pass /run/netns/NAME or /proc/PID/ns/net)"


def check_netns(path: str) -> str:
    """``path`` if it is a network namespace file, else ValueError(NOT_A_NETNS): the same
    answer for a missing file, an unreadable one or any other file, so the endpoint tells
    nothing about files that are not network namespaces."""
    try:
        info = os.stat(path)
        # nsfs files are empty regular files; never open anything else (FIFOs, devices).
        if not stat.S_ISREG(info.st_mode) or info.st_size != 0:
            raise ValueError(NOT_A_NETNS)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        raise ValueError(NOT_A_NETNS) from None
    try:
        if fcntl.ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET:
            raise ValueError(NOT_A_NETNS)
    except OSError:
        raise ValueError(NOT_A_NETNS) from None
    finally:
        os.close(fd)
    return path


class AdminServer(BackgroundHttpServer):
    """The read-only admin endpoints on 127.0.0.1:``port``."""

    def __init__(self, sources: AdminSources, port: int, host: str = "127.0.0.1") -> None:
        self.sources = sources
        super().__init__(type("Handler", (_Handler,), {"sources": sources}), host, port, "admin-http")

    def start(self) -> None:
        super().start()
        log.info("event=admin_listening address=127.0.0.1:%d changes=only_on_the_admin_socket", self.port)


class AdminSocketServer(RootOnlySocketServer):
    """Every admin endpoint, the state-changing ones included, on a unix socket that only
    root can reach (``kmeshctl.unixsock.RootOnlySocketServer``)."""

    def __init__(self, sources: AdminSources, path: Path) -> None:
        handler = type("SocketHandler", (_Handler,), {"sources": sources, "allow_changes": True})
        super().__init__(path, handler, "--admin-socket")

    def start(self) -> None:
        super().start()
        log.info("event=admin_socket_listening path=%s mode=0600", self.path)


class _Handler(BaseHTTPRequestHandler):
    sources: AdminSources
    allow_changes = False  # True only on the admin socket
    server_version = "kmeshctl-admin"

    def address_string(self) -> str:
        return "unix-socket" if self.allow_changes else super().address_string()

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("event=admin_request %s", fmt % args)

    def _send(self, status: int, body: Any) -> None:
        send_body(self, status, "application/json", (json.dumps(body, indent=2, default=str) + "\n").encode())

    def _query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        routes: dict[str, Callable[[], tuple[int, Any]]] = {
            "/debug/config_dump/dual-engine": lambda: (200, self.sources.cache_dump()),
            "/debug/config_dump/bpf/dual-engine": lambda: (200, self.sources.bpf_dump()),
            "/version": lambda: (200, self.sources.version()),
            "/debug/ready": self._ready,
            "/debug/live": self._live,
            "/debug/xds": self._xds,
            "/debug/loggers": lambda: (200, logger_levels()),
        }
        self._dispatch(routes)

    def do_POST(self) -> None:  # noqa: N802
        if not self.allow_changes:
            self._send(HTTPStatus.FORBIDDEN, {"error": "this port is read-only: state-changing admin actions "
                                                       "are served only on the agent's admin socket "
                                                       "(node run --admin-socket, root only)"})
            return
        routes: dict[str, Callable[[], tuple[int, Any]]] = {
            "/debug/loggers": self._set_logger,
            "/enroll": lambda: self._local_enrollment(True),
            "/unenroll": lambda: self._local_enrollment(False),
        }
        self._dispatch(routes)

    def _dispatch(self, routes: dict[str, Callable[[], tuple[int, Any]]]) -> None:
        route = routes.get(urlsplit(self.path).path)
        if route is None:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {urlsplit(self.path).path}"})
            return
        try:
            status, body = route()
        except (ValueError, KmeshctlError) as err:
            status, body = HTTPStatus.BAD_REQUEST, {"error": str(err)}
        except Exception as err:  # noqa: BLE001 - report, keep serving
            log.exception("event=admin_error path=%s", self.path)
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(err)}
        self._send(status, body)

    def _ready(self) -> tuple[int, Any]:
        ready, detail = self.sources.ready()
        return (200 if ready else 503), {"ready": ready, "detail": detail}

    def _live(self) -> tuple[int, Any]:
        live, detail = self.sources.live()
        return (200 if live else 503), {"live": live, "detail": detail}

    def _xds(self) -> tuple[int, Any]:
        if self.sources.xds is None:
            return 404, {"error": "this agent has no istiod connection (local control plane)"}
        return 200, self.sources.xds()

    def _set_logger(self) -> tuple[int, Any]:
        query = self._query()
        set_logger_level(query.get("name", "kmeshctl"), query.get("level", ""))
        return 200, logger_levels()

    def _local_enrollment(self, enroll: bool) -> tuple[int, Any]:
        enroller = self.sources.enroller
        if enroller is None:
            return HTTPStatus.CONFLICT, {"error": "local enrollment is off: this agent enrolls pods "
                                                  "from Kubernetes (label the namespace instead)"}
        netns = self._query().get("netns", "")
        if not netns:
            raise ValueError("missing ?netns=PATH (e.g. /run/netns/NAME)")
        check_netns(netns)
        if enroll:
            return 200, enroller.enroll(netns, self._query().get("pod", ""))
        return 200, enroller.unenroll(netns)
