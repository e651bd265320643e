"""Issue 14, sixth new-user pass, the cluster commands: one test per kind, each across the
commands that talk to a cluster.

Real parts: kmeshctl.cli.main in-process; real HTTP servers on free loopback ports
(http.server in a thread: a plain web server answering 404, one answering 401 / 403 with
a Kubernetes Status (the 401 also over HTTPS with the stand-in's certificate: credentials
go to an https:// server only), one answering JSON that is not a version document), each stopped
after its test; the stand-in API server (tests/standin) where a Kubernetes cluster must
answer; loopback port 1 where nothing must."""

from __future__ import annotations

import http.server
import json
import re
import threading
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from standin import tls
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env  # noqa: F401

CLUSTER_COMMANDS = [["status"], ["precheck"], ["version"], ["uninstall"], ["enable-ns", "default"],
                    ["waypoint", "list"]]


class _Answer(http.server.BaseHTTPRequestHandler):
    """Every request answered with the server's (status, body, content type)."""

    def _answer(self) -> None:
        status, body, kind = self.server.answer  # type: ignore[attr-defined]
        self.server.paths.append((self.command, self.path))  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator:
    """Start a loopback HTTP server answering (status, body, content type) to everything."""
    started: list[http.server.ThreadingHTTPServer] = []

    def start(status: int, body: bytes, kind: str = "application/json",
              https: bool = False) -> http.server.ThreadingHTTPServer:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
        if https:  # the stand-in's certificate (tests/standin/tls.py): trusted with trusted_by()
            server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
        server.answer, server.paths, server.https = (status, body, kind), [], https  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def kubeconfig(path: Path, server: str, user: str = "me", current: str = "ctx", **cluster_extra: object) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "cl", "cluster": {"server": server, **cluster_extra}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "cl", "user": user}},
                     {"name": "other", "context": {"cluster": "cl", "user": "me"}}],
        "users": [{"name": "me", "user": {"token": "x"}}]}))
    return path


def status_body(code: int, reason: str, message: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                       "reason": reason, "code": code}).encode()


def url(server: http.server.ThreadingHTTPServer) -> str:
    scheme = "https" if getattr(server, "https", False) else "http"
    return f"{scheme}://127.0.0.1:{server.server_address[1]}"


def trusted_by() -> dict[str, str]:
    """A kubeconfig cluster's fields that trust an https `web` server (and the stand-in)."""
    return {"certificate-authority-data": tls.ca_data()}


# ------------------------------------------------------------------ 1. not a Kubernetes API server


@pytest.mark.parametrize("answer", [(404, b"404 page not found", "text/plain"),
                                    (200, b"<html>hello</html>", "text/html"),
                                    (200, b'{"hello": "world"}', "application/json")],
                         ids=["404", "html", "json"])
@pytest.mark.parametrize("args", CLUSTER_COMMANDS, ids=" ".join)
def test_1_a_server_that_is_not_kubernetes_is_named_so_never_a_pass(args, answer, web, tmp_path, capsys,
                                                                     no_env) -> None:
    server = web(*answer)
    config = kubeconfig(tmp_path / "web.yaml", url(server))
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    text = out + err
    assert code == 1, text
    assert f"{url(server)} is not a Kubernetes API server" in text, text
    assert not re.search(r"\bpass\s{2,}|\"pass\"", text) and "does not serve" not in text, text


