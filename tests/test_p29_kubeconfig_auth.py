"""Issue 14, pass 29: a kubeconfig user's auth-provider and a cluster's proxy-url, read as
kubectl (1.26 and later) reads them, the same one line on every command that loads a
kubeconfig: gcp and azure removed (the client library crashed on gcp, sent no
credentials for azure), oidc's fields and id-token checked (a token that is not a JWT was
"not UTF-8"), an unreachable issuer a failure to reach (was a urllib3 traceback), a socks5
proxy used (was `No module named 'socks'`) and a proxy that is not reached named as such;
a kubeconfig section that is a mapping described in words, not a Python repr.

Real parts: kmeshctl.cli.main in-process; loopback port 1 and 2 where nothing listens; a
tiny SOCKS5 server on loopback that answers every CONNECT with "connection refused"."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from standin import tls
from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)
from test_cli_kubeconfig import DEAD, LOADERS, first_output, kubeconfig, one_line

# the commands of the new-user report that crashed, beyond the kubeconfig tests' loaders
COMMANDS = LOADERS + [["install", "--cluster-id", "c1", "--dry-run"], ["uninstall", "--dry-run"]]


def jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


def oidc(**config: str) -> dict:
    return {"auth-provider": {"name": "oidc", "config": {"client-id": "k", "idp-issuer-url": DEAD, **config}}}


EXPIRED = jwt({"exp": 1500000000})


# ------------------------------------------------------------------ 1. removed and unknown auth providers


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("provider", [{"name": "gcp"}, {"name": "gcp", "config": {"access-token": "x",
                                                                                 "expiry": "2020-01-01T00:00:00Z"}}],
                         ids=["bare", "expired-token"])
def test_the_gcp_auth_provider_is_refused_as_removed(args: list[str], provider: dict, tmp_path: Path, capsys,
                                                     no_env) -> None:
    config = kubeconfig(tmp_path / "kc", user={"auth-provider": provider})
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    line = one_line(err)
    assert code == 2 and out == first_output(args), err
    assert line.startswith(f"Error: the gcp auth plugin has been removed (user me in kubeconfig {config}, context "
                           "ctx); use gke-gcloud-auth-plugin (an exec credential plugin); "), line
    assert f"`KUBECONFIG={config} gcloud container clusters get-credentials CLUSTER`" in line, line


def test_the_azure_auth_provider_is_refused_as_removed_not_ignored(tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", user={"auth-provider": {"name": "azure", "config": {"tenant-id": "t"}}})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 2 and "the azure auth plugin has been removed (user me in kubeconfig" in line, line
    assert f"`KUBECONFIG={config} kubelogin convert-kubeconfig -l azurecli`" in line and "cannot reach" not in line


@pytest.mark.parametrize("provider,named", [({"name": "openstack"}, "auth-provider openstack"),
                                            ({}, "an auth-provider without a name")], ids=["unknown", "nameless"])
def test_an_auth_provider_kubectl_never_had_is_refused(provider: dict, named: str, tmp_path: Path, capsys,
                                                       no_env) -> None:
    config = kubeconfig(tmp_path / "kc", user={"auth-provider": provider})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "precheck")
    line = one_line(err)
    assert code == 2 and f"{named} is not one kubectl has (its only one is oidc)" in line, line


def test_the_default_kubeconfig_with_a_removed_provider_is_a_failure(tmp_path: Path, monkeypatch, capsys,
                                                                     no_env) -> None:
    """Not named by the user (~/.kube/config): exit 1, as every other fault of that file."""
    (tmp_path / ".kube").mkdir()
    kubeconfig(tmp_path / ".kube" / "config", user={"auth-provider": {"name": "gcp"}})
    monkeypatch.setenv("HOME", str(tmp_path))
    code, _, err = cli(capsys, "status")
    line = one_line(err)
    assert code == 1 and "the gcp auth plugin has been removed" in line and "`gcloud container" in line, line


# ------------------------------------------------------------------ 2. oidc


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_an_unreachable_oidc_issuer_is_named_in_one_line(args: list[str], tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", user=oidc(**{"id-token": EXPIRED, "refresh-token": "r"}))
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    if args == ["precheck"]:  # its report says it, as of an API server not reached
        assert code == 1 and f"the OIDC issuer {DEAD} could not be reached (connection refused)" in out, out
        return
    line = one_line(err)
    assert code == 1 and out == first_output(args), err
    assert line.startswith(f"Error: cannot renew the expired oidc id-token of user me in kubeconfig {config} "
                           f"(context ctx): the OIDC issuer {DEAD} could not be reached (connection refused); "), line
    assert f"kubectl config set-credentials me --kubeconfig {config} --auth-provider-arg=id-token=TOKEN" in line


@pytest.mark.parametrize("args,key", [(["precheck", "-o", "json"], "checks"), (["version", "-o", "json"],
                                                                               "clusterError")])
def test_an_unreachable_oidc_issuer_still_gives_the_json_report(args: list[str], key: str, tmp_path: Path, capsys,
                                                                no_env) -> None:
    config = kubeconfig(tmp_path / "kc", user=oidc(**{"id-token": EXPIRED, "refresh-token": "r"}))
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    assert code == 1 and f"the OIDC issuer {DEAD} could not be reached" in json.dumps(json.loads(out)[key]), (out, err)
    assert "Traceback" not in err and "MaxRetryError" not in err + out


def test_an_expired_id_token_without_a_refresh_token_is_said_without_asking_the_issuer(tmp_path: Path, capsys,
                                                                                       no_env) -> None:
    config = kubeconfig(tmp_path / "kc", user=oidc(**{"id-token": EXPIRED}))
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 1 and "the oidc id-token of user me in kubeconfig" in line, line
    assert "has expired and there is no refresh-token to renew it" in line and "could not be reached" not in line


@pytest.mark.parametrize("token,why", [("abc.def.ghi", "its middle part is not base64url of a JSON object"),
                                       ("abc", "1 part, not 3 separated by dots"),
                                       ("a+b.c/d.e=", "a part is not base64url"),
                                       (jwt({"exp": "soon"}), "its exp claim is not a number")])
def test_an_id_token_that_is_not_a_jwt_is_named(token: str, why: str, tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", user=oidc(**{"id-token": token}))
    code, out, err = cli(capsys, "--kubeconfig", str(config), "version")
    line = one_line(err)
    assert code == 2 and out == first_output(["version"])
    assert line.startswith(f"Error: id-token of user me in kubeconfig {config}, context ctx is not a JWT ({why}"), line
    assert "utf-8" not in line and "codec" not in line


@pytest.mark.parametrize("missing", ["idp-issuer-url", "client-id", "id-token"])
def test_an_oidc_user_without_a_required_field_is_named(missing: str, tmp_path: Path, capsys, no_env) -> None:
    user = oidc(**{"id-token": jwt({})})
    del user["auth-provider"]["config"][missing]
    config = kubeconfig(tmp_path / "kc", user=user)
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 2 and f"auth-provider oidc has no {missing}" in line, line
    assert "kubectl config set-credentials me --kubeconfig" in line


def test_a_valid_unexpired_id_token_goes_to_the_api_server(tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", user=oidc(**{"id-token": jwt({"exp": time.time() + 3600})}))
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert code == 1 and f"cannot reach the Kubernetes API at {DEAD} (connection refused" in one_line(err), err


def test_oidc_next_to_an_exec_plugin_is_refused_as_kubectl(tmp_path: Path, capsys, no_env) -> None:
    user = {**oidc(**{"id-token": jwt({})}), "exec": {"command": "true", "apiVersion": "v1"}}
    code, _, err = cli(capsys, "--kubeconfig", str(kubeconfig(tmp_path / "kc", user=user)), "status")
    assert code == 2 and "auth-provider and exec are both set (kubectl allows one)" in one_line(err), err


# ------------------------------------------------------------------ 3. proxies


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("proxy", ["socks5://127.0.0.1:2", "http://127.0.0.1:2"])
def test_a_proxy_that_is_not_reached_is_named(args: list[str], proxy: str, tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", cluster={"server": DEAD, "proxy-url": proxy})
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    said = f"cannot reach the Kubernetes API at {DEAD} through proxy {proxy} (proxyconnect: connection refused; "
    if args == ["precheck"]:
        assert code == 1 and said in " ".join(out.split()), out
        return
    line = one_line(err)
    assert code == 1 and out == first_output(args), err
    assert line.startswith(f"Error: {said}") and "the cluster's proxy-url in the kubeconfig" in line, line


@pytest.fixture
def refusing_socks5() -> Iterator[int]:
    """A SOCKS5 proxy on loopback that answers every CONNECT with reply 5 (connection refused)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                peer, _ = server.accept()
            except OSError:
                continue
            with peer:
                peer.recv(16)
                peer.sendall(b"\x05\x00")  # no authentication
                peer.recv(512)
                peer.sendall(b"\x05\x05\x00\x01" + bytes(6))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    thread.join(5)
    server.close()


