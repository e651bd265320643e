"""A stand-in for `fortio server`'s echo endpoint, used in the sandbox when no `fortio`
binary is on PATH. It answers like fortio for the parameters the demo uses:

- `header=name:value` (repeatable) adds a response header (`header=server:1` -> `Server: 1`),
- `status=CODE` sets the status (default 200),
- `delay=DURATION` (e.g. `10ms`, `1s`) waits before answering,

taken from the query string, or from `-echo-server-default-params` when the request has
none (fortio's rule). The body echoes the request body. One access-log line per request
(peer address first) goes to stdout, so the sandbox can show who connected.

    python -m kmeshctl.sandbox.echo_server -http-port 0.0.0.0:8080 \
        -echo-server-default-params header=server:1
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|us|m)?$")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, None: 1.0}
MAX_DELAY_S = 10.0


def parse_listen(value: str) -> tuple[str, int]:
    """fortio accepts `PORT`, `:PORT` and `HOST:PORT`."""
    host, _, port = value.rpartition(":")
    return host or "0.0.0.0", int(port)


def canonical_header(name: str) -> str:
    """Go's textproto canonical form, as fortio (a Go program) sends it."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def parse_duration(value: str) -> float:
    match = _DURATION.match(value.strip())
    if not match:
        return 0.0
    return min(float(match.group(1)) * _UNIT_SECONDS[match.group(2)], MAX_DELAY_S)


class EchoParams:
    """What one request asks for."""

    def __init__(self, query: str) -> None:
        self.status = 200
        self.headers: list[tuple[str, str]] = []
        self.delay = 0.0
        for key, value in parse_qsl(query, keep_blank_values=True):
            self._apply(key, value)

    def _apply(self, key: str, value: str) -> None:
        if key == "status" and value.isdigit() and 100 <= int(value) <= 599:
            self.status = int(value)
        elif key == "header" and ":" in value:
            name, _, header_value = value.partition(":")
            self.headers.append((canonical_header(name), header_value))
        elif key == "delay":
            self.delay = parse_duration(value)


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like fortio
    default_params = ""

    def _handle(self) -> None:
        if urlsplit(self.path).path.startswith("/debug"):
            self._debug()
            return
        query = urlsplit(self.path).query or self.default_params
        params = EchoParams(query)
        body = self._read_body()
        if params.delay:
            time.sleep(params.delay)
        self.send_response_only(params.status)
        self.send_header("Date", self.date_time_string())
        for name, value in params.headers:
            self.send_header(name, value)
        self.send_header("Content-Type", self.headers.get("Content-Type", "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._access_log(params.status)

    def _debug(self) -> None:
        """fortio's /debug: who asked (`request from IP:port`), then the request line."""
        self._read_body()
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        body = (f"kmeshctl echo debug server - request from {peer}\n\n"
                f"{self.command} {self.path} {self.request_version}\n").encode()
        self.send_response_only(200)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._access_log(200)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _access_log(self, status: int) -> None:
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        sys.stdout.write(f"peer={peer} method={self.command} path={self.path} status={status}\n")
        sys.stdout.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the access log above replaces http.server's stderr lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="echo_server", description=__doc__.splitlines()[0])
    parser.add_argument("-http-port", "--http-port", dest="http_port", default="8080")
    parser.add_argument("-echo-server-default-params", "--echo-server-default-params",
                        dest="default_params", default="")
    args = parser.parse_args(argv)
    handler = type("Handler", (EchoHandler,), {"default_params": args.default_params})
    server = ThreadingHTTPServer(parse_listen(args.http_port), handler)
    server.daemon_threads = True
    sys.stdout.write(f"echo server listening on {args.http_port}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