def test_1_precheck_on_a_web_server_is_one_failed_row_and_sends_no_review(web, tmp_path, capsys, no_env) -> None:
    server = web(404, b"not found", "text/plain")
    config = kubeconfig(tmp_path / "web.yaml", url(server))
    code, out, _ = cli(capsys, "--kubeconfig", str(config), "precheck", "-o", "json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False, out
    assert [c["status"] for c in report["checks"]] == ["fail"], report
    assert "GET /version answered 404" in report["checks"][0]["detail"], report
    assert not [p for m, p in server.paths if m == "POST"], server.paths  # no SelfSubjectAccessReview


def test_1_a_permission_not_checked_is_never_a_pass() -> None:
    """The kinds install creates are not served: nothing was asked, so nothing passed."""
    from kmeshctl.precheck import check_permissions

    class NothingServed:
        def is_served(self, api_version: str, kind: str) -> bool:
            return False

    result = check_permissions(NothingServed(), "kmesh-system", "istio-system")  # type: ignore[arg-type]
    assert result.status == "fail" and "not checked" in result.detail, result


def test_1_a_permission_review_without_status_is_not_allowed() -> None:
    from kmeshctl.errors import KmeshctlError
    from kmeshctl.precheck import can_i

    class Empty:
        def create(self, *args: object) -> dict:
            return {}

    with pytest.raises(KmeshctlError, match="without a status"):
        can_i(Empty(), "get", "apps", "daemonsets", "kmesh-system")  # type: ignore[arg-type]


# ------------------------------------------------------------------ 2. 401 and 403 as kubectl words them


@pytest.mark.parametrize("args", CLUSTER_COMMANDS, ids=" ".join)
def test_2_unauthorized_names_the_user_and_kubeconfig(args, web, tmp_path, capsys, no_env) -> None:
    # over https: kubectl (and kmeshctl) sends a user's credentials to an https:// server only
    server = web(401, status_body(401, "Unauthorized", "Unauthorized"), https=True)
    config = kubeconfig(tmp_path / "k401.yaml", url(server), **trusted_by())
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    text = out + err
    assert code == 1, text
    assert "You must be logged in to the server (Unauthorized)" in text, text
    assert f"fix the credentials of user me in kubeconfig {config}" in text, text
    assert "RBAC" not in text, text


def test_2_unauthorized_over_http_says_no_credentials_were_sent(web, tmp_path, capsys, no_env) -> None:
    server = web(401, status_body(401, "Unauthorized", "Unauthorized"))
    config = kubeconfig(tmp_path / "k401.yaml", url(server))
    code, out, err = cli(capsys, "--kubeconfig", str(config), "status")
    text = " ".join((out + err).split())
    assert code == 1 and "You must be logged in to the server (Unauthorized)" in text, text
    assert "no credentials (the server is http://" in text and "over https only" in text, text
    assert text.rstrip().endswith("write the API server's https:// address in the kubeconfig's server"), text


@pytest.mark.parametrize("args", CLUSTER_COMMANDS, ids=" ".join)
def test_2_forbidden_names_what_was_refused_and_keeps_the_kubeconfig_flags(args, web, tmp_path, capsys,
                                                                           no_env) -> None:
    # over https, where bob's credentials go (over http, a 403 is anonymous's: test_p36_lead)
    server = web(403, status_body(403, "Forbidden", 'forbidden: User "bob" cannot get path "/version"'), https=True)
    config = kubeconfig(tmp_path / "k403.yaml", url(server), **trusted_by())
    code, out, err = cli(capsys, "--kubeconfig", str(config), "--context", "ctx", *args)
    text = out + err
    assert code == 1, text
    assert 'Forbidden: forbidden: User "bob" cannot get path "/version"' in text, text
    assert "RBAC permission to get path /version" in text, text
    if args == ["precheck"]:  # never a suggestion to run the command that is running
        assert "`kmeshctl" not in text and "lists what install needs" not in text, text
    else:  # h117 (M7): what is true for every command, kubectl's own check of the refused call, not install's list
        assert f"(`kubectl auth can-i get /version --kubeconfig {config} --context ctx` checks it)" in text, text
        assert "lists what install needs" not in text, text


def test_2_forbidden_names_the_verb_and_resource_of_the_call() -> None:
    from kmeshctl.kube import rbac_request

    assert rbac_request("GET", "/apis/apps/v1/namespaces/kmesh-system/daemonsets/kmesh") == \
        "get daemonsets.apps in namespace kmesh-system"
    assert rbac_request("GET", "/api/v1/pods") == "list pods"
    assert rbac_request("PATCH", "/api/v1/namespaces/default") == "patch namespaces"
    assert rbac_request("WATCH", "/api/v1/namespaces/a/pods") == "watch pods in namespace a"
    assert rbac_request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") == \
        "create selfsubjectaccessreviews.authorization.k8s.io"


# ------------------------------------------------------------------ 3. install suggestions that paste


def test_3_not_installed_suggests_an_install_that_names_its_required_flag(cluster, capsys) -> None:
    result = cluster.kmeshctl("status")
    line = next(li for li in result.out.splitlines() if li.startswith("Not installed"))
    assert result.code == 1, result
    assert f"`kmeshctl --kubeconfig {cluster.kubeconfig} install --cluster-id ID` with ID this cluster's id" in line
    assert "`kmeshctl --kubeconfig" in line.split("install --help")[0].rsplit(";", 1)[1], line


def test_3_version_without_agents_suggests_the_same_install(cluster, capsys) -> None:
    result = cluster.kmeshctl("version")
    assert f"`kmeshctl --kubeconfig {cluster.kubeconfig} install --cluster-id ID`" in result.out, result


def test_3_the_suggested_install_runs_when_id_is_filled_in(cluster, capsys) -> None:
    """The suggestion, with its placeholder replaced, gets past every flag check."""
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run", "-o", "json")
    assert result.code == 0, result


# ------------------------------------------------------------------ 5. kubeconfig entries


@pytest.mark.parametrize("args", CLUSTER_COMMANDS, ids=" ".join)
def test_5_a_current_context_that_is_not_there_lists_the_contexts(args, tmp_path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "wrongcur.yaml", "https://127.0.0.1:1", current="gone")
    code, _, err = cli(capsys, "--kubeconfig", str(config), *args)
    assert code == 2 and f"kubeconfig {config}: current-context gone is not one of its contexts (contexts: " \
        "ctx, other)" in err, err
    assert "Invalid kube-config" not in err


def test_5_no_clusters_and_a_missing_user_are_named(tmp_path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "ghost.yaml", "https://127.0.0.1:1", user="ghost")
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert code == 2 and "names user ghost, which is not there (users: me)" in err, err
    empty = tmp_path / "noclusters.yaml"
    data = yaml.safe_load(config.read_text())
    data["clusters"] = []
    empty.write_text(yaml.safe_dump(data))
    code, _, err = cli(capsys, "--kubeconfig", str(empty), "--context", "other", "status")
    assert code == 2 and "names cluster cl, which is not there (clusters: none)" in err, err


def test_5_bad_base64_names_the_field_and_the_cluster(tmp_path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "badca.yaml", "https://127.0.0.1:1", **{"certificate-authority-data": "!!x"})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "precheck")
    assert code == 2 and f"the cluster cl in kubeconfig {config}: certificate-authority-data is not valid " \
        "base64" in err, err


