"""Issue 14, tenth new-user pass, the cluster-facing faults of TLS, credentials and the
kubeconfig: one test (or a few) per kind, each across the commands it reaches.

1  no Python warning of any library reaches stderr (an insecure-skip-tls-verify
   kubeconfig: urllib3's InsecureRequestWarning, with its library path, once a request);
2  `version` prints the client's version first whatever the cluster or kubeconfig did,
   and `version --client` says whether a cluster is configured without asking it;
3  a CA in the kubeconfig that is not a PEM certificate is a kubeconfig error naming the
   field; an https:// server answered by plain HTTP says so, with its fix;
4  one diagnosis per failure kind: every command gives the same fix (x509 is the CA,
   never "check that the cluster is up"), precheck's FIX included;
5  precheck: a fix whole and once (DETAIL is the problem only), no suggestion to run
   precheck inside precheck, words never split at 60 columns;
6  "(from $KUBECONFIG)" only on the kubeconfig's own path, not the same text another
   flag was given;
7  an exec credential plugin is bounded by --request-timeout; its
   status.expirationTimestamp must be an RFC 3339 time.

Real parts: the console script (real stderr) or kmeshctl.cli.main in-process; the
stand-in API server (tests/standin) behind a TLS front (a thread relaying each TLS
connection to it, with a self-signed certificate from openssl) where a Kubernetes
cluster must answer over https; http.server on loopback (test_cli_cluster_errors.web)
where a plain or non-Kubernetes server must; real exec plugins (shell scripts)."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from listening import close_listener
from standin_apiserver import cluster  # noqa: F401 (fixture)
from standin import tls
from standin.resources import TOKEN
from test_cli_cluster_errors import kubeconfig, status_body, trusted_by, url, web  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env, run  # noqa: F401
from test_cli_kubeconfig import plugin
from test_xds_client import self_signed

CLUSTER_COMMANDS = [["status"], ["precheck"], ["version"], ["enable-ns", "default"], ["waypoint", "list"],
                    ["uninstall"]]
WARNING_NOISE = ("Warning", "warnings.warn", "site-packages", ".py:")
CA_FIX = "set the cluster's certificate-authority-data (or certificate-authority) in the kubeconfig to the CA"


class TlsFront:
    """Stand-in for an API server's TLS: accepts TLS on 127.0.0.1 with ``cert``/``key``
    and relays each connection's bytes to ``backend_port`` (the stand-in, over its own
    TLS). Each end is a tls.TlsConnection: the two relay threads read and write both ends,
    and an SSL object must not be used by two threads at once."""

    def __init__(self, backend_port: int, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.backend_port = backend_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[tls.TlsConnection] = []
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = tls.TlsConnection(self.context.wrap_socket(raw, server_side=True))
        except (ssl.SSLError, OSError):
            raw.close()  # a client that does not trust the certificate: what is tested
            return
        backend = tls.TlsConnection(tls.connect(self.backend_port))
        self.open += [client, backend]
        threading.Thread(target=self._pipe, args=(backend, client), daemon=True).start()
        self._pipe(client, backend)

    @staticmethod
    def _pipe(source: tls.TlsConnection, sink: tls.TlsConnection) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        close_listener(self.listener, self.accepting)
        for sock in self.open:
            sock.close()


@pytest.fixture
def tls_cluster(cluster, tmp_path: Path) -> Iterator[tuple[TlsFront, Path]]:  # noqa: F811
    """The stand-in behind TLS (a certificate for DNS:localhost): (front, its cert file)."""
    key, cert = self_signed(tmp_path, "h44-apiserver")
    front = TlsFront(cluster.server.port, cert, key)
    try:
        yield front, cert
    finally:
        front.stop()


def tls_kubeconfig(path: Path, server: str, **cluster_extra: object) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "cl", "cluster": {"server": server, **cluster_extra}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "cl", "user": "me"}}],
        "users": [{"name": "me", "user": {"token": TOKEN}}]}))
    return path


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------ 1. no Python warnings


@pytest.mark.parametrize("args", [["status"], ["version"], ["precheck"], ["waypoint", "list"]], ids=" ".join)
def test_1_insecure_skip_tls_verify_prints_no_warning(args, cluster, tls_cluster, tmp_path: Path) -> None:  # noqa: F811
    front, _ = tls_cluster
    config = tls_kubeconfig(tmp_path / "insecure.yaml", f"https://127.0.0.1:{front.port}",
                            **{"insecure-skip-tls-verify": True})
    result = run("--kubeconfig", str(config), *args)
    assert "Traceback" not in result.stderr and not any(n in result.stderr for n in WARNING_NOISE), result.stderr
    assert result.returncode in (0, 1) and len(cluster.server.requests) > 1, result  # answered over TLS


def test_1_no_library_warning_of_any_kind_reaches_stderr(tmp_path: Path) -> None:
    """A warning raised inside a command (as a library would) is not shown; a developer's
    own -W still shows it."""
    script = ("import sys, warnings\n"
              "import kmeshctl.versions as v\n"
              "real = v.version_report\n"
              "def noisy(*a, **k):\n"
              "    warnings.warn('h44 library noise', DeprecationWarning)\n"
              "    warnings.warn('h44 library noise', UserWarning)\n"
              "    return real(*a, **k)\n"
              "v.version_report = noisy\n"
              "from kmeshctl.cli import main\n"
              "sys.argv = ['kmeshctl', 'version', '--client']\n"
              "main()\n")
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "PYTHONWARNINGS")}
    quiet = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert quiet.returncode == 0 and quiet.stdout.startswith("Client: ") and quiet.stderr == "", quiet
    loud = subprocess.run([sys.executable, "-W", "always", "-c", script], capture_output=True, text=True, env=env,
                          timeout=60)
    assert "h44 library noise" in loud.stderr, loud


# ------------------------------------------------------------------ 2. version: the client first


def test_2_version_prints_the_client_before_any_cluster_error(web, tmp_path: Path, capsys, no_env) -> None:
    from kmeshctl import __version__

    version_doc = json.dumps({"major": "1", "minor": "30", "gitVersion": "v1.30.2"}).encode()
    server = web(200, version_doc)  # a /version, but no /api: not a Kubernetes API server
    # /version answered, so its Server Version line is printed before the error of what failed after
    cases = {
        "not kubernetes": (kubeconfig(tmp_path / "web.yaml", url(server)), 1, "is not a Kubernetes API server",
                           "Server Version: v1.30.2\n"),
        "bad yaml": (tmp_path / "bad.yaml", 2, "not valid YAML at", ""),
    }
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nclusters: [\n  - bad: : x\n")
    for name, (config, want, words, server_line) in cases.items():
        code, out, err = cli(capsys, "--kubeconfig", str(config), "version")
        assert code == want and out == f"Client: {__version__}\n{server_line}", (name, out, err)
        assert one_line(err).startswith("Error: ") and words in err, (name, err)
        code, out, _ = cli(capsys, "--kubeconfig", str(config), "version", "-o", "json")
        report = json.loads(out)
        assert code == want and report["client"]["version"] == __version__ and words in report["clusterError"], name


def test_2_version_client_says_a_cluster_is_configured_without_asking_it(web, tmp_path: Path, capsys,
                                                                        no_env, monkeypatch) -> None:
    server = web(404, b"not found", "text/plain")
    config = kubeconfig(tmp_path / "kc.yaml", url(server))
    code, out, _ = cli(capsys, "--kubeconfig", str(config), "version", "--client", "-o", "json")
    report = json.loads(out)
    assert code == 0 and report["clusterConfigured"] is True and report["clusterError"] is None, report
    monkeypatch.setenv("KUBECONFIG", str(config))
    code, out, _ = cli(capsys, "version", "--client", "-o", "json")
    assert code == 0 and json.loads(out)["clusterConfigured"] is True
    assert server.paths == []  # never contacted
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    code, out, _ = cli(capsys, "version", "--client", "-o", "json")
    assert code == 0 and json.loads(out)["clusterConfigured"] is False


# ------------------------------------------------------------------ 3. a bad CA; https to plain HTTP


@pytest.mark.parametrize("args", CLUSTER_COMMANDS, ids=" ".join)
def test_3_a_ca_that_is_not_a_certificate_is_a_kubeconfig_error(args, tmp_path: Path, capsys, no_env) -> None:
    garbage = base64.b64encode(b"not a certificate\n").decode()
    config = tls_kubeconfig(tmp_path / "badca.yaml", "https://127.0.0.1:1", **{"certificate-authority-data": garbage})
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    line = one_line(err)
    assert code == 2 and (out.startswith("Client: ") if args == ["version"] else not out), (out, err)
    assert f"the cluster cl in kubeconfig {config}: certificate-authority-data is not a PEM certificate" in line, line
    assert "`base64 -w0 ca.crt`" in line and "cannot reach" not in line and "no answer" not in line, line


def test_3_a_ca_file_that_is_not_a_certificate_is_named(tmp_path: Path, capsys, no_env) -> None:
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIBroken\n-----END CERTIFICATE-----\n")
    config = tls_kubeconfig(tmp_path / "kc.yaml", "https://127.0.0.1:1", **{"certificate-authority": "ca.crt"})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert code == 2 and f"certificate-authority {tmp_path}/ca.crt is not a PEM certificate" in one_line(err), err


@pytest.mark.parametrize("args", CLUSTER_COMMANDS, ids=" ".join)
def test_3_https_answered_by_plain_http_says_so(args, web, tmp_path: Path, capsys, no_env) -> None:
    server = web(404, b"not found", "text/plain")
    config = kubeconfig(tmp_path / "kc.yaml", f"https://127.0.0.1:{server.server_address[1]}")
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    text = out + err
    assert code == 1 and "the server gave an HTTP response to an HTTPS client" in text, text
    assert "write http:// in the kubeconfig's server, or check the port" in text, text
    assert "no answer" not in text and "cluster is up" not in text, text


# ------------------------------------------------------------------ 4. one diagnosis per kind


@pytest.mark.parametrize("args", CLUSTER_COMMANDS, ids=" ".join)
def test_4_an_untrusted_certificate_has_the_ca_fix_in_every_command(args, tls_cluster, tmp_path: Path, capsys,
                                                                    no_env) -> None:
    front, _ = tls_cluster
    config = tls_kubeconfig(tmp_path / "kc.yaml", f"https://localhost:{front.port}")
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    text = " ".join((out + err).split())
    assert code == 1 and "x509: certificate verify failed" in text, text
    assert CA_FIX in text and "cluster is up" not in text, text


def test_4_the_right_ca_connects_and_a_wrong_host_name_is_its_own_kind(tls_cluster, tmp_path: Path, capsys,
                                                                       no_env) -> None:
    front, cert = tls_cluster
    good = tls_kubeconfig(tmp_path / "good.yaml", f"https://localhost:{front.port}",
                          **{"certificate-authority": str(cert)})
    code, out, err = cli(capsys, "--kubeconfig", str(good), "status", "-o", "json")
    assert json.loads(out)["namespace"] == "kmesh-system", err
    by_ip = tls_kubeconfig(tmp_path / "ip.yaml", f"https://127.0.0.1:{front.port}",
                           **{"certificate-authority": str(cert)})
    code, _, err = cli(capsys, "--kubeconfig", str(by_ip), "status")
    assert code == 1 and "x509: certificate is not valid for the server's host name" in one_line(err), err
    assert "tls-server-name" in err and "cluster is up" not in err, err


def test_4_every_error_kind_has_one_problem_and_one_fix() -> None:
    from kmeshctl import kube

    errors = [kube._api_error(401, "GET", "/version", None), kube._api_error(403, "GET", "/api/v1/nodes", None),
              kube.NotKubernetes("x is not a Kubernetes API server", fix=kube.NOT_KUBERNETES_FIX),
              kube.NoClusterConfigured("no cluster configured: /x does not exist", fix="point kmeshctl at a cluster"),
              kube.CredentialPluginFailed("getting credentials: p exited with status 1", "p",
                                          "fix the credential plugin")]  # each raiser passes fix= (h56)
    for err in errors:
        problem, fix = kube.diagnosis(err)
        assert problem and fix and str(err).startswith(f"{problem}; {fix}"), (problem, fix, str(err))
        assert fix not in problem, err
    assert kube.diagnosis(errors[1])[1] == "ask a cluster admin for RBAC permission to list nodes"


# ------------------------------------------------------------------ 5. precheck's DETAIL and FIX


def test_5_a_403_in_precheck_is_fixed_once_and_never_says_run_precheck(web, tmp_path: Path, capsys,
                                                                       no_env) -> None:
    server = web(403, status_body(403, "Forbidden", 'forbidden: User "bob" cannot get path "/version"'), https=True)
    config = kubeconfig(tmp_path / "k403.yaml", url(server), **trusted_by())
    code, out, _ = cli(capsys, "--kubeconfig", str(config), "precheck", "-o", "json")
    row = json.loads(out)["checks"][0]
    assert code == 1 and row["fix"] == "ask a cluster admin for RBAC permission to get path /version (`kubectl " \
        f"auth can-i get /version --kubeconfig {config}` checks it)", row
    assert row["detail"] == 'Forbidden: forbidden: User "bob" cannot get path "/version"', row
    assert "precheck" not in out.replace(str(config), "K"), out


def test_5_a_check_refused_names_the_permission_whole() -> None:
    """A check the cluster will not let run: its FIX is the permission refused, not a cut
    "...the RBAC permission named"."""
    from kmeshctl import kube
    from kmeshctl.precheck import run_prechecks

    class Refusing:
        host = "https://h44.invalid"

        def server_version(self) -> dict:
            return {"major": "1", "minor": "30", "gitVersion": "v1.30.2"}

        def is_served(self, api_version: str, kind: str) -> bool:
            raise kube._api_error(403, "GET", "/apis", None)

        def list(self, api_version: str, kind: str, *args: object, **kwargs: object) -> list:
            raise kube._api_error(403, "GET", "/api/v1/nodes" if kind == "Node" else "/api/v1/services", None)

        def get(self, api_version: str, kind: str, name: str, *args: object) -> dict:  # the Pod Security check (h93)
            raise kube._api_error(403, "GET", f"/api/v1/namespaces/{name}", None)

    rows = run_prechecks(Refusing(), "kmesh-system", "istio-system")  # type: ignore[arg-type]
    failed = [r for r in rows if r.status == "fail"]
    assert failed and all(r.fix.startswith("ask a cluster admin for RBAC permission to ") for r in failed), rows
    assert any(r.fix.endswith("list nodes (`kubectl auth can-i list nodes -A` checks it)") for r in failed), rows
    assert not any("named" in r.fix or "precheck" in r.fix or (r.fix and r.fix in r.detail) for r in rows), rows


def test_5_precheck_at_60_columns_never_splits_a_word(monkeypatch) -> None:
    from kmeshctl.cli import cluster as cluster_cli
    from kmeshctl.cli.tables import PipeFriendlyConsole

    buffer = io.StringIO()
    monkeypatch.setattr(cluster_cli, "out", lambda output=None: PipeFriendlyConsole(
        file=buffer, width=60, force_terminal=True, color_system=None, highlight=False, soft_wrap=True))
    rows = [{"name": "API reachable", "status": "fail",
             "detail": "cannot reach the Kubernetes API at https://127.0.0.1:44441 (x509: certificate verify failed; "
                       "kubeconfig /tmp/h44-kc.yaml, context ctx)",
             "fix": f"{CA_FIX} that signed the API server's certificate, or pass --kubeconfig/--context of another "
                    "cluster"}]
    cluster_cli.print_checks(rows, cluster_cli.OutputFormat.table)
    text = buffer.getvalue()
    shown = set(text.split())
    for word in (rows[0]["detail"] + " " + rows[0]["fix"]).split():
        assert word in shown, (word, text)
    assert "…" not in text and all(len(line) <= 60 or " " not in line.strip() for line in text.splitlines()), text
    assert text.count("--kubeconfig/--context") == 1 and text.count("certificate verify failed") == 1, text


# ------------------------------------------------------------------ 6. "(from $KUBECONFIG)"


def test_6_only_the_kubeconfig_path_is_marked_as_from_the_variable(tmp_path: Path) -> None:
    config = tls_kubeconfig(tmp_path / "kc.yaml", "https://127.0.0.1:1")
    env = {"KUBECONFIG": str(config)}
    crd = run("render", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012", "--crd-file",
              str(config), env=env)
    assert crd.returncode == 2 and f"--crd-file {config}:" in crd.stderr and "$KUBECONFIG" not in crd.stderr, crd
    bpf = run("node", "cleanup", "--bpf-fs", str(config), env=env)
    assert f"--bpf-fs {config}:" in bpf.stderr and "$KUBECONFIG" not in bpf.stderr, bpf
    missing = run("status", env={"KUBECONFIG": str(tmp_path / "gone.yaml")})
    assert missing.returncode == 2 and "$KUBECONFIG" in missing.stderr, missing  # the kubeconfig's own: named


# ------------------------------------------------------------------ 7. exec credential plugins


def _exec_user(script: Path) -> dict:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script),
                     "interactiveMode": "Never"}}


def test_7_a_hanging_plugin_is_stopped_at_the_request_timeout(tmp_path: Path, capsys, no_env) -> None:
    script = plugin(tmp_path / "hang.sh", "exec sleep 60\n")
    config = tls_kubeconfig(tmp_path / "kc.yaml", "https://127.0.0.1:1")
    data = yaml.safe_load(config.read_text())
    data["users"][0]["user"] = _exec_user(script)
    config.write_text(yaml.safe_dump(data))
    for args in (["--request-timeout", "1s", "status"], ["status", "--request-timeout", "1500ms"]):
        started = time.monotonic()
        code, _, err = cli(capsys, "--kubeconfig", str(config), *args)
        assert code == 1 and time.monotonic() - started < 6, err
        assert "did not answer within 1" in one_line(err) and "(--request-timeout; it was stopped)" in err, err


@pytest.mark.parametrize("expires", ["tomorrow", "2030-13-40T00:00:00Z", "2030-01-02 15:04:05", 1893456000])
def test_7_an_expiration_that_is_not_rfc3339_is_refused(expires, tmp_path: Path, capsys, no_env) -> None:
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": TOKEN, "expirationTimestamp": expires}}
    script = plugin(tmp_path / "cred.sh", f"echo '{json.dumps(credential)}'\n")
    config = tls_kubeconfig(tmp_path / "kc.yaml", "https://127.0.0.1:1")
    data = yaml.safe_load(config.read_text())
    data["users"][0]["user"] = _exec_user(script)
    config.write_text(yaml.safe_dump(data))
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 1 and f"exec plugin {script} of user me" in line, line
    assert "status.expirationTimestamp" in line and "is not an RFC 3339 time" in line, line


def test_7_an_rfc3339_expiration_logs_in(cluster, tmp_path: Path) -> None:  # noqa: F811
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": TOKEN, "expirationTimestamp": "2099-01-02T15:04:05.123456789Z"}}
    script = plugin(tmp_path / "cred.sh", f"echo '{json.dumps(credential)}'\n")
    entry = dict(yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"])  # the stand-in, its CA
    config = tls_kubeconfig(tmp_path / "kc.yaml", entry.pop("server"), **entry)
    data = yaml.safe_load(config.read_text())
    data["users"][0]["user"] = _exec_user(script)
    config.write_text(yaml.safe_dump(data))
    cluster.kubeconfig = config
    result = cluster.kmeshctl("status", "-o", "json")
    assert json.loads(result.out)["namespace"] == "kmesh-system", result.err
