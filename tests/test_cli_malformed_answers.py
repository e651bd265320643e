"""Answers from the outside that are not what kmeshctl expects (helper h65): what answers
at an agent admin port or a Kubernetes API server address is checked where it is read
("parse once at the door"), and a wrong answer is one stderr line with exit 1 - never a
Python traceback, never an HTML page pasted into the error.

Real parts: kmeshctl.cli.main in-process; real HTTP servers on free loopback ports
(http.server in a thread, each stopped after its test) answering per path."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Iterator

import pytest

from kmeshctl import config_dump
from kmeshctl.kube import body_line
from test_cli_cluster_errors import kubeconfig
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

CACHE = config_dump.CACHE_PATH
HTML_404 = (b'<!DOCTYPE HTML>\n<html lang="en">\n<head><title>Error response</title></head>\n<body>\n'
            b"<h1>Error response</h1>\n<p>Error code: 404</p>\n<p>Message: File not found.</p>\n</body>\n</html>\n")


class _ByPath(http.server.BaseHTTPRequestHandler):
    """Each GET answered with the server's (status, body, content type) for its path; 404 else."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?")[0]
        answers = self.server.answers  # type: ignore[attr-defined]
        status, body, kind = answers.get(path, (404, b"404 page not found\n", "text/plain"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator:
    """Start a loopback HTTP server (random free port) answering {path: (status, body, type)}."""
    started: list[http.server.ThreadingHTTPServer] = []

    def start(answers: dict[str, tuple[int, bytes, str]]) -> int:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ByPath)
        server.answers = answers  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server.server_address[1]

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def _one_line(code: int, err: str, expected_code: int = 1) -> str:
    assert code == expected_code, (code, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _json(data: object) -> tuple[int, bytes, str]:
    return 200, json.dumps(data).encode(), "application/json"


# ------------------------------------------------------------------ 1. a config dump of another shape


SERVICE = {"name": "a", "namespace": "default", "hostname": "a.default.svc.cluster.local",
           "addresses": ["10.96.0.10"], "ports": [{"service_port": 80, "target_port": 8080}]}

NOT_A_CACHE = {
    "not json": ((200, b"not json", "text/plain"), "no JSON"),
    "empty body": ((200, b"", "application/json"), "no JSON"),
    "other object": (_json({"foo": 1}), "no 'services' list"),
    "array": (_json([1, 2]), "a JSON array, not an object"),
    "no policies": (_json({"workloads": [], "services": []}), "no 'policies' list"),
    "services not a list": (_json({"services": 5, "workloads": [], "policies": []}), "no 'services' list"),
    "entry not an object": (_json({"services": [1], "workloads": [], "policies": []}),
                            "services[0] is a JSON number, not an object"),
    "addresses a string": (_json({"services": [{**SERVICE, "addresses": "10.0.0.1"}], "workloads": [],
                                  "policies": []}), "services[0].addresses is a JSON string"),
}


@pytest.mark.parametrize("output", ["table", "json", "yaml"])
@pytest.mark.parametrize("case", list(NOT_A_CACHE), ids=list(NOT_A_CACHE))
def test_dump_config_of_something_not_an_agent_is_one_line(case, output, serve, capsys, state_root,  # noqa: F811
                                                           no_env) -> None:  # noqa: F811
    answer, why = NOT_A_CACHE[case]
    port = serve({CACHE: answer})
    code, out, err = cli(capsys, "dump", "config", "--admin-port", str(port), "-o", output)
    line = _one_line(code, err)
    if why == "no JSON":  # it answered, and not as an agent: the port is another program's
        assert line == (f"Error: 127.0.0.1:{port} is not a kmeshctl node agent's admin port (it answered with no "
                        f"JSON to GET {CACHE}); pass the port the agent serves with --admin-port (a sandbox "
                        "agent's: `kmeshctl sandbox list -o wide`)"), line
        return
    assert line == (f"Error: agent admin 127.0.0.1:{port} did not answer as a kmesh agent ({why} in {CACHE}); "
                    f"check --admin-port, or the agent's version (`curl -s http://127.0.0.1:{port}/version`)"), line
    assert out == "", out


def test_fields_proto3_json_leaves_out_are_no_error(serve, capsys, state_root, no_env) -> None:  # noqa: F811
    """proto3 JSON omits empty fields: a service without addresses or ports, a workload
    without addresses, a policy without rules are shown, not refused."""
    dump = {"services": [{"name": "h", "namespace": "default", "hostname": "h.default.svc.cluster.local"}],
            "workloads": [{"uid": "Kubernetes//Pod/default/p", "name": "p"}],
            "policies": [{"name": "deny", "namespace": "default"}]}
    port = serve({CACHE: _json(dump)})
    code, out, err = cli(capsys, "dump", "config", "--admin-port", str(port))
    assert code == 0 and "Traceback" not in err, err
    assert "default/h.default.svc.cluster.local" in out and "Kubernetes//Pod/default/p" in out, out
    for output in ("json", "yaml"):
        code, out, err = cli(capsys, "dump", "config", "--admin-port", str(port), "-o", output)
        assert code == 0 and "h.default.svc.cluster.local" in out, err


# ------------------------------------------------------------------ 2. an HTTP error's body in one short line


def test_a_404_html_page_is_one_line_without_its_markup(serve, capsys, state_root, no_env) -> None:  # noqa: F811
    port = serve({CACHE: (404, HTML_404, "text/html")})
    code, _, err = cli(capsys, "dump", "config", "--admin-port", str(port))
    line = _one_line(code, err)
    assert line == (f"Error: 127.0.0.1:{port} is not a kmeshctl node agent's admin port (it answered 404 Not Found "
                    f"to GET {CACHE}); pass the port the agent serves with --admin-port (a sandbox agent's: "
                    "`kmeshctl sandbox list -o wide`)"), line


def test_a_text_error_body_gives_its_first_line_only(serve, capsys, state_root, no_env) -> None:  # noqa: F811
    port = serve({CACHE: (500, b"database on fire\n" + b"stack frame\n" * 20, "text/plain")})
    code, _, err = cli(capsys, "dump", "config", "--admin-port", str(port))
    line = _one_line(code, err)
    assert "answered 500 Internal Server Error: database on fire;" in line and "stack frame" not in line, line


def test_the_agents_own_json_error_is_kept(serve, capsys, state_root, no_env) -> None:  # noqa: F811
    port = serve({CACHE: (500, json.dumps({"error": "cache locked"}).encode(), "application/json")})
    code, _, err = cli(capsys, "dump", "config", "--admin-port", str(port))
    line = _one_line(code, err)
    assert line.endswith("answered 500 Internal Server Error: cache locked"), line  # its own words: no guess


def test_an_agent_without_the_endpoint_points_at_its_version(serve, capsys, state_root, no_env) -> None:  # noqa: F811
    port = serve({CACHE: (404, json.dumps({"error": f"no such endpoint {CACHE}"}).encode(), "application/json")})
    code, _, err = cli(capsys, "dump", "config", "--admin-port", str(port))
    line = _one_line(code, err)
    assert line.endswith(f"answered 404 Not Found: no such endpoint {CACHE}; check --admin-port, or the agent's "
                         f"version (`curl -s http://127.0.0.1:{port}/version`)"), line


@pytest.mark.parametrize("body,expected", [
    (HTML_404, ""), (b"", ""), (b"[1, 2]", ""), (b'{"message": "x\\n  y"}', "x y"),
    (b"first\nsecond", "first"), (b"a" * 500, "a" * 117 + "..."),
])
def test_body_line_is_short_one_line_text(body: bytes, expected: str) -> None:
    assert body_line(body) == expected


# ------------------------------------------------------------------ 3. a broken discovery document


VERSION = _json({"major": "1", "minor": "30", "gitVersion": "v1.30.2"})
API = _json({"kind": "APIVersions", "versions": ["v1"]})
APIS = _json({"kind": "APIGroupList", "groups": [{"name": "apps", "versions": [{"groupVersion": "apps/v1"}]}]})

BROKEN_DISCOVERY = {
    "groups a number": {"/apis": _json({"groups": 5})},
    "groups of numbers": {"/apis": _json({"groups": [5]})},
    "apis html": {"/apis": (200, b"<html><body>hello</body></html>", "text/html")},
    "apis 404": {"/apis": (404, b"404 page not found", "text/plain")},
    "api versions of numbers": {"/api": _json({"versions": [1, 2]})},
    "resources a string": {p: _json({"resources": "daemonsets"}) for p in ("/api/v1", "/apis/apps/v1")},
    "resource without kind": {p: _json({"resources": [{"name": "daemonsets"}]}) for p in ("/api/v1", "/apis/apps/v1")},
}


@pytest.mark.parametrize("command", [["status"], ["precheck"]], ids=" ".join)
@pytest.mark.parametrize("case", list(BROKEN_DISCOVERY), ids=list(BROKEN_DISCOVERY))
def test_broken_discovery_is_not_a_kubernetes_api_server(case, command, serve, tmp_path, capsys,
                                                         no_env) -> None:  # noqa: F811
    answers = {"/version": VERSION, "/api": API, "/apis": APIS,
               "/apis/apps/v1": _json({"resources": [{"name": "daemonsets", "kind": "DaemonSet",
                                                      "namespaced": True}]}),
               "/api/v1": _json({"resources": [{"name": n, "kind": k, "namespaced": ns} for n, k, ns in (
                   ("services", "Service", True), ("nodes", "Node", False), ("pods", "Pod", True),
                   ("namespaces", "Namespace", False))]}),
               **BROKEN_DISCOVERY[case]}
    port = serve(answers)
    config = kubeconfig(tmp_path / "h65.yaml", f"http://127.0.0.1:{port}")
    code, out, err = cli(capsys, "--kubeconfig", str(config), *command)
    assert "Traceback" not in err, err
    if not case.startswith("resource"):  # a broken /api or /apis: no kind is "not served"
        assert "does not serve" not in out + err, out + err
    if command == ["status"]:
        line = _one_line(code, err)
        assert f"http://127.0.0.1:{port} is not a Kubernetes API server" in line, line
    else:
        assert code == 1 and "is not a Kubernetes API server" in out + err, out + err


# ------------------------------------------------------------------ 4. a kind not served names the cluster and the fix


def test_a_kind_not_served_names_the_cluster_and_the_fix(serve, tmp_path) -> None:
    from kmeshctl.kube import KindNotServed, KubeClient, KubeTarget, connect

    port = serve({"/version": VERSION, "/api": API, "/apis": APIS,
                  "/apis/apps/v1": _json({"resources": []})})
    config = kubeconfig(tmp_path / "h65.yaml", f"http://127.0.0.1:{port}")
    client: KubeClient = connect(KubeTarget(str(config)))
    with pytest.raises(KindNotServed) as raised:
        client.kind("apps/v1", "DaemonSet")
    text = str(raised.value)
    assert text.startswith("the cluster does not serve DaemonSet (apps/v1; "), text
    assert str(config) in text and "kubectl api-resources" in text and "\n" not in text, text


def test_an_agent_pods_answer_is_checked_the_same_way() -> None:
    """--pod reads through a port-forward (kmeshctl.config_dump.fetch_from_pod), then the same check."""
    from kmeshctl.errors import KmeshctlError

    status, reason, body = config_dump._parse_http(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"foo\":1}")
    assert (status, reason) == (200, "OK")
    fix = config_dump.pod_fix("kmesh-h65", "kmesh-system")
    with pytest.raises(KmeshctlError) as raised:
        config_dump.checked(CACHE, body, "agent kmesh-system/kmesh-h65 (port 15200)", fix)
    assert str(raised.value).startswith("agent kmesh-system/kmesh-h65 (port 15200) did not answer as a kmesh agent "
                                        f"(no 'services' list in {CACHE}); check the pod is a kmesh agent"), raised