# ------------------------------------------------------------------ 6. malformed server URLs


@pytest.mark.parametrize("server,problem", [("not a url", "'not a url': not a URL"),
                                            ("https://127.0.0.1:99999", "port 99999 is out of range (1-65535)"),
                                            ("https://", "not a URL"),
                                            ("ftp://host:1", "scheme ftp is not supported")])
def test_6_a_malformed_server_is_bad_input_not_no_answer(server, problem, tmp_path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc.yaml", server)
    for args in (["status"], ["precheck"], ["version"]):
        code, _, err = cli(capsys, "--kubeconfig", str(config), *args)
        assert code == 2 and problem in err and "cannot reach" not in err, (args, err)


def test_6_https_against_an_http_port_says_so(web, tmp_path, capsys, no_env) -> None:
    server = web(404, b"not found", "text/plain")
    config = kubeconfig(tmp_path / "kc.yaml", f"https://127.0.0.1:{server.server_address[1]}")
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert code == 1 and "(the server gave an HTTP response to an HTTPS client;" in err, err
    assert "write http:// in the kubeconfig's server, or check the port" in err and "cluster is up" not in err, err


# ------------------------------------------------------------------ 13. version's JSON


def test_13_every_version_json_field_is_documented(cluster, capsys) -> None:
    result = cluster.kmeshctl("version", "-o", "json")
    report = json.loads(result.out)
    usage = (Path(__file__).parent.parent / "docs" / "usage.md").read_text()
    names = set(report) | set(report["cluster"])
    assert report["cluster"]["serverVersion"].startswith("v1."), report
    for name in names:
        assert f'"{name}"' in usage, name
