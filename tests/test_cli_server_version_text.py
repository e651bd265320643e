"""Issue 14, kind "the text form says what the JSON says": `kmeshctl version` prints
kubectl's `Server Version: vX.Y.Z` line whenever GET /version answered (the JSON's
cluster.serverVersion), also when a later call (the agents' DaemonSet) was refused.

Real parts: kmeshctl.cli.main in-process; the stand-in API server (tests/standin); a
loopback HTTP server answering /version and 403 to everything else."""

from __future__ import annotations

import http.server
import json
import threading

from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_cluster_errors import kubeconfig, status_body
from test_cli_kinds import cli, no_env  # noqa: F401

VERSION = {"major": "1", "minor": "34", "gitVersion": "v1.34.4"}


class _OnlyVersion(http.server.BaseHTTPRequestHandler):
    """/version answers; every other request is refused (403)."""

    def do_GET(self) -> None:  # noqa: N802
        status, body = (200, json.dumps(VERSION).encode()) if self.path.startswith("/version") else \
            (403, status_body(403, "Forbidden", f'forbidden: User "bob" cannot get path "{self.path}"'))
        send_json(self, status, body)

    def log_message(self, *args: object) -> None:
        pass


def send_json(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_version_text_prints_the_server_version(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("version")
    data = json.loads(cluster.kmeshctl("version", "-o", "json").out)
    assert f"Server Version: {data['cluster']['serverVersion']}\n" in result.out, result
    assert result.out.index("Client: ") < result.out.index("Server Version: "), result


def test_the_server_version_is_printed_when_later_calls_are_refused(tmp_path, capsys, no_env) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OnlyVersion)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = kubeconfig(tmp_path / "k.yaml", f"http://127.0.0.1:{server.server_address[1]}")
        code, out, err = cli(capsys, "--kubeconfig", str(config), "version")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1 and "Forbidden" in err, (out, err)
    assert out.splitlines()[1] == "Server Version: v1.34.4", out
