"""Session 29 (lead): kmeshctl sends no credentials to an http:// API server, as kubectl,
and says so only when the user had some to send (t35a: a user with none got an https fix
that would not help)."""

from __future__ import annotations

import http.server
import json as json_module
import threading
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)
from test_p34_lead import _Refusing


@pytest.fixture
def refusing() -> Iterator[int]:
    """An http:// API server answering 401 to all; its port."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def _kubeconfig(tmp_path: Path, port: int, user: dict) -> Path:
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
              "users": [{"name": "u", "user": user}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    path = tmp_path / "kc.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_user_without_credentials_gets_no_https_fix(tmp_path: Path, capsys, no_env, refusing) -> None:  # noqa: F811
    path = _kubeconfig(tmp_path, refusing, {"as": "jane"})
    code, _, err = cli(capsys, "--kubeconfig", str(path), "status")
    assert code == 1, err
    assert "it got no credentials" not in err and "https://" not in err, err
    assert "fix the credentials of user u in kubeconfig" in err, err


def test_a_user_with_a_token_is_told_it_was_not_sent(tmp_path: Path, capsys, no_env, refusing) -> None:  # noqa: F811
    _Refusing.seen = []
    path = _kubeconfig(tmp_path, refusing, {"token": "sekret"})
    code, _, err = cli(capsys, "--kubeconfig", str(path), "status")
    assert code == 1, err
    assert "it got no credentials (the server is http://" in err and "https://" in err, err
    assert _Refusing.seen and not [h for h in _Refusing.seen if "Authorization" in h], _Refusing.seen


class _Anonymous(_Refusing):
    """An http:// API server with anonymous requests allowed: 403 for system:anonymous."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append(dict(self.headers))
        body = json_module.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403,
                                  "reason": "Forbidden", "message": 'forbidden: User "system:anonymous" cannot '
                                  'get path "/api"'}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_403_as_anonymous_is_said_as_the_credentials_not_sent(tmp_path: Path, capsys, no_env) -> None:  # noqa: F811
    server = http.server.HTTPServer(("127.0.0.1", 0), _Anonymous)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = _kubeconfig(tmp_path, server.server_port, {"token": "sekret"})
        code, _, err = cli(capsys, "--kubeconfig", str(path), "status")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1, err
    assert "it got no credentials (the server is http://" in err and "RBAC" not in err, err


def test_an_exec_plugin_not_installed_is_no_fault_for_an_http_server(tmp_path: Path, capsys, no_env,  # noqa: F811
                                                                     refusing) -> None:
    """kubectl runs no plugin for an http:// server, so one that is not installed stops nothing."""
    _Refusing.seen = []
    path = _kubeconfig(tmp_path, refusing, {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                     "command": "/nonexistent/plug", "interactiveMode": "Never"}})
    code, _, err = cli(capsys, "--kubeconfig", str(path), "status")
    assert code == 1 and "not found" not in err, err
    assert _Refusing.seen and "it got no credentials" in err, err