def test_a_socks5_proxy_is_used_and_its_answer_reported(refusing_socks5: int, tmp_path: Path, capsys,
                                                        no_env) -> None:
    proxy = f"socks5://127.0.0.1:{refusing_socks5}"
    server = "https://kmesh-p29.invalid:6443"  # resolved by the proxy, as kubectl: never looked up here
    config = kubeconfig(tmp_path / "kc", cluster={"server": server, "proxy-url": proxy})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 1 and line.startswith(f"Error: cannot reach the Kubernetes API at {server} through proxy {proxy} "
                                         "(connection refused, the proxy answered; "), line


@pytest.mark.parametrize("proxy,problem", [("socks4://127.0.0.1:2", "has scheme socks4 (kubectl takes http, https, "
                                                                    "socks5)"),
                                           ("localhost:3128", "has no scheme"),
                                           ("http://", "has no host"),
                                           ("http://127.0.0.1:99999", "has a port that is not a number from 1 to")])
def test_a_proxy_url_kubectl_does_not_take_is_bad_input(proxy: str, problem: str, tmp_path: Path, capsys,
                                                        no_env) -> None:
    config = kubeconfig(tmp_path / "kc", cluster={"server": DEAD, "proxy-url": proxy})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 2 and f"the cluster cl in kubeconfig {config}: proxy-url {proxy} {problem}" in line, line


