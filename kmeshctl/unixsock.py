"""HTTP over unix sockets: the client side (the agent's root-only admin socket, Envoy's
admin socket) and a root-only socket server (the agent's admin and CNI sockets).

A socket file carries the file's permissions, so "only root" is the socket at 0600 in a
directory at 0700, both root's; that is what ``RootOnlySocketServer`` makes and checks.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import socketserver
import stat
import threading
from pathlib import Path
from typing import Optional

from kmeshctl.errors import KmeshctlError

log = logging.getLogger("kmeshctl.unixsock")


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client.HTTPConnection`` to a unix socket at ``path`` (``timeout`` seconds)."""

    def __init__(self, path: Path | str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def request(path: Path | str, method: str, url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """One HTTP request over the unix socket ``path``: (status, body). Raises OSError when
    nothing listens there."""
    connection = UnixHTTPConnection(path, timeout)
    try:
        connection.request(method, url)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class _ThreadingUnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


class RootOnlySocketServer:
    """A threaded server on a unix socket only root can reach: 0600, in a 0700 directory
    owned by this user. Bound when made, so a bad path fails before the caller changes
    anything; a stale socket is replaced, any other file at ``path`` is refused.

    ``what`` names the socket in errors and logs (e.g. ``--admin-socket``);
    ``tighten``: a directory open to others is made 0700 (a directory we own and made
    earlier) instead of refused."""

    def __init__(self, path: Path, handler: type[socketserver.BaseRequestHandler], what: str,
                 tighten: bool = False) -> None:
        self.path = Path(path)
        self.what = what
        _prepare_socket_dir(self.path, what, tighten)
        self._server = _ThreadingUnixServer(str(self.path), handler)
        os.chmod(self.path, 0o600)
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.what, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _prepare_socket_dir(path: Path, what: str, tighten: bool) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.parent.stat()
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        if not tighten or info.st_uid != os.geteuid():
            raise KmeshctlError(f"{what} {path}: its directory {path.parent} is open to other users "
                                f"(mode {stat.S_IMODE(info.st_mode):04o}, owner {info.st_uid}): use a directory "
                                "only root can enter (mode 0700)")
        os.chmod(path.parent, 0o700)
    try:
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise KmeshctlError(f"{what} {path} exists and is not a socket: remove it or pass another path")
        path.unlink()
    except FileNotFoundError:
        pass
