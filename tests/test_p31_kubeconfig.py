"""Issue 14, pass 31 (new-user tester, kubectl user): the kubeconfig as kubectl reads it.
Field types checked before connecting (a quoted "false" never turns TLS verification off,
a string of args is not split per character), exec interactiveMode as kubectl takes it, a
tokenFile's trailing newline trimmed (a token that still cannot be a header: one line, no
traceback), the user's impersonation (as, as-groups, as-uid, as-user-extra) sent on every
request, a CA with insecure-skip-tls-verify refused, HTTPS_PROXY never used for a loopback
server, a credential plugin's children stopped with it, a password in the server URL
masked, two entries of one name refused by name.

Real parts: kmeshctl.cli.main in-process, a loopback HTTPS server that records each
request's headers (the stand-in's certificate: kubectl sends no credentials to an http://
server), real exec plugins (shell scripts in tmp_path), real subprocesses."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from standin import tls
from test_cli_kinds import cli, no_env  # noqa: F401
from test_cli_malformed_answers import _ByPath
from test_p30_kubeconfig import kubeconfig, plugin

DEAD = "https://127.0.0.1:1"  # loopback port 1: nothing listens
NOISE = ("ERROR:root", "WARNING:", "Traceback", "Retrying", "ValueError")
VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"}
ANSWERS = {"/version": VERSION, "/api": {"kind": "APIVersions", "versions": ["v1"]},
           "/apis": {"kind": "APIGroupList", "groups": []},
           "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
               {"name": "namespaces", "kind": "Namespace", "namespaced": False, "verbs": ["get", "list"]},
               {"name": "pods", "kind": "Pod", "namespaced": True, "verbs": ["get", "list"]}]}}


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and not any(n in err for n in NOISE), err
    return lines[0]


class _Answers(dict):
    """_ByPath's answers: /version and discovery (ANSWERS), `{"items": []}` elsewhere."""

    def get(self, path: str, default: object = None) -> tuple[int, bytes, str]:  # type: ignore[override]
        body = ANSWERS.get(path, {"kind": "List", "apiVersion": "v1", "items": []})
        return 200, json.dumps(body).encode(), "application/json"


class _Recorder(_ByPath):
    """_ByPath answering _Answers, keeping each request's headers."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.seen.append(self.headers)  # type: ignore[attr-defined]
        super().do_GET()


@pytest.fixture
def api() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
    server.seen, server.answers = [], _Answers()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def url(server: http.server.ThreadingHTTPServer, host: str = "127.0.0.1") -> str:
    return f"https://{host}:{server.server_address[1]}"


def trusted() -> dict[str, str]:
    """The cluster fields that trust the `api` recorder's certificate."""
    return {"certificate-authority-data": tls.ca_data()}


def v1_exec(command: Path, **more: object) -> dict:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(command),
                     "interactiveMode": "Never", **more}}


# ------------------------------------------------------------------ 1. field types, interactiveMode


TYPE_CASES = {
    "insecure quoted false": ({"token": "t"}, {"insecure-skip-tls-verify": "false"},
                              'insecure-skip-tls-verify is the quoted text false, not true/false'),
    "insecure quoted no": ({"token": "t"}, {"insecure-skip-tls-verify": "no"},
                           "insecure-skip-tls-verify is the quoted text no, not true/false"),
    "insecure number": ({"token": "t"}, {"insecure-skip-tls-verify": 1},
                        "insecure-skip-tls-verify is the number 1, not true/false"),
    "token number": ({"token": 123}, {}, "token is a number, not text"),
    "as-groups text": ({"token": "t", "as": "u", "as-groups": "admins"}, {}, "as-groups is text, not a list of text"),
    "as-user-extra list": ({"token": "t", "as": "u", "as-user-extra": ["x"]}, {},
                           "as-user-extra is a list, not a mapping of lists of text"),
    "exec args text": ("args", {}, "exec: args is text, not a list of text"),
    "exec interactiveMode Sometimes": ("Sometimes", {}, 'exec interactiveMode Sometimes is not one kubectl takes'),
    "v1 exec without interactiveMode": ("no mode", {}, "exec has no interactiveMode (kubectl requires it"),
    "exec env value number": ("env", {}, "an entry of exec env has a name or value that is not text"),
}


