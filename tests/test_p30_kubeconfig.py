"""Issue 14, pass 30 (new-user tester t30b): a kubeconfig user that kubectl refuses before
connecting is refused so here too, one line naming the user and the field, exit 2, never
"cannot reach": a client certificate that does not load or has no key, a token next to a
username/password, an exec plugin without a usable apiVersion; a missing plugin's
installHint is the fix; an empty KUBECONFIG entry keeps the message whole; a server
without a scheme gets the scheme kubectl gives it (http, whatever TLS settings: session 28).

Real parts: kmeshctl.cli.main in-process, certificates from openssl, real exec plugins
(shell scripts in tmp_path), loopback port 1 where nothing listens."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from test_cli_kinds import cli, no_env  # noqa: F401

DEAD = "https://127.0.0.1:1"  # loopback port 1: nothing listens
LOADERS = [["status"], ["precheck"], ["waypoint", "list"]]
NOISE = ("ERROR:root", "WARNING:", "Traceback", "Retrying")


def kubeconfig(path: Path, user: dict, server: str = DEAD, **cluster: object) -> Path:
    """One context `ctx` (cluster `cl` at ``server``, user `me` with the body ``user``)."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "cl", "cluster": {"server": server, **cluster}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "cl", "user": "me"}}],
        "users": [{"name": "me", "user": user}]}))
    return path


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and not any(n in err for n in NOISE), err
    return lines[0]


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def pems(tmp_path_factory) -> dict[str, Path]:
    """Two self-signed certificates with their keys (a.crt/a.key, b.crt/b.key) and a.key encrypted
    (enc.key PKCS#8, legacy.key OpenSSL's traditional form)."""
    where = tmp_path_factory.mktemp("pems")
    for name in ("a", "b"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", str(where / f"{name}.key"), "-out", str(where / f"{name}.crt"),
                        "-subj", "/CN=p30", "-days", "1"], check=True, capture_output=True)
    subprocess.run(["openssl", "pkcs8", "-topk8", "-in", str(where / "a.key"), "-out", str(where / "enc.key"),
                    "-passout", "pass:x"], check=True, capture_output=True)
    # OpenSSL's legacy form: an EC PRIVATE KEY block with a Proc-Type: 4,ENCRYPTED header
    subprocess.run(["openssl", "ec", "-in", str(where / "a.key"), "-aes256", "-out", str(where / "legacy.key"),
                    "-passout", "pass:x"], check=True, capture_output=True)
    return {p.name: p for p in where.iterdir()}


