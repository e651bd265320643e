"""Issue 14, kind "two commands say the same of the same cluster": when GET /version
answers but discovery (GET /api) hangs, precheck's "API reachable" fails as status does
(it covers what the commands need), and the error names the request that went
unanswered instead of a bare "cannot reach".

Real parts: kmeshctl.cli.main in-process; a loopback HTTP server answering /version and
holding every other request until the test ends."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Iterator

import pytest

from test_cli_cluster_errors import kubeconfig
from test_cli_kinds import cli, no_env  # noqa: F401
from test_cli_server_version_text import VERSION, send_json


class _Hangs(http.server.BaseHTTPRequestHandler):
    """/version answers; every other request is held until the test releases it."""

    def do_GET(self) -> None:  # noqa: N802
        if not self.path.startswith("/version"):
            self.server.release.wait(30)  # type: ignore[attr-defined]
            return
        send_json(self, 200, json.dumps(VERSION).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hanging(tmp_path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hangs)
    server.release = threading.Event()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield str(kubeconfig(tmp_path / "hang.yaml", f"http://127.0.0.1:{server.server_address[1]}"))
    server.release.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_precheck_and_status_agree_when_discovery_hangs(hanging, capsys, no_env) -> None:
    code, out, err = cli(capsys, "--kubeconfig", hanging, "--request-timeout", "1", "precheck", "-o", "json")
    checks = json.loads(out)["checks"]
    assert code == 1 and checks[0]["name"] == "API reachable" and checks[0]["status"] == "fail", out
    assert "no answer within 1s to GET /api, though earlier requests were answered" in checks[0]["detail"], out
    code, out, err = cli(capsys, "--kubeconfig", hanging, "--request-timeout", "1", "status")
    assert code == 1 and "to GET /api, though earlier requests were answered" in err, err