@pytest.mark.parametrize("user,cluster,words", TYPE_CASES.values(), ids=list(TYPE_CASES))
def test_a_field_of_the_wrong_type_is_refused_before_connecting(user, cluster, words, tmp_path, capsys, no_env) -> None:
    ran = tmp_path / "ran"
    script = plugin(tmp_path / "cred", f"touch {ran}\necho '{{}}'\n")
    if user == "args":
        user = v1_exec(script, args="--region us")
    elif user == "Sometimes":
        user = v1_exec(script, interactiveMode="Sometimes")
    elif user == "no mode":
        user = v1_exec(script)
        del user["exec"]["interactiveMode"]
    elif user == "env":
        user = v1_exec(script, env=[{"name": "N", "value": 5}])
    path = kubeconfig(tmp_path / "kc", user, **cluster)
    for args in (["status"], ["version", "-o", "json"]):
        code, _, err = cli(capsys, "--kubeconfig", str(path), *args)
        line = one_line(err)
        assert code == 2 and words in line and str(path) in line and ("user me" in line or "cluster cl" in line), line
        assert "cannot reach" not in line
    assert not ran.exists()


def test_a_quoted_false_never_turns_verification_off(tmp_path, capsys, no_env) -> None:
    """The security flag from a string: refused even where the server would answer."""
    path = kubeconfig(tmp_path / "kc", {"token": "t"}, **{"insecure-skip-tls-verify": "false"})
    code, _, err = cli(capsys, "--kubeconfig", str(path), "status")
    assert code == 2 and "insecure-skip-tls-verify is the quoted text false, not true/false" in one_line(err)
    assert "write insecure-skip-tls-verify as true or false (unquoted) in the kubeconfig" in err


def test_interactive_mode_always_without_a_terminal_does_not_run_the_plugin(tmp_path, capsys, no_env,
                                                                             monkeypatch) -> None:
    ran = tmp_path / "ran"
    script = plugin(tmp_path / "cred", f"touch {ran}\necho '{{}}'\n")
    path = kubeconfig(tmp_path / "kc", v1_exec(script, interactiveMode="Always"))
    code, _, err = cli(capsys, "--kubeconfig", str(path), "status")
    line = one_line(err)
    assert code == 1 and "interactiveMode: Always, but standard input is not a terminal" in line, line
    assert not ran.exists()


# ------------------------------------------------------------------ 2. tokens with a newline


def test_a_token_file_ending_in_a_newline_is_trimmed(api, tmp_path, capsys, no_env) -> None:
    token = tmp_path / "token"
    token.write_text("filetoken\n")
    path = kubeconfig(tmp_path / "kc", {"tokenFile": str(token)}, url(api), **trusted())
    _, _, err = cli(capsys, "--kubeconfig", str(path), "version", "-o", "json")
    assert api.seen and "Traceback" not in err and "cannot reach" not in err, err
    assert all(headers["Authorization"] == "Bearer filetoken" for headers in api.seen)


def test_an_inline_token_with_a_newline_is_one_line_of_bad_input(api, tmp_path, capsys, no_env) -> None:
    path = kubeconfig(tmp_path / "kc", {"token": "inline\n"}, url(api), **trusted())
    for args in (["status"], ["version", "-o", "json"]):
        code, _, err = cli(capsys, "--kubeconfig", str(path), *args)
        line = one_line(err)
        assert code == 2 and "token cannot be sent in the Authorization header (it has a line break)" in line, line
    assert not api.seen


