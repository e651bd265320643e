"""Session 29 (lead): kmeshctl sends no credentials to an http:// API server, as kubectl,
and says so only when the user had some to send (t35a: a user with none got an https fix
that would not help)."""

from __future__ import annotations

import http.server
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