def plugin(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# ------------------------------------------------------------------ 1. client certificate, two ways to log in


CERT_CASES = {
    "cert data not PEM": (lambda p: {"client-certificate-data": "aGVsbG8=", "client-key-data": b64(p["a.key"])},
                          "client-certificate-data is not a PEM certificate"),
    "cert file not PEM": (lambda p: {"client-certificate": str(p["a.key"]), "client-key": str(p["a.key"])},
                          "client-certificate {a_key} is not a PEM certificate"),
    "no key": (lambda p: {"client-certificate-data": b64(p["a.crt"])},
               "client-certificate-data is set but no client-key-data or client-key"),
    "key not PEM": (lambda p: {"client-certificate": str(p["a.crt"]), "client-key-data": "aGVsbG8="},
                    "client-key-data is not a PEM private key"),
    "key of another cert": (lambda p: {"client-certificate": str(p["a.crt"]), "client-key": str(p["b.key"])},
                            "client-key {b_key} is not the private key of its client-certificate {a_crt}"),
    "encrypted key": (lambda p: {"client-certificate": str(p["a.crt"]), "client-key": str(p["enc.key"])},
                      "client-key {enc_key} is an encrypted private key"),
    "legacy encrypted key": (lambda p: {"client-certificate": str(p["a.crt"]), "client-key": str(p["legacy.key"])},
                             "client-key {legacy_key} is an encrypted private key"),
    "token and username": (lambda p: {"token": "t", "username": "u", "password": "p"},
                           "both token and username are set"),
    "tokenFile and password": (lambda p: {"tokenFile": str(p["a.key"]), "password": "p"},
                               "both tokenFile and password are set"),
}


@pytest.mark.parametrize("args", LOADERS, ids=" ".join)
@pytest.mark.parametrize("case", list(CERT_CASES))
def test_1_a_user_kubectl_refuses_is_bad_input_naming_user_and_field(case: str, args: list[str], pems, tmp_path: Path,
                                                                     capsys, no_env) -> None:
    make, words = CERT_CASES[case]
    config = kubeconfig(tmp_path / "kc", make(pems))
    code, _, err = cli(capsys, "--kubeconfig", str(config), *args)
    line = one_line(err)
    expected = words.format(**{k.replace(".", "_"): v for k, v in pems.items()})
    assert code == 2 and line.startswith(f"Error: user me in kubeconfig {config}, context ctx: {expected}"), line
    assert "cannot reach" not in line and "; " in line, line
    assert "another context" not in line, line  # ctx is the kubeconfig's only context (pass 48, t47a 15)


def test_1_a_certificate_with_its_key_passes_to_the_cluster(pems, tmp_path: Path, capsys, no_env) -> None:
    for user in ({"client-certificate": str(pems["a.crt"]), "client-key": str(pems["a.key"])},
                 {"client-certificate-data": b64(pems["b.crt"]), "client-key-data": b64(pems["b.key"])}):
        config = kubeconfig(tmp_path / "kc", user)
        code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
        assert code == 1 and f"cannot reach the Kubernetes API at {DEAD} (" in one_line(err), err


def test_1_a_key_without_its_certificate_fix_is_a_kubectl_command(tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", {"client-certificate-data": "aGVsbG8="})
    _, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert f"`kubectl config set-credentials me --kubeconfig {config} --client-key=KEY.pem --embed-certs`" in err, err


def test_1_a_plugin_printing_a_certificate_that_does_not_load_is_a_plugin_failure(tmp_path: Path, capsys,
                                                                                  no_env) -> None:
    answer = {"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
              "status": {"clientCertificateData": "hello", "clientKeyData": "hello"}}
    script = plugin(tmp_path / "p30-cert", f"echo '{json.dumps(answer)}'\n")
    config = kubeconfig(tmp_path / "kc", {"exec": {"command": str(script), "apiVersion": answer["apiVersion"],
                                                "interactiveMode": "Never"}})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 1 and "printed a client certificate and key that do not load" in line, line


# ------------------------------------------------------------------ 2. installHint


def test_2_a_missing_plugin_s_install_hint_is_the_fix(tmp_path: Path, capsys, no_env) -> None:
    hint = "Install p30-auth-plugin for use with kubectl by following\nhttps://example.invalid/install."
    config = kubeconfig(tmp_path / "kc", {"exec": {"command": "p30-no-such-plugin", "installHint": hint,
                                                   "apiVersion": "client.authentication.k8s.io/v1beta1"}})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 2 and line.startswith("Error: exec: executable p30-no-such-plugin not found (user me in "), line
    assert "; Install p30-auth-plugin for use with kubectl by following https://example.invalid/install (its " \
        "installHint) (see " in line, line  # no other context to pass


# ------------------------------------------------------------------ 3. exec apiVersion


@pytest.mark.parametrize("version,words", [(None, "exec has no apiVersion"),
                                           ("client.authentication.k8s.io/v1alpha1",
                                            "exec apiVersion client.authentication.k8s.io/v1alpha1 is not one "
                                            "kubectl runs a plugin with (removed in Kubernetes 1.24)"),
                                           ("v1", "exec apiVersion v1 is not one kubectl runs a plugin with")])
def test_3_an_exec_apiversion_kubectl_does_not_run_is_bad_input(version, words: str, tmp_path: Path, capsys,
                                                               no_env) -> None:
    ran = tmp_path / "ran"
    script = plugin(tmp_path / "p30-plugin", f"touch {ran}\necho '{{}}'\n")
    config = kubeconfig(tmp_path / "kc", {"exec": {"command": str(script),
                                                   **({"apiVersion": version} if version else {})}})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 2 and f"user me in kubeconfig {config}, context ctx: {words}" in line, line
    assert "set its apiVersion: client.authentication.k8s.io/v1 (or client.authentication.k8s.io/v1beta1" in line
    assert not ran.exists()  # refused before it is run


# ------------------------------------------------------------------ 4. KUBECONFIG with an empty entry


@pytest.mark.parametrize("value", ["{a}::{b}", "{a}:{missing}:{b}", "{a}:{b}"])
def test_4_a_kubeconfig_list_is_named_whole_as_the_variable_s(value: str, tmp_path: Path, capsys, monkeypatch,
                                                            no_env) -> None:
    monkeypatch.chdir(tmp_path)  # short names: a long value is shown cut
    kubeconfig(tmp_path / "a.yaml", {"token": "t"})
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config",
                                                     "users": [{"name": "other", "user": {}}]}))
    shown = value.format(a="a.yaml", b="b.yaml", missing="missing.yaml")
    monkeypatch.setenv("KUBECONFIG", shown)
    code, _, err = cli(capsys, "status")
    line = one_line(err)
    assert code == 1 and f"(connection refused; kubeconfig {shown} (from $KUBECONFIG), context ctx)" in line, line


# ------------------------------------------------------------------ 5. a server without a scheme


def test_5_a_server_without_a_scheme_and_no_credentials_is_http(tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", {}, server="127.0.0.1:1")
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert code == 1 and "cannot reach the Kubernetes API at http://127.0.0.1:1 (" in one_line(err), err


@pytest.mark.parametrize("user,cluster", [
    ({"token": "t"}, {}),
    ({"username": "u", "password": "p"}, {}),
    ({"token": "t"}, {"insecure-skip-tls-verify": True}),
    ({}, {"certificate-authority-data": "CA"}),
    ({"client-certificate-data": "CERT"}, {}),
    ({"token": "t"}, {"tls-server-name": "api"})])
def test_5_a_server_without_a_scheme_gets_kubectls_scheme(user: dict, cluster: dict, pems,
                                                          tmp_path: Path, capsys, no_env) -> None:
    """kubectl's scheme for it is http whatever the TLS settings (clientcmd judges the
    transport from the server alone before it takes them; seen with kubectl 1.34); nothing
    refused for it."""
    cluster = {k: b64(pems["b.crt"]) if v == "CA" else v for k, v in cluster.items()}
    user = {k: b64(pems["b.crt"]) if v == "CERT" else v for k, v in user.items()}
    if "client-certificate-data" in user:
        user["client-key-data"] = b64(pems["b.key"])
    config = kubeconfig(tmp_path / "kc", user, server="127.0.0.1:1", **cluster)
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert code == 1 and "cannot reach the Kubernetes API at http://127.0.0.1:1 (" in one_line(err), err