def test_a_plugin_token_with_a_newline_is_one_line(api, tmp_path, capsys, no_env) -> None:
    answer = {"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
              "status": {"token": "plug\ntoken"}}
    script = plugin(tmp_path / "cred", f"cat <<'EOF'\n{json.dumps(answer)}\nEOF\n")
    path = kubeconfig(tmp_path / "kc", v1_exec(script), url(api), **trusted())
    code, _, err = cli(capsys, "--kubeconfig", str(path), "version", "-o", "json")
    line = one_line(err)
    assert code == 1 and "status.token that cannot be sent in the Authorization header" in line, line
    assert not api.seen


# ------------------------------------------------------------------ 3. impersonation


IMPERSONATE = {"token": "t", "as": "jane", "as-groups": ["devs", "ops"], "as-uid": "42",
               "as-user-extra": {"scopes": ["view", "edit"], "a/b": ["c"]}}


def _impersonated(headers) -> None:
    assert headers["Impersonate-User"] == "jane" and headers["Impersonate-Uid"] == "42"
    assert headers.get_all("Impersonate-Group") == ["devs", "ops"]
    assert headers.get_all("Impersonate-Extra-scopes") == ["view", "edit"]
    assert headers.get_all("Impersonate-Extra-a%2Fb") == ["c"]
    assert headers["Authorization"] == "Bearer t"


def test_impersonation_of_the_user_is_sent_on_every_request(api, tmp_path, capsys, no_env) -> None:
    path = kubeconfig(tmp_path / "kc", IMPERSONATE, url(api), **trusted())
    _, _, err = cli(capsys, "--kubeconfig", str(path), "version", "-o", "json")
    assert len(api.seen) > 1, err  # /version, /api, /apis ...
    for headers in api.seen:
        _impersonated(headers)


def test_impersonation_goes_through_the_typed_client_too(api, tmp_path, no_env) -> None:
    from kmeshctl import kube

    path = kubeconfig(tmp_path / "kc", IMPERSONATE, url(api), **trusted())
    kube.core_v1_api(kube.KubeTarget(str(path))).list_namespace()
    _impersonated(api.seen[-1])


def test_groups_without_a_user_to_impersonate_are_refused(tmp_path, capsys, no_env) -> None:
    path = kubeconfig(tmp_path / "kc", {"token": "t", "as-groups": ["devs"]})
    code, _, err = cli(capsys, "--kubeconfig", str(path), "status")
    assert code == 2 and "as-uid, as-groups or as-user-extra is set without as" in one_line(err)


# ------------------------------------------------------------------ 4. CA and insecure together


@pytest.mark.parametrize("ca", [{"certificate-authority-data": "aGVsbG8="}, {"certificate-authority": "/etc/hostname"}])
def test_a_ca_with_insecure_skip_tls_verify_is_refused(ca, tmp_path, capsys, no_env) -> None:
    path = kubeconfig(tmp_path / "kc", {"token": "t"}, **{"insecure-skip-tls-verify": True, **ca})
    code, _, err = cli(capsys, "--kubeconfig", str(path), "status")
    line = one_line(err)
    assert code == 2 and "specifying a root certificates file with the insecure flag is not allowed" in line, line


# ------------------------------------------------------------------ 5. no environment proxy for loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_environment_proxy_is_not_used_for_a_loopback_server(host, api, tmp_path, capsys, no_env,
                                                                 monkeypatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:1")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    path = kubeconfig(tmp_path / "kc", {"token": "t"}, url(api, host), **trusted())
    _, _, err = cli(capsys, "--kubeconfig", str(path), "version", "-o", "json")
    assert api.seen and "through proxy" not in err and "cannot reach" not in err, err


