"""Issue 14, kind "errors say what is wrong" for `kmeshctl version`: with no cluster
configured the line says none is configured (never "could not reach", there is nothing to
reach) and how to point kmeshctl at one, exit 0 as before; when the API server answered
GET /version but a later call failed (API discovery, listing the agents), the text form
prints `Server Version:` from what /version said and then the error, and -o json fills
cluster.serverVersion next to clusterError (agents null: they could not be listed).

Real parts: kmeshctl.cli.main in-process; a loopback HTTP server answering /version and
something else to every other path."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Iterator

import pytest

from kmeshctl import __version__
from test_cli_cluster_errors import kubeconfig, status_body
from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)

VERSION = {"major": "1", "minor": "34", "gitVersion": "v1.34.4"}
LATER = {  # what every path but /version gets: (status, body, content type)
    "not Kubernetes": (404, b"404 page not found", "text/plain"),
    "a server error": (500, status_body(500, "InternalError", "etcd is down"), "application/json"),
    "refused": (403, status_body(403, "Forbidden", 'forbidden: User "bob" cannot get path "/api"'),
                "application/json"),
}


class _VersionThenAnswer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        status, body, kind = (200, json.dumps(VERSION).encode(), "application/json") \
            if self.path.startswith("/version") else self.server.later  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=sorted(LATER))
def version_only(request, tmp_path) -> Iterator[str]:
    """A kubeconfig for a server whose /version answers and whose later calls fail."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _VersionThenAnswer)
    server.later = LATER[request.param]  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield str(kubeconfig(tmp_path / "k.yaml", f"http://127.0.0.1:{server.server_address[1]}"))
    server.shutdown()
    server.server_close()


def test_no_cluster_configured_says_none_is_configured(tmp_path, monkeypatch, capsys, no_env) -> None:  # noqa: F811
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = cli(capsys, "version")
    assert code == 0 and out == f"Client: {__version__}\n", (code, out, err)
    assert err.startswith("Cluster: none configured (") and err.count("\n") == 1, err
    assert "--kubeconfig PATH" in err and "--context NAME" in err, err
    assert "could not reach" not in err and "no cluster configured" not in err, err  # said once, and truly
    code, out, _ = cli(capsys, "version", "-o", "json")
    report = json.loads(out)
    assert code == 0 and report["cluster"] is None and report["clusterConfigured"] is False, report


def test_the_server_version_comes_before_the_error_of_a_later_call(version_only, capsys, no_env) -> None:  # noqa: F811
    code, out, err = cli(capsys, "--kubeconfig", version_only, "version")
    assert code == 1 and out == f"Client: {__version__}\nServer Version: v1.34.4\n", (out, err)
    assert err.startswith("Error: ") and err.count("\n") == 1, err


def test_the_json_fills_the_server_version_next_to_the_error(version_only, capsys, no_env) -> None:  # noqa: F811
    code, out, err = cli(capsys, "--kubeconfig", version_only, "version", "-o", "json")
    report = json.loads(out)
    assert code == 1 and report["cluster"]["serverVersion"] == "v1.34.4", report
    assert report["cluster"]["agents"] is None and report["clusterError"] and report["clusterConfigured"], report