def test_a_socks5_proxy_without_pysocks_is_refused_in_one_line(tmp_path: Path, capsys, monkeypatch, no_env) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "socks" else find_spec(name, *a))
    config = kubeconfig(tmp_path / "kc", cluster={"server": DEAD, "proxy-url": "socks5://127.0.0.1:2"})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 2 and "needs the PySocks package, which is not installed; install it (`pip install PySocks`)" \
        in line, line


# ------------------------------------------------------------------ 4. a section that is a mapping


@pytest.mark.parametrize("section,value,said", [("clusters", {"c1": {"server": "x"}}, "a mapping, not a list of "
                                                 "named entries (- name: c1 ...)"),
                                                ("users", 5, "a number, not a list of named entries (- name: ...)")])
def test_a_section_that_is_not_a_list_is_described_not_printed(section: str, value: object, said: str,
                                                               tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc")
    document = yaml.safe_load(config.read_text())
    document[section] = value
    config.write_text(yaml.safe_dump(document))
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 2 and f"cannot load kubeconfig {config}: its {section} is {said}; " in line, line
    assert "{" not in line and "'" not in line.split(";")[0]  # no repr, no shell quoting of one


# ------------------------------------------------------------------ 5. an issuer that answers


@pytest.fixture
def issuer() -> Iterator[dict]:
    """One loopback HTTPS server as the OIDC issuer (discovery, token endpoint) and as the
    API server (answers 401 to /version); ``seen`` records each request's path, form and
    Authorization header; ``token`` is what the token endpoint answers (a dict, or an
    (HTTP status, body) pair). HTTPS with the stand-in's certificate (``ca``, base64):
    kubectl sends no credentials to an http:// API server."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    state: dict = {"seen": [], "token": {"id_token": jwt({"exp": time.time() + 3600}), "refresh_token": "r2"}}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state["seen"].append((self.path, {}, self.headers.get("Authorization")))
            if self.path == "/.well-known/openid-configuration":
                self.answer(200, {"issuer": state["url"], "token_endpoint": state["url"] + "/token"})
            else:
                self.answer(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 401,
                                  "reason": "Unauthorized", "message": "Unauthorized"})

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
            state["seen"].append((self.path, form, self.headers.get("Authorization")))
            token = state["token"]
            self.answer(*(token if isinstance(token, tuple) else (200, token)))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
    state["url"], state["ca"] = f"https://127.0.0.1:{server.server_address[1]}", tls.ca_data()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_an_expired_id_token_is_renewed_and_the_new_one_sent(issuer: dict, tmp_path: Path, capsys, no_env) -> None:
    user = oidc(**{"id-token": EXPIRED, "refresh-token": "r1", "client-secret": "s", "idp-issuer-url": issuer["url"],
                   "idp-certificate-authority-data": issuer["ca"]})
    config = kubeconfig(tmp_path / "kc", cluster={"server": issuer["url"], "certificate-authority-data": issuer["ca"]},
                        user=user)
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert code == 1 and one_line(err).startswith("Error: You must be logged in to the server (Unauthorized)"), err
    paths = [seen[0] for seen in issuer["seen"]]
    assert paths[:2] == ["/.well-known/openid-configuration", "/token"], paths
    _, form, basic = issuer["seen"][1]
    assert form == {"grant_type": ["refresh_token"], "refresh_token": ["r1"]}
    assert basic == "Basic " + base64.b64encode(b"k:s").decode()
    assert issuer["seen"][2][2] == f"Bearer {issuer['token']['id_token']}", issuer["seen"]
    assert "Traceback" not in err


def test_an_issuer_that_refuses_to_renew_is_a_failure_saying_why(issuer: dict, tmp_path: Path, capsys,
                                                                 no_env) -> None:
    issuer["token"] = (400, {"error": "invalid_grant", "error_description": "refresh token expired"})
    user = oidc(**{"id-token": EXPIRED, "refresh-token": "r1", "idp-issuer-url": issuer["url"],
                   "idp-certificate-authority-data": issuer["ca"]})
    config = kubeconfig(tmp_path / "kc", user=user)
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 1 and f"the OIDC issuer {issuer['url']} gave no new one (POST {issuer['url']}/token was answered " \
        "HTTP 400: invalid_grant); log in again" in line, line
    assert issuer["seen"][1][1]["client_id"] == ["k"]  # no client-secret: the id goes in the form


def test_an_issuer_that_does_not_answer_is_given_the_request_timeout(tmp_path: Path, capsys, no_env) -> None:
    silent = socket.create_server(("127.0.0.1", 0))
    with silent:
        url = f"https://127.0.0.1:{silent.getsockname()[1]}"
        config = kubeconfig(tmp_path / "kc", user=oidc(**{"id-token": EXPIRED, "refresh-token": "r",
                                                          "idp-issuer-url": url}))
        started = time.monotonic()
        code, _, err = cli(capsys, "--kubeconfig", str(config), "--request-timeout", "1s", "status")
    line = one_line(err)
    assert code == 1 and f"the OIDC issuer {url} could not be reached (i/o timeout)" in line, line
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("field,value,said", [("idp-certificate-authority-data", "not base64!", "is not valid base64"),
                                              ("idp-certificate-authority", "/nonexistent/ca.crt", "is not a file")])
def test_an_issuer_ca_that_cannot_be_used_is_named(field: str, value: str, said: str, tmp_path: Path, capsys,
                                                   no_env) -> None:
    user = oidc(**{"id-token": EXPIRED, "refresh-token": "r", field: value})
    code, _, err = cli(capsys, "--kubeconfig", str(kubeconfig(tmp_path / "kc", user=user)), "status")
    line = one_line(err)
    assert code == 2 and f"{field}" in line and f"of auth-provider oidc {said}" in line, line


def test_an_oidc_user_with_only_a_refresh_token_gets_its_first_id_token(issuer: dict, tmp_path: Path, capsys,
                                                                        no_env) -> None:
    user = oidc(**{"refresh-token": "r1", "idp-issuer-url": issuer["url"],
                   "idp-certificate-authority-data": issuer["ca"]})
    config = kubeconfig(tmp_path / "kc", cluster={"server": issuer["url"], "certificate-authority-data": issuer["ca"]},
                        user=user)
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert code == 1 and "(Unauthorized)" in one_line(err), err
    assert issuer["seen"][2][2] == f"Bearer {issuer['token']['id_token']}", issuer["seen"]