def test_a_kubeconfig_proxy_url_is_still_used_for_loopback(api, tmp_path, capsys, no_env) -> None:
    path = kubeconfig(tmp_path / "kc", {"token": "t"}, url(api), **trusted(),
                      **{"proxy-url": "http://127.0.0.1:1"})
    code, _, err = cli(capsys, "--kubeconfig", str(path), "version", "-o", "json")
    assert code == 1 and "through proxy http://127.0.0.1:1" in err and not api.seen


# ------------------------------------------------------------------ 6. a plugin's children stopped with it


RUNNER = """
import os, signal, sys, threading, time
from kmeshctl import kube
mode, script = sys.argv[1], sys.argv[2]
def run():
    try:
        kube._run_bounded([script], dict(os.environ), 60, False)
    except KeyboardInterrupt:
        pass
if mode == "thread":  # shell completion: the lookup thread is given up, the process exits
    threading.Thread(target=run, daemon=True).start()
    time.sleep(1.0)
    sys.exit(0)
def stop(*_):
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, stop)
threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
run()
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ")[1].startswith("Z")
    except OSError:
        return True


@pytest.mark.parametrize("mode", ["thread", "signal"])
def test_a_plugins_children_are_stopped_with_it(mode, tmp_path) -> None:
    pidfile = tmp_path / "pid"
    script = plugin(tmp_path / "cred", f"sleep 1000 &\necho $! > {pidfile}\nwait\n")
    subprocess.run([sys.executable, "-c", RUNNER, mode, str(script)], cwd=Path(__file__).parents[1], timeout=30,
                   check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert _gone(pid), f"sleep {pid} left running"
    finally:
        if not _gone(pid):
            os.kill(pid, 9)


# ------------------------------------------------------------------ 7. a password in the server URL


def test_a_password_in_the_server_url_is_never_shown(tmp_path, capsys, no_env) -> None:
    path = kubeconfig(tmp_path / "kc", {"token": "t"}, "http://admin:s3cret@127.0.0.1:1")
    for args in (["status"], ["version", "-o", "json"], ["precheck", "-o", "json"]):
        code, out, err = cli(capsys, "--kubeconfig", str(path), *args)
        assert code != 0 and "s3cret" not in out + err, (args, out, err)
        assert "admin:xxxxx@127.0.0.1:1" in out + err, (args, out, err)


def test_masked_url() -> None:
    from kmeshctl.kube import masked_url

    assert masked_url("https://a:b@h:1/p@q") == "https://a:xxxxx@h:1/p@q"
    assert masked_url("https://a@h:1") == "https://a@h:1"
    assert masked_url("https://h:1") == "https://h:1"


# ------------------------------------------------------------------ 8. two entries of one name


@pytest.mark.parametrize("section", ["contexts", "clusters", "users"])
def test_two_entries_of_one_name_are_named(section, tmp_path, capsys, no_env) -> None:
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "a",
              "clusters": [{"name": "a", "cluster": {"server": DEAD}}],
              "contexts": [{"name": "a", "context": {"cluster": "a", "user": "a"}}],
              "users": [{"name": "a", "user": {"token": "t"}}]}
    config[section].append(config[section][0])
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(config))
    code, _, err = cli(capsys, "--kubeconfig", str(path), "status")
    line = one_line(err)
    assert code == 2 and f"it has two {section} named a" in line and "remove or rename one of them" in line, line


def test_impersonation_goes_with_a_port_forward(api, tmp_path, no_env) -> None:
    """The WebSocket upgrade (dump config --pod's port-forward) carries the headers too."""
    from kubernetes.stream import portforward

    from kmeshctl import kube

    path = kubeconfig(tmp_path / "kc", IMPERSONATE, url(api), **trusted())
    core = kube.core_v1_api(kube.KubeTarget(str(path)))
    with pytest.raises(Exception):  # the recorder answers no upgrade
        portforward(core.connect_get_namespaced_pod_portforward, "pod", "ns", ports="15000")
    upgrade = api.seen[-1]
    assert upgrade["Upgrade"].lower() == "websocket"
    _impersonated(upgrade)
