"""Session 29 (lead): kmeshctl sends no credentials to an http:// API server, as kubectl,
and says so only when the user had some to send (t35a: a user with none got an https fix
that would not help)."""

from __future__ import annotations

import http.server
import json
import json as json_module
import threading
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from test_cli_kinds import cli, no_env, state_root  # noqa: F401 (fixtures)
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


def test_a_failed_sandbox_is_named_as_failed_not_as_no_sandbox(state_root: Path, capsys, no_env) -> None:  # noqa: F811
    """t36b: `status --name X` of a sandbox whose `up` failed said no sandbox has this name."""
    (state_root / "failed-up-f36x").mkdir(parents=True)
    (state_root / "failed-up-f36x" / "up.log").write_text("boom\n")
    code, _, err = cli(capsys, "status", "--name", "f36x", "-o", "json", "-q")
    assert code == 2 and "`kmeshctl sandbox status -o json -q --name f36x`" in err, err
    code, _, err = cli(capsys, "dump", "config", "--sandbox", "f36x")
    assert code == 1 and "sandbox f36x failed" in err and "kmeshctl sandbox down --name f36x" in err, err


@pytest.mark.parametrize("command", [["render"], ["install", "--dry-run"]], ids=" ".join)
def test_the_mended_xds_address_is_in_the_mended_istio_namespace(capsys, no_env, command) -> None:  # noqa: F811
    """t36b: the line mended --istio-namespace Bad_NS to bad-ns but built istiod.Bad_NS.svc."""
    code, _, err = cli(capsys, *command, "--cluster-id", "c1", "--xds-address", "istiod:", "--istio-namespace", "Bad_NS")
    assert code == 2, err
    assert "--xds-address istiod.bad-ns.svc:15012 --istio-namespace bad-ns" in err and "Bad_NS.svc" not in err, err


def test_wait_duration_beside_a_timeout_keeps_the_timeout_typed(capsys, no_env) -> None:  # noqa: F811
    """t36b: the line had two --timeout flags, refused when pasted."""
    code, _, err = cli(capsys, "enable-ns", "team-a", "--wait-duration", "60s", "--timeout", "30s")
    assert code == 2 and "`kmeshctl enable-ns team-a --timeout 30s --wait`" in err, err


def test_a_split_context_name_is_found_with_a_dangling_current_context(tmp_path: Path, capsys,  # noqa: F811
                                                                       no_env) -> None:
    """t36b: with current-context naming no context, the quote hint was not given."""
    path = tmp_path / "kc.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "contexts": [{"name": "my ctx", "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {}}]}))
    code, _, err = cli(capsys, "status", "--kubeconfig", str(path), "--context", "my", "ctx")
    assert code == 2 and f"`kmeshctl status --kubeconfig {path} --context 'my ctx'`" in err, err


def test_a_bad_image_beside_a_bad_cluster_id_is_said_at_once(capsys, no_env) -> None:  # noqa: F811
    """t36b: `--cluster-id 'a b' --image UPPER/x:1` named only --cluster-id (two pastes)."""
    code, _, err = cli(capsys, "render", "--cluster-id", "a b", "--image", "UPPER/x:1")
    assert code == 2 and "--cluster-id 'a b': not a cluster id" in err, err
    assert "also --image UPPER/x:1: repository UPPER/x has capital letters" in err and "--image upper/x:1" in err, err


from kmeshctl import config_dump  # noqa: E402
from test_cli_malformed_answers import serve  # noqa: E402, F401 (fixture)


@pytest.mark.parametrize("output", ["table", "json"])
def test_an_agent_with_no_xds_sync_yet_is_said_not_an_empty_mesh(serve, state_root, capsys, no_env,  # noqa: F811
                                                                 output) -> None:
    """t37a: an agent that never synced printed `No services, ...` as an empty mesh."""
    body = json.dumps({"services": [], "workloads": [], "policies": [], "enrolled": [],
                       "node": {"name": "n1", "locality_source": "unknown", "locality": None},
                       "sync": {"synced": False, "detail": "waiting for the first xDS sync (last error: "
                                                           "UNAVAILABLE: connection refused)"}}).encode()
    port = str(serve({config_dump.CACHE_PATH: (200, body, "application/json")}))
    for quiet in ([], ["-q"]):
        code, out, err = cli(capsys, "dump", "config", "--admin-port", port, "-o", output, *quiet)
        assert code == 0, err
        assert "Warning: the agent has had no xDS sync yet (waiting for the first xDS sync (last error: " \
               "UNAVAILABLE: connection refused)): its cache is not the mesh's state" in err, err
        if output == "json":
            assert json.loads(out)["sync"]["synced"] is False, out


def test_a_tls_session_ended_before_the_upgrades_answer_counts_as_lost() -> None:
    """An exec upgrade whose TLS session the server ended (or cut) before any answer sent
    nothing, as a reset: the demo opens it again (seen in CI as `TLS/SSL connection has been
    closed (EOF)` on the stand-in under load)."""
    import ssl

    from kubernetes.client.exceptions import ApiException

    from kmeshctl.kube import stream_lost_before_answer

    for cause in (ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed (EOF)"),
                  ssl.SSLEOFError(8, "EOF occurred in violation of protocol")):
        try:
            try:
                raise cause
            except ssl.SSLError as err:
                raise ApiException(status=0, reason=str(err))
        except ApiException as lost:
            assert stream_lost_before_answer(lost), cause
